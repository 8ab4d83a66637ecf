import { builder } from '../builder.js';
import { databaseCatalog, type DatabaseEntry } from '../services/catalog/databases.js';
import { tenantOwnership, type TenantOwnership } from '../services/tenants/tenant-access.js';

const DatabaseEntryRef = builder.objectRef<DatabaseEntry>('TenantDatabaseCatalogEntry').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    name: t.exposeString('name'),
    kind: t.exposeString('kind', { description: 'tenant | blueprint' }),
    engine: t.exposeString('engine'),
    isolationLevel: t.exposeInt('isolationLevel'),
    status: t.exposeString('status'),
    sizeBytes: t.exposeFloat('sizeBytes', { nullable: true, description: 'null: not in this cluster' }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
  }),
});

builder.queryField('tenantDatabaseCatalog', (t) =>
  t.field({
    type: [DatabaseEntryRef],
    description: "Tenants' databases for the resource catalog. Edge's service principal only.",
    args: { tenantId: t.arg.id(), ids: t.arg.idList() },
    resolve: (_root, args, ctx) =>
      databaseCatalog({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        ids: args.ids?.map(String) ?? null,
      }),
  }),
);

const TenantOwnershipRef = builder.objectRef<TenantOwnership>('TenantOwnership').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    projectId: t.exposeID('projectId', { nullable: true }),
    suspended: t.exposeBoolean('suspended'),
  }),
});

builder.queryField('tenantOwnership', (t) =>
  t.field({
    type: TenantOwnershipRef,
    nullable: true,
    description: "Which project owns a tenant (id or slug). Telemetry's service principal only; null: no such tenant.",
    args: { tenant: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => tenantOwnership(ctx.deps, ctx.principal, String(args.tenant)),
  }),
);
