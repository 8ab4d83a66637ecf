import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { subscribeTenancyProgress, type TenancyProgress } from '../services/progress.js';

builder.subscriptionType({});

const TenancyJobProgressRef = builder.objectRef<TenancyProgress>('TenancyJobProgress').implement({
  fields: (t) => ({
    kind: t.exposeString('kind', { description: 'backup | restore | isolation_change | data_import | blueprint_deployment' }),
    id: t.exposeID('id', { description: 'The backup, operation, import or deployment id' }),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    projectId: t.exposeID('projectId', { nullable: true }),
    status: t.exposeString('status', { description: 'running | completed | failed' }),
    progress: t.exposeInt('progress', { description: 'Percent done, 0 to 100' }),
    error: t.exposeString('error', { nullable: true }),
    at: t.field({ type: 'DateTime', resolve: (p) => new Date(p.at) }),
  }),
});

builder.subscriptionField('tenancyJobProgress', (t) =>
  t.field({
    type: TenancyJobProgressRef,
    description:
      "Progress of tenant backups, restores, isolation changes, data imports and blueprint deployments (the " +
      "rollout as a whole for its project and the operator; each target tenant's outcome for that tenant). Requires read:tenants; a tenant's " +
      "caller receives its tenant's jobs, a project's caller its project's, the operator all (or tenantId's).",
    args: { tenantId: t.arg.id(), id: t.arg.id(), kinds: t.arg.stringList() },
    subscribe: (_root, args, ctx) =>
      subscribeTenancyProgress({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        id: args.id === null || args.id === undefined ? null : String(args.id),
        kinds: args.kinds ?? null,
      }),
    resolve: (envelope) => envelope.data,
  }),
);
