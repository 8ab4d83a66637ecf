import { AppError } from '../../../lib/errors.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { BoundedQueue } from '../../../lib/realtime/bounded-queue.js';
import { publishTopic, subscribeTopic, type RealtimeEnvelope } from '../../../lib/realtime/topics.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { AuditEntry } from '../contract.js';

/**
 * Audit entries as they are stored, for admins watching live (topic `identity.audit`). Published
 * by the record-audit job after the write, so a subscriber sees what the trail holds; a retried job
 * may publish an entry again (same id).
 */
export async function publishAuditEntries(deps: Pick<SubgraphDeps, 'kv'>, entries: readonly AuditEntry[]) {
  await Promise.all(entries.map((entry) => publishTopic(deps.kv, 'identity.audit', entry.tenantId, entry))).catch(
    () => undefined,
  );
}

/**
 * Requires admin:security, like the audit log: a tenant's admins see its entries, a project's
 * caller its project's, the operator all. `actions`: only these actions.
 */
export async function subscribeAuditEntries({
  deps,
  principal,
  actions,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  actions: readonly string[] | null;
}): Promise<BoundedQueue<RealtimeEnvelope<AuditEntry>>> {
  requireScope(principal, 'admin:security');
  if (principal.tenantId === null && principal.projectId === null && principal.kind !== 'operator') {
    throw new AppError('FORBIDDEN', 'The audit log is readable only by a tenant, a project or the operator');
  }
  if (actions && actions.length > 50)
    throw new AppError('VALIDATION_ERROR', 'At most 50 actions', { field: 'actions' });
  const wanted = actions && actions.length > 0 ? new Set(actions) : null;
  const project = principal.tenantId === null ? principal.projectId : null;
  return subscribeTopic<AuditEntry>({
    kv: deps.kv,
    topic: 'identity.audit',
    tenantId: principal.tenantId,
    accept: (entry) =>
      (project === null || entry.projectId === project) && (wanted === null || wanted.has(entry.action)),
  });
}
