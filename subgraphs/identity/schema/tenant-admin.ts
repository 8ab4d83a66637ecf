import { builder } from '../builder.js';
import { createTenantAdmin } from '../services/tenant-admin.js';
import { UserRef } from './user.js';

builder.mutationField('createTenantAdmin', (t) =>
  t.field({
    type: UserRef,
    description:
      "Internal: tenant provisioning only (tenancy's service principal). Creates a tenant's first user with the admin role, under the password policy.",
    args: {
      tenantId: t.arg.id({ required: true }),
      email: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      createTenantAdmin({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { tenantId: String(args.tenantId), email: args.email, name: args.name, password: args.password },
      }),
  }),
);
