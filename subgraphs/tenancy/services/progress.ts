import { requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { BoundedQueue } from '../../../lib/realtime/bounded-queue.js';
import { publishTopic, subscribeTopic, type RealtimeEnvelope } from '../../../lib/realtime/topics.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/**
 * Progress of tenancy's long jobs as it happens, on the platform bus (topic `tenancy.progress`):
 * tenant backups, restores and isolation changes (a tenant's), data imports (a workspace's, so its
 * project's), blueprint deployments (the rollout for its project, each target's outcome for that
 * tenant). The same figures the rows hold (`progress` 0–100, status); subscribers no longer poll.
 */

export const TENANCY_JOB_KINDS = [
  'backup',
  'restore',
  'isolation_change',
  'data_import',
  'blueprint_deployment',
] as const;
export type TenancyJobKind = (typeof TENANCY_JOB_KINDS)[number];

export interface TenancyProgress {
  kind: TenancyJobKind;
  id: string;
  /** The tenant the job works on; null for a workspace's job (data import) and a whole blueprint rollout. */
  tenantId: string | null;
  /** The project that owns the tenant or workspace, when it has one. */
  projectId: string | null;
  status: 'running' | 'completed' | 'failed';
  progress: number;
  error: string | null;
  at: string;
}

/** Never fails the job: the row stays the record, a lost progress message only delays a subscriber. */
export async function publishTenancyProgress(
  deps: SubgraphDeps,
  message: Omit<TenancyProgress, 'at' | 'error'> & { error?: string | null },
): Promise<void> {
  await publishTopic(deps.kv, 'tenancy.progress', message.tenantId, {
    ...message,
    error: message.error ?? null,
    at: new Date().toISOString(),
  } satisfies TenancyProgress).catch(() => undefined);
}

/**
 * Requires read:tenants. A caller bound to a tenant receives its tenant's jobs; a project's caller
 * receives the jobs of its project's tenants and workspaces; the platform operator receives all
 * (or one tenant's). `id`: one job only; `kinds`: only these kinds.
 */
export async function subscribeTenancyProgress({
  deps,
  principal,
  tenantId,
  id,
  kinds,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId: string | null;
  id: string | null;
  kinds: readonly string[] | null;
}): Promise<BoundedQueue<RealtimeEnvelope<TenancyProgress>>> {
  requireScope(principal, 'read:tenants');
  const operator = principal.kind === 'operator' && principal.tenantId === null;
  const tenant = principal.tenantId !== null ? tenantScopeFor(principal, tenantId) : tenantId;
  const project = operator || principal.tenantId !== null ? null : principal.projectId;
  if (!operator && principal.tenantId === null && project === null) {
    // Neither bound to a tenant nor to a project: nothing of anyone's is this caller's to see.
    tenantScopeFor(principal, tenantId);
  }
  const wanted = kinds && kinds.length > 0 ? new Set(kinds) : null;
  return subscribeTopic<TenancyProgress>({
    kv: deps.kv,
    topic: 'tenancy.progress',
    // A tenant-bound caller: the bus drops every other tenant's message before `accept` runs.
    tenantId: principal.tenantId !== null ? tenant : null,
    accept: (message) => {
      if (project !== null && message.projectId !== project) return false;
      if (tenant !== null && message.tenantId !== tenant) return false;
      if (id !== null && message.id !== id) return false;
      return wanted === null || wanted.has(message.kind);
    },
  });
}
