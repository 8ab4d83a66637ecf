import { requirePrincipal } from '../../../lib/principal.js';
import type { DeploymentProgressMessage } from '../contract.js';
import { builder } from '../builder.js';
import { DeploymentCountsRef } from './deployment.js';
import { subscribeDeploymentProgress } from '../services/progress.js';

builder.subscriptionType({});

const ProgressRef = builder.objectRef<DeploymentProgressMessage>('EdgeDeploymentProgress').implement({
  fields: (t) => ({
    type: t.exposeString('type', { description: 'device_state | phase_started | aborted | completed' }),
    deploymentId: t.exposeID('deployment_id'),
    tenantId: t.exposeID('tenant_id'),
    deviceId: t.exposeString('device_id', { nullable: true, description: "The device's own id (device_state)" }),
    state: t.exposeString('state', { nullable: true, description: 'The state the device reported (device_state)' }),
    attempt: t.exposeInt('attempt', { nullable: true }),
    deploymentStatus: t.exposeString('deployment_status', { description: 'in_progress | completed | aborted' }),
    currentPhase: t.exposeInt('current_phase'),
    counts: t.field({
      type: DeploymentCountsRef,
      description: 'Devices of the rollout per state when the change happened.',
      resolve: (m) => m.counts,
    }),
    at: t.field({ type: 'DateTime', resolve: (m) => new Date(m.at) }),
  }),
});

builder.subscriptionField('edgeDeploymentProgress', (t) =>
  t.field({
    type: ProgressRef,
    description:
      'OTA rollout progress as devices report it. Requires read:edge. A caller bound to a tenant receives ' +
      "only its tenant's rollouts; the operator may name a tenant or receive all. deploymentId: one rollout.",
    args: { deploymentId: t.arg.id(), tenantId: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      subscribeDeploymentProgress({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        deploymentId: args.deploymentId === null || args.deploymentId === undefined ? null : String(args.deploymentId),
      }),
    resolve: (message) => message,
  }),
);
