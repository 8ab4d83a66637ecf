import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { countTenantUsers } from '../services/tenant-admin.js';
import { createUser, listTenantUsers, type User } from '../services/users.js';

export const UserRef = builder.objectRef<User>('User').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId', { nullable: true, description: 'Null for project owners, who belong to no tenant' }),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    roles: t.exposeStringList('roles'),
    status: t.exposeString('status'),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.createdAt }),
  }),
});

builder.asEntity(UserRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: async (ref, ctx) => {
    const user = await ctx.deps.db.prisma.user.findUnique({ where: { id: ref.id } });
    if (!user || user.tenantId !== (ctx.principal?.tenantId ?? user.tenantId)) return null;
    return user;
  },
});

// Tenant is owned by tenancy; identity contributes its users. projectId comes from tenancy
// (@requires) so that identity can check the caller's project without reading tenancy's tables.
builder.externalRef('Tenant', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ projectId: t.id({ nullable: true }) }),
  fields: (t) => ({
    id: t.exposeID('id'),
    users: t.field({
      type: [UserRef],
      description: 'Requires read:users.',
      requires: builder.selection<{ projectId?: string | null }>('projectId'),
      resolve: (tenant, _args, ctx) =>
        listTenantUsers({
          deps: ctx.deps,
          principal: requirePrincipal(ctx.principal),
          tenant: { id: tenant.id, projectId: tenant.projectId ?? null },
        }),
    }),
    userCount: t.int({
      description: 'Requires read:tenants. Users not deleted: the usage figure of GET /api/tenants/{id}.',
      requires: builder.selection<{ projectId?: string | null }>('projectId'),
      resolve: (tenant, _args, ctx) =>
        countTenantUsers({
          deps: ctx.deps,
          principal: requirePrincipal(ctx.principal),
          tenant: { id: tenant.id, projectId: tenant.projectId ?? null },
        }),
    }),
  }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    email: t.string({ required: true }),
    name: t.string({ required: true }),
    roles: t.stringList(),
  }),
});

builder.mutationField('createUser', (t) =>
  t.field({
    type: UserRef,
    description: 'Requires write:users. Creates an account without credentials (sign-in comes with identity).',
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: (_root, args, ctx) =>
      createUser({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { ...args.input, tenantId: String(args.input.tenantId), roles: args.input.roles ?? undefined },
      }),
  }),
);
