import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  activateUser,
  deleteUser,
  listUsers,
  suspendUser,
  updateUser,
  type UserPage,
} from '../services/admin-users.js';
import { OffsetPaginationRef } from './audit.js';
import { UserRef } from './user.js';

// What an administrator needs to see of a user beyond the basics user.ts exposes.
builder.objectFields(UserRef, (t) => ({
  updatedAt: t.field({ type: 'DateTime', resolve: (u) => u.updatedAt }),
  lastLoginAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.lastLoginAt }),
  deletedAt: t.field({ type: 'DateTime', nullable: true, resolve: (u) => u.deletedAt }),
}));

const UserPageRef = builder.objectRef<UserPage>('UserPage').implement({
  fields: (t) => ({
    users: t.field({ type: [UserRef], resolve: (page) => page.users }),
    pagination: t.field({ type: OffsetPaginationRef, resolve: (page) => page.pagination }),
  }),
});

builder.queryField('users', (t) =>
  t.field({
    type: UserPageRef,
    description:
      "Requires read:users. The caller's tenant's users, newest first; deleted ones only with status: \"deleted\". limit: default 20, at most 100.",
    args: {
      page: t.arg.int(),
      limit: t.arg.int(),
      status: t.arg.string({ description: 'active, suspended or deleted' }),
      role: t.arg.string(),
      search: t.arg.string({ description: 'Part of the email or name' }),
      tenantId: t.arg.id({ description: 'Operator only: one tenant instead of all' }),
    },
    resolve: (_root, args, ctx) =>
      listUsers({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          page: args.page ?? undefined,
          limit: args.limit ?? undefined,
          status: args.status as 'active' | 'suspended' | 'deleted' | null | undefined,
          role: args.role,
          search: args.search,
          tenantId: args.tenantId == null ? null : String(args.tenantId),
        },
      }),
  }),
);

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  fields: (t) => ({
    name: t.string(),
    email: t.string(),
    roles: t.stringList({ description: 'The complete new set; only roles whose permissions the caller holds' }),
  }),
});

builder.mutationFields((t) => ({
  updateUser: t.field({
    type: UserRef,
    description: 'Requires write:users, in the caller’s tenant. Removing a role ends the user’s sessions.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateUserInput, required: true }) },
    resolve: (_root, args, ctx) =>
      updateUser({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { id: String(args.id), ...args.input },
      }),
  }),
  suspendUser: t.field({
    type: UserRef,
    description: 'Requires write:users. Ends every session at once; not on yourself.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      suspendUser({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), userId: String(args.id) }),
  }),
  activateUser: t.field({
    type: UserRef,
    description: 'Requires write:users. Lifts a suspension and a failed-sign-in lockout.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      activateUser({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), userId: String(args.id) }),
  }),
  deleteUser: t.field({
    type: UserRef,
    description: 'Requires write:users. Soft delete: ends every session and frees the email; not on yourself.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      deleteUser({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), userId: String(args.id) }),
  }),
}));
