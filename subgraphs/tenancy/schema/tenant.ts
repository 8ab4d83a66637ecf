import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { tenancyLoaders } from '../services/loaders.js';
import {
  changeTenantLifecycle,
  createTenant,
  getTenant,
  hardDeleteTenant,
  listTenants,
  tenantStatusForGateway,
  type Tenant,
  type TenantAdminUser,
  type TenantProvisioning,
} from '../services/tenants/tenants.js';

export const TenantRef = builder.objectRef<Tenant>('Tenant').implement({
  description: 'An isolated environment inside a project, with its own Postgres schema.',
  fields: (t) => ({
    id: t.exposeID('id'),
    projectId: t.exposeID('projectId', { nullable: true }),
    name: t.exposeString('name'),
    slug: t.exposeString('slug', { description: "The caller-chosen id (tenantsdb's tenant_id)" }),
    schemaName: t.exposeString('schemaName'),
    domain: t.exposeString('domain', { nullable: true }),
    status: t.exposeString('status', { description: 'provisioning, active, suspended or deleted' }),
    isolationLevel: t.exposeInt('isolationLevel', { description: '1: a schema in the shared cluster; 2: a dedicated database' }),
    settings: t.field({ type: 'JSON', resolve: (tenant) => tenant.settings }),
    features: t.field({ type: 'JSON', resolve: (tenant) => tenant.features }),
    limits: t.field({
      type: 'JSON',
      description: 'users, storage_gb, api_calls_per_day (each optional)',
      resolve: (tenant) => tenant.limits,
    }),
    extensions: t.exposeStringList('extensions', { description: 'Extensions really enabled, as the server reported them' }),
    adminUserId: t.exposeID('adminUserId', { nullable: true }),
    storageBytes: t.float({
      description: "Bytes in the tenant schema's tables, indexes included, from the catalog",
      resolve: async (tenant, _args, ctx) => Number(await tenancyLoaders(ctx).storageBytes.load(tenant.schemaName)),
    }),
    suspendedAt: t.field({ type: 'DateTime', nullable: true, resolve: (tenant) => tenant.suspendedAt }),
    deletedAt: t.field({ type: 'DateTime', nullable: true, resolve: (tenant) => tenant.deletedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (tenant) => tenant.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (tenant) => tenant.updatedAt }),
  }),
});

builder.asEntity(TenantRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => getTenant({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: ref.id }),
});

const ProvisionedAdminRef = builder.objectRef<TenantAdminUser>('ProvisionedTenantAdmin').implement({
  description: "The tenant's first user, created by identity with the admin role.",
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    roles: t.exposeStringList('roles'),
  }),
});

const TenantProvisioningRef = builder.objectRef<TenantProvisioning>('TenantProvisioning').implement({
  fields: (t) => ({
    tenant: t.field({ type: TenantRef, resolve: (p) => p.tenant }),
    adminUser: t.field({ type: ProvisionedAdminRef, nullable: true, resolve: (p) => p.adminUser }),
    schemaCreated: t.exposeBoolean('schemaCreated'),
    migrationsApplied: t.exposeStringList('migrationsApplied', { description: 'Baseline versions applied' }),
    schemaVersion: t.exposeString('schemaVersion', { nullable: true }),
    extensionsEnabled: t.exposeStringList('extensionsEnabled', { description: 'Requested and present in pg_extension' }),
    extensionsMissing: t.exposeStringList('extensionsMissing', {
      description: 'Requested but not available on this server (or refused by it)',
    }),
  }),
});

builder.queryFields((t) => ({
  tenant: t.field({
    type: TenantRef,
    description: 'Requires read:tenants; a tenant-bound caller sees only its own tenant. id: the tenant id or its slug.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      getTenant({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: String(args.id) }),
  }),
  tenants: t.field({
    type: [TenantRef],
    description: 'Requires read:tenants. Active and suspended tenants.',
    args: { limit: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) =>
      listTenants({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), limit: args.limit ?? 50 }),
  }),
  tenantLifecycleStatus: t.string({
    nullable: true,
    description: "Internal: the gateway's own principal only. A tenant's status; null when there is no such tenant.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => tenantStatusForGateway({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
}));

const TenantAdminInput = builder.inputType('TenantAdminInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string({ required: true }),
    password: t.string({ required: true, description: "Checked against identity's password policy" }),
  }),
});

const TenantDatabaseInput = builder.inputType('TenantDatabaseInput', {
  fields: (t) => ({
    blueprint: t.string({ required: true }),
    isolationLevel: t.int({ description: '1: shared cluster (default); 2: dedicated database' }),
  }),
});

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  description: 'At least one of slug, schemaName, name.',
  fields: (t) => ({
    name: t.string({ description: 'Default: the slug' }),
    slug: t.string({
      description:
        "Lowercase letters, digits and dashes (tenantsdb's tenant_id). Default: from schemaName (acme_corp → acme-corp), else from name.",
    }),
    schemaName: t.string({
      description: 'The Postgres schema: lowercase letters, digits, underscores. Default: t_<slug>.',
    }),
    domain: t.string(),
    settings: t.field({ type: 'JSON' }),
    features: t.field({ type: 'JSON', description: 'Feature name → boolean' }),
    limits: t.field({ type: 'JSON', description: 'users, storage_gb, api_calls_per_day' }),
    extensions: t.stringList({ description: 'Postgres extensions to enable (CREATE EXTENSION IF NOT EXISTS)' }),
    adminUser: t.field({ type: TenantAdminInput, description: 'Created through identity with the admin role' }),
    databases: t.field({
      type: [TenantDatabaseInput],
      description: "Databases from blueprints, each at its blueprint's latest version; an unknown blueprint is NOT_FOUND and creates nothing.",
    }),
  }),
});

type CreateTenantArgs = typeof CreateTenantInput.$inferInput;

function toServiceInput(input: CreateTenantArgs) {
  return {
    ...input,
    settings: input.settings as Record<string, unknown> | null | undefined,
    features: input.features as Record<string, boolean> | null | undefined,
    limits: input.limits as never,
  };
}

builder.mutationFields((t) => ({
  provisionTenant: t.field({
    type: TenantProvisioningRef,
    description:
      'Requires write:tenants, by a caller not bound to a tenant. All or nothing: schema, role, baseline migrations, extensions, then the admin user through identity.',
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: (_root, args, ctx) =>
      createTenant({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: toServiceInput(args.input),
        requestId: ctx.requestId,
        logger: ctx.logger,
      }),
  }),
  createTenant: t.field({
    type: TenantRef,
    description: 'Requires write:tenants. provisionTenant, answering only the tenant.',
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: async (_root, args, ctx) =>
      (
        await createTenant({
          deps: ctx.deps,
          principal: requirePrincipal(ctx.principal),
          input: toServiceInput(args.input),
          requestId: ctx.requestId,
          logger: ctx.logger,
        })
      ).tenant,
  }),
  suspendTenant: t.field({
    type: TenantRef,
    description: "Requires write:tenants. The tenant's users are refused at the gateway (TENANT_SUSPENDED) until resumed.",
    args: { id: t.arg.id({ required: true, description: 'Tenant id or slug' }) },
    resolve: (_root, args, ctx) =>
      changeTenantLifecycle({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        id: String(args.id),
        action: 'suspend',
        logger: ctx.logger,
      }),
  }),
  resumeTenant: t.field({
    type: TenantRef,
    description: 'Requires write:tenants.',
    args: { id: t.arg.id({ required: true, description: 'Tenant id or slug' }) },
    resolve: (_root, args, ctx) =>
      changeTenantLifecycle({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        id: String(args.id),
        action: 'resume',
        logger: ctx.logger,
      }),
  }),
  deleteTenant: t.field({
    type: TenantRef,
    description:
      'Requires write:tenants. Soft by default (restorable); hard: true drops the schema, its role and the row for good.',
    args: {
      id: t.arg.id({ required: true, description: 'Tenant id or slug' }),
      hard: t.arg.boolean({ defaultValue: false }),
    },
    resolve: (_root, args, ctx) => {
      const principal = requirePrincipal(ctx.principal);
      const id = String(args.id);
      return args.hard
        ? hardDeleteTenant({ deps: ctx.deps, principal, id, logger: ctx.logger })
        : changeTenantLifecycle({ deps: ctx.deps, principal, id, action: 'delete', logger: ctx.logger });
    },
  }),
  restoreTenant: t.field({
    type: TenantRef,
    description: 'Requires write:tenants. Brings back a soft-deleted tenant (suspended again if it was).',
    args: { id: t.arg.id({ required: true, description: 'Tenant id or slug' }) },
    resolve: (_root, args, ctx) =>
      changeTenantLifecycle({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        id: String(args.id),
        action: 'restore',
        logger: ctx.logger,
      }),
  }),
}));
