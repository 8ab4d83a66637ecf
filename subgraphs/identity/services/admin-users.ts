import { z } from 'zod';
import { pageInput, paginationOf } from '../../../lib/pagination.js';
import { AppError } from '../../../lib/errors.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import { scopesForRoles } from '../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type User } from '../../../prisma/generated/client.js';
import type { Pagination } from './audit.js';
import { revokeUserSessions } from './sessions.js';
import { releasedEmail } from './users.js';

/**
 * User administration inside a tenant (platform-forge's /admin/users): list, update, suspend,
 * activate, delete. Every function acts only on users of the caller's own tenant, decided from
 * the principal; a user of another tenant is NOT_FOUND, exactly like an id that does not exist,
 * so an admin cannot even learn that another tenant's user id is real.
 */

export const USER_PAGE_DEFAULT = 20;
export const USER_PAGE_MAX = 100;
export const USER_STATUSES = ['active', 'suspended', 'deleted'] as const;

export interface UserPage {
  users: User[];
  pagination: Pagination;
}

const roleSchema = z.string().regex(/^[a-z][a-z_:-]{0,39}$/, 'must be a lowercase role name');

/** The users a caller administers: its tenant's; the operator may look at any tenant, or all. */
function tenantFilter(principal: Principal, requestedTenantId?: string | null): Prisma.UserWhereInput {
  if (principal.tenantId !== null) {
    if (requestedTenantId && requestedTenantId !== principal.tenantId) {
      throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: requestedTenantId });
    }
    return { tenantId: principal.tenantId };
  }
  if (principal.kind === 'operator') return requestedTenantId ? { tenantId: requestedTenantId } : {};
  // A project-bound caller (a project owner or its key) cannot see which tenants are its project's
  // from identity alone; it administers its tenants' users with a tenant-bound credential.
  throw new AppError('FORBIDDEN', 'User administration needs a caller bound to a tenant');
}

/** Loads a user the caller may administer; anything else, deleted users included, is NOT_FOUND. */
async function findManagedUser(deps: SubgraphDeps, principal: Principal, userId: string): Promise<User> {
  const scope = tenantFilter(principal);
  const user = await deps.db.prisma.user.findFirst({ where: { id: userId, status: { not: 'deleted' }, ...scope } });
  if (!user) throw new AppError('NOT_FOUND', 'User not found', { user_id: userId });
  return user;
}

function isSelf(principal: Principal, user: User): boolean {
  return principal.kind === 'user' && principal.id === user.id;
}

function missingScopes(principal: Principal, roles: readonly string[]): string[] {
  return scopesForRoles(roles).filter((scope) => !principal.scopes.includes(scope));
}

/**
 * An administrator may act only on users who hold no more than it does: a tenant admin can
 * suspend another admin, but not an account whose roles carry scopes the admin lacks.
 */
function assertOutranks(principal: Principal, user: User): void {
  const missing = missingScopes(principal, user.roles);
  if (missing.length > 0) {
    throw new AppError('FORBIDDEN', 'This user holds permissions you do not have', { missing_scopes: missing });
  }
}

const listUsersInput = z.object({
  ...pageInput({ defaultLimit: USER_PAGE_DEFAULT, maxLimit: USER_PAGE_MAX }),
  status: z.enum(USER_STATUSES).nullish(),
  role: roleSchema.nullish(),
  search: z.string().trim().min(1).max(320).nullish(),
  /** Operator only; a tenant-bound caller may name only its own tenant. */
  tenantId: z.string().min(1).max(100).nullish(),
});

/** Requires read:users. Deleted users are listed only when asked for with status=deleted. */
export async function listUsers({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof listUsersInput>;
}): Promise<UserPage> {
  requireScope(principal, 'read:users');
  const { page, limit, status, role, search, tenantId } = parseInput(listUsersInput, input);
  const where: Prisma.UserWhereInput = {
    ...tenantFilter(principal, tenantId),
    status: status ?? { not: 'deleted' },
    ...(role ? { roles: { has: role } } : {}),
    ...(search
      ? {
          OR: [
            { email: { contains: search.toLowerCase() } },
            { name: { contains: search, mode: 'insensitive' as const } },
          ],
        }
      : {}),
  };
  const [total, users] = await Promise.all([
    deps.db.prisma.user.count({ where }),
    deps.db.prisma.user.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      skip: (page - 1) * limit,
      take: limit,
    }),
  ]);
  return { users, pagination: paginationOf({ page, limit }, total) };
}

const updateUserInput = z
  .object({
    id: z.string().min(1).max(100),
    name: z.string().trim().min(1).max(200).nullish(),
    email: z
      .email()
      .max(320)
      .transform((e) => e.toLowerCase())
      .nullish(),
    roles: z.array(roleSchema).max(20).nullish(),
  })
  .refine((i) => i.name != null || i.email != null || i.roles != null, {
    message: 'Give at least one of name, email, roles',
    path: ['name'],
  });

/**
 * Requires write:users. Roles may be changed only to ones whose scopes the caller holds, never
 * on oneself. Taking a role away also ends the user's sessions: their current access token still
 * carries the old roles, and must not keep them for the rest of its hour.
 */
export async function updateUser({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof updateUserInput>;
}): Promise<User> {
  requireScope(principal, 'write:users');
  const data = parseInput(updateUserInput, input);
  const user = await findManagedUser(deps, principal, data.id);
  assertOutranks(principal, user);

  const roles = data.roles ? [...new Set(data.roles)] : null;
  const removed = roles ? user.roles.filter((r) => !roles.includes(r)) : [];
  const added = roles ? roles.filter((r) => !user.roles.includes(r)) : [];
  if (roles && (added.length > 0 || removed.length > 0)) {
    if (isSelf(principal, user)) throw new AppError('FORBIDDEN', 'You cannot change your own roles');
    const missing = missingScopes(principal, added);
    if (missing.length > 0) {
      throw new AppError('FORBIDDEN', 'You cannot grant a role with permissions you do not have', {
        roles: added.filter((r) => missingScopes(principal, [r]).length > 0),
        missing_scopes: missing,
      });
    }
  }

  let updated: User;
  try {
    updated = await deps.db.prisma.user.update({
      where: { id: user.id },
      data: {
        ...(data.name != null ? { name: data.name } : {}),
        ...(data.email != null ? { email: data.email } : {}),
        ...(roles ? { roles } : {}),
      },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'A user with this email already exists in the tenant');
    }
    throw error;
  }
  if (removed.length > 0) await revokeUserSessions({ deps, userId: user.id });
  return updated;
}

/** Requires write:users. Ends every session of the user at once; suspending a suspended user is a no-op. */
export async function suspendUser({
  deps,
  principal,
  userId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  userId: string;
}): Promise<User> {
  requireScope(principal, 'write:users');
  const user = await findManagedUser(deps, principal, userId);
  if (isSelf(principal, user)) throw new AppError('FORBIDDEN', 'You cannot suspend yourself');
  assertOutranks(principal, user);
  const updated = await deps.db.prisma.user.update({ where: { id: user.id }, data: { status: 'suspended' } });
  // Revoked even when already suspended: cheap, and it closes any session a race let through.
  await revokeUserSessions({ deps, userId: user.id });
  return updated;
}

/**
 * Requires write:users. Lifts a suspension and, because an administrator has now vouched for the
 * account, a lockout from failed sign-ins too.
 */
export async function activateUser({
  deps,
  principal,
  userId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  userId: string;
}): Promise<User> {
  requireScope(principal, 'write:users');
  const user = await findManagedUser(deps, principal, userId);
  assertOutranks(principal, user);
  return deps.db.prisma.user.update({
    where: { id: user.id },
    data: { status: 'active', failedLoginCount: 0, lockedUntil: null },
  });
}

/**
 * Requires write:users. Soft delete: the row stays (audit entries and billing history still name
 * it) with status deleted, and every session ends at once. The email is released, so the person
 * can be invited again; erasing the rest of their data is a privacy data request's job.
 */
export async function deleteUser({
  deps,
  principal,
  userId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  userId: string;
}): Promise<User> {
  requireScope(principal, 'write:users');
  const user = await findManagedUser(deps, principal, userId);
  if (isSelf(principal, user)) throw new AppError('FORBIDDEN', 'You cannot delete yourself');
  assertOutranks(principal, user);
  const deleted = await deps.db.prisma.user.update({
    where: { id: user.id },
    data: { status: 'deleted', deletedAt: new Date(), email: releasedEmail(user.id, 'deleted') },
  });
  await revokeUserSessions({ deps, userId: user.id });
  return deleted;
}
