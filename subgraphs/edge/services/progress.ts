import { createHash } from 'node:crypto';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { BoundedQueue } from '../../../lib/realtime/bounded-queue.js';
import { subscribeChannel, subscriptionTenantScope } from '../../../lib/realtime/topics.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { emitWebhookEvent } from '../../../lib/webhooks.js';
import { DEPLOYMENT_PROGRESS_CHANNEL, type DeploymentProgressMessage } from '../contract.js';

/**
 * Rollout progress, as it happens: every message edge publishes on its progress channel (a device
 * state, a phase released, an abort, completion) reaches GraphQL subscribers of the deployment's
 * tenant and the tenant's webhook endpoints.
 */

export const EDGE_WEBHOOK_EVENT_TYPES = {
  device_state: 'edge.deployment.progress',
  phase_started: 'edge.deployment.progress',
  completed: 'edge.deployment.completed',
  aborted: 'edge.deployment.aborted',
} as const satisfies Record<DeploymentProgressMessage['type'], string>;

/**
 * Queues the outbound webhook of each progress message. The event id is derived from the message,
 * so a retried publish is delivered once (the emit job's id is the event id).
 */
export async function emitProgressWebhooks(deps: SubgraphDeps, events: readonly DeploymentProgressMessage[]) {
  await Promise.all(
    events.map((event) => {
      const digest = createHash('sha256').update(JSON.stringify(event)).digest('hex').slice(0, 32);
      return emitWebhookEvent(deps.jobs, {
        id: `edp_${digest}`,
        tenantId: event.tenant_id,
        type: EDGE_WEBHOOK_EVENT_TYPES[event.type],
        data: { ...event },
        createdAt: new Date(event.at),
      });
    }),
  );
}

/**
 * Requires read:edge. A caller bound to a tenant receives only its tenant's rollouts; the platform
 * operator may name a tenant or receive all. `deploymentId`: one rollout only.
 */
export async function subscribeDeploymentProgress({
  deps,
  principal,
  tenantId,
  deploymentId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId: string | null;
  deploymentId: string | null;
}): Promise<BoundedQueue<DeploymentProgressMessage>> {
  requireScope(principal, 'read:edge');
  const scope = subscriptionTenantScope(principal, tenantId);
  return subscribeChannel<DeploymentProgressMessage>({
    kv: deps.kv,
    channel: DEPLOYMENT_PROGRESS_CHANNEL,
    tenantOf: (message) => message.tenant_id,
    tenantId: scope,
    accept: (message) => deploymentId === null || message.deployment_id === deploymentId,
  });
}
