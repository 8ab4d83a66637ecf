import { builder } from '../builder.js';
import { getTenantOperation, type TenantOperation } from '../services/operations/backups.js';
import { requestIsolationChange } from '../services/tenants/isolation.js';

export const TenantOperationRef = builder.objectRef<TenantOperation>('TenantOperation').implement({
  description: 'A long-running tenant operation run as a job: a restore (rollback) or an isolation level change.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    kind: t.exposeString('kind', { description: 'restore | isolation_change' }),
    status: t.exposeString('status', { description: 'pending | running | completed | failed' }),
    progress: t.exposeInt('progress', { description: 'Percent done, 0 to 100' }),
    input: t.field({ type: 'JSON', resolve: (op) => op.input }),
    result: t.field({ type: 'JSON', resolve: (op) => op.result }),
    error: t.exposeString('error', { nullable: true }),
    jobId: t.exposeString('jobId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (op) => op.createdAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (op) => op.completedAt }),
  }),
});

builder.queryField('tenantOperation', (t) =>
  t.field({
    type: TenantOperationRef,
    description: 'Requires read:tenants; only the caller’s own tenants.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getTenantOperation({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
);

builder.mutationField('changeTenantIsolation', (t) =>
  t.field({
    type: TenantOperationRef,
    description:
      'Requires write:tenants. Moves the tenant to isolation level 1 (a schema in the shared cluster) or 2 (a dedicated database) as a job. Level 2 needs real PostgreSQL: on the embedded database it answers NOT_CONFIGURED.',
    args: {
      tenantId: t.arg.id({ required: true, description: 'The tenant id or its tenant_id (slug)' }),
      isolationLevel: t.arg.int({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      requestIsolationChange({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: String(args.tenantId),
        input: { isolationLevel: args.isolationLevel as 1 | 2 },
      }),
  }),
);
