import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  getBlueprint,
  listBlueprints,
  listBlueprintVersions,
  publishBlueprint,
  type BlueprintDetail,
  type BlueprintSummary,
  type BlueprintVersionView,
} from '../services/blueprints/blueprints.js';
import { maySeeConnectionSecrets } from '../services/tenants/connection-secrets.js';
import { blueprintConnectionString, type TenantDatabase } from '../services/blueprints/tenant-databases-blueprint.js';
import { tenancyLoaders } from '../services/loaders.js';
import { TenantRef } from './tenant.js';

export const BlueprintVersionRef = builder.objectRef<BlueprintVersionView>('BlueprintVersion').implement({
  description: 'An immutable snapshot of a blueprint: its whole schema and the changes since the previous version.',
  fields: (t) => ({
    id: t.exposeID('id', { description: '<project>_<name>_v<major>_<minor>' }),
    version: t.exposeString('version', { description: '1.0, 1.1, …' }),
    ddl: t.exposeString('ddl', { description: 'The whole schema: what a new tenant database starts from' }),
    snapshot: t.field({ type: 'JSON', description: 'Tables, columns and indexes when published', resolve: (v) => v.snapshot }),
    changes: t.field({ type: 'JSON', description: 'The captured statements since the previous version', resolve: (v) => v.changes }),
    statements: t.exposeStringList('statements', { description: 'What a deployment applies to a database on the previous version' }),
    checksum: t.exposeString('checksum', { description: 'sha256 of ddl, hex' }),
    deployedTo: t.exposeStringList('deployedTo', { description: 'Tenant ids whose database is at this version' }),
    createdAt: t.field({ type: 'DateTime', resolve: (v) => v.createdAt }),
  }),
});

const BlueprintRef = builder.objectRef<BlueprintSummary>('Blueprint').implement({
  description: "A workspace's schema design, published as versions and rolled out to tenant databases.",
  fields: (t) => ({
    id: t.exposeID('id', { description: "The latest version's id" }),
    blueprintId: t.exposeID('blueprintId'),
    name: t.exposeString('name'),
    version: t.exposeString('version', { nullable: true, description: 'The latest version' }),
    workspaceId: t.exposeString('workspaceId', { nullable: true }),
    databaseType: t.exposeString('databaseType'),
    projectId: t.exposeID('projectId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
    deployedTo: t.exposeStringList('deployedTo', { description: 'Tenant ids with a database from this blueprint' }),
  }),
});

const BlueprintDetailRef = builder.objectRef<BlueprintDetail>('BlueprintDetail').implement({
  description: 'A blueprint with its latest version (the schema).',
  fields: (t) => ({
    blueprint: t.field({ type: BlueprintRef, resolve: (b) => b }),
    latest: t.field({ type: BlueprintVersionRef, nullable: true, resolve: (b) => b.latest }),
  }),
});

const PublishedBlueprintRef = builder
  .objectRef<BlueprintVersionView & { blueprint: { name: string } }>('PublishedBlueprint')
  .implement({
    fields: (t) => ({
      blueprint: t.string({ resolve: (p) => p.blueprint.name }),
      version: t.field({ type: BlueprintVersionRef, resolve: (p) => p }),
    }),
  });

const TenantDatabaseRef = builder.objectRef<TenantDatabase & { blueprintName?: string }>('TenantDatabase').implement({
  description: "A tenant's database made from a blueprint (<blueprint>__<tenant>), with a login role of its own.",
  fields: (t) => ({
    id: t.exposeID('id'),
    blueprint: t.string({
      resolve: async (d, _args, ctx) =>
        d.blueprintName ?? (await tenancyLoaders(ctx).blueprintName.load(d.blueprintId)) ?? d.blueprintId,
    }),
    databaseType: t.exposeString('databaseType'),
    isolationLevel: t.exposeInt('isolationLevel'),
    databaseName: t.exposeString('databaseName', { description: '<blueprint>__<tenant>' }),
    schemaName: t.exposeString('schemaName', { description: 'The Postgres schema it lives in (level 1)' }),
    version: t.exposeString('version', { nullable: true, description: 'The blueprint version applied' }),
    status: t.exposeString('status'),
    connectionString: t.string({
      nullable: true,
      description:
        'For a plain PostgreSQL client, as the database’s own role. The password only for callers with write:tenants, masked (********) for others. Null on the embedded database (no direct connections) and for tenant-bound callers.',
      resolve: (d, _args, ctx) =>
        ctx.principal && ctx.principal.tenantId === null
          ? blueprintConnectionString(ctx.deps, d, maySeeConnectionSecrets(ctx.principal))
          : null,
    }),
  }),
});

builder.objectField(TenantRef, 'databases', (t) =>
  t.field({
    type: [TenantDatabaseRef],
    description: 'Databases made from blueprints',
    resolve: (tenant, _args, ctx) => tenancyLoaders(ctx).databasesByTenant.load(tenant.id),
  }),
);

builder.queryFields((t) => ({
  blueprints: t.field({
    type: [BlueprintRef],
    description: "Requires read:tenants. The caller's project's blueprints.",
    resolve: (_root, _args, ctx) => listBlueprints({ deps: ctx.deps, principal: requirePrincipal(ctx.principal) }),
  }),
  blueprint: t.field({
    type: BlueprintDetailRef,
    description: 'Requires read:tenants. A blueprint by name with its latest schema.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      getBlueprint({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), name: args.name }),
  }),
  blueprintVersions: t.field({
    type: [BlueprintVersionRef],
    description: 'Requires read:tenants. Newest first.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      listBlueprintVersions({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), name: args.name }),
  }),
}));

builder.mutationFields((t) => ({
  publishBlueprint: t.field({
    type: PublishedBlueprintRef,
    description:
      "Requires write:tenants. Snapshots the workspace's schema as the next version of its blueprint (1.0, then 1.1, …) and marks its pending changes deployed.",
    args: { workspaceId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      publishBlueprint({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        workspaceId: String(args.workspaceId),
      }),
  }),
}));
