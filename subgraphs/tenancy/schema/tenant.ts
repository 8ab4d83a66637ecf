import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { createTenant, getTenant, listTenants, type Tenant } from '../services/tenants.js';

const TenantRef = builder.objectRef<Tenant>('Tenant').implement({
  description: 'An isolated environment inside a project, with its own Postgres schema.',
  fields: (t) => ({
    id: t.exposeID('id'),
    projectId: t.exposeID('projectId', { nullable: true }),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    schemaName: t.exposeString('schemaName'),
    status: t.exposeString('status'),
    isolationLevel: t.exposeInt('isolationLevel', { description: '1: a schema in the shared cluster; 2: a dedicated database' }),
    settings: t.field({ type: 'JSON', resolve: (tenant) => tenant.settings }),
    createdAt: t.field({ type: 'DateTime', resolve: (tenant) => tenant.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (tenant) => tenant.updatedAt }),
  }),
});

builder.asEntity(TenantRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => getTenant({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: ref.id }),
});

builder.queryFields((t) => ({
  tenant: t.field({
    type: TenantRef,
    description: 'Requires read:tenants; a tenant-bound caller sees only its own tenant.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      getTenant({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: String(args.id) }),
  }),
  tenants: t.field({
    type: [TenantRef],
    description: 'Requires read:tenants.',
    args: { limit: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) =>
      listTenants({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), limit: args.limit ?? 50 }),
  }),
}));

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    slug: t.string({ required: true, description: 'Lowercase letters, digits and dashes; names the Postgres schema.' }),
  }),
});

builder.mutationField('createTenant', (t) =>
  t.field({
    type: TenantRef,
    description: 'Requires write:tenants. Creates the tenant and its Postgres schema in one transaction.',
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: (_root, args, ctx) =>
      createTenant({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), input: args.input }),
  }),
);
