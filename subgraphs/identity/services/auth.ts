import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import type { Logger } from '../../../lib/logger.js';
import {
  hasScope,
  requirePrincipal,
  requireScope,
  tenantScopeFor,
  type ClientInfo,
  type Principal,
} from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { assertUserLimit } from './user-limit.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type TenantAuthSettings, type User } from '../../../prisma/generated/client.js';
import { verifyLoginMfa } from './mfa.js';
import { assertPasswordPolicy, hashPassword, needsRehash, verifyPassword, PASSWORD_MAX_LENGTH } from './passwords.js';
import { issueSession, type SessionTokens } from './sessions.js';
import { accountLockedError, assertNotBlocked, recordLoginAttempt } from './threats.js';

export type { TenantAuthSettings };

/** Consecutive failed sign-ins (wrong password or MFA code) that lock an account. */
export const LOCKOUT_THRESHOLD = 5;
export const LOCKOUT_DURATION_MS = 15 * 60_000;

export const ACCOUNTS_DIRECTORY = 'accounts';
export const tenantDirectory = (tenantId: string) => `tenant:${tenantId}`;

const INVALID_CREDENTIALS_MESSAGE = 'Invalid email or password';

const email = z
  .email()
  .max(320)
  .transform((e) => e.toLowerCase());
// The policy checks the real bounds; here only a cap so no request can hand argon2 megabytes.
const password = z
  .string()
  .min(1)
  .max(PASSWORD_MAX_LENGTH * 4);
const tenantId = z.string().trim().min(1).max(100);

const registerInput = z.object({
  email,
  password,
  name: z.string().trim().min(1).max(200),
  tenantId,
});

export interface AuthResult extends SessionTokens {
  user: User;
}

/**
 * Creates a tenant user with a password and signs them in. Who may: a caller holding write:users
 * for that tenant (a tenant admin, the operator) always; anyone else (self-registration) only
 * while the tenant's registration is open, which it is not until an admin opens it, so nobody
 * can plant accounts in someone else's tenant.
 */
export async function register({
  deps,
  principal,
  input,
  client,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof registerInput>;
  client: ClientInfo;
}): Promise<AuthResult> {
  const data = parseInput(registerInput, input);
  if (principal && hasScope(principal, 'write:users')) {
    // Throws TENANT_MISMATCH for another tenant's admin; the operator may name any tenant.
    tenantScopeFor(principal, data.tenantId);
  } else {
    const settings = await deps.db.prisma.tenantAuthSettings.findUnique({ where: { tenantId: data.tenantId } });
    if (!settings?.registrationOpen) {
      throw new AppError('REGISTRATION_CLOSED', 'Registration is closed for this tenant', {
        tenant_id: data.tenantId,
      });
    }
  }
  // After the permission check: a closed tenant tells an outsider nothing about its password rules.
  assertPasswordPolicy(data.password, { email: data.email });
  await assertUserLimit(deps, data.tenantId);
  const passwordHash = await hashPassword(data.password);
  let user: User;
  try {
    user = await deps.db.prisma.user.create({
      data: {
        id: newId('usr'),
        tenantId: data.tenantId,
        directory: tenantDirectory(data.tenantId),
        email: data.email,
        name: data.name,
        roles: ['user'],
        passwordHash,
      },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'A user with this email already exists in the tenant');
    }
    throw error;
  }
  const tokens = await issueSession({ deps, user, client });
  return { ...tokens, user };
}

const loginInput = z.object({
  email,
  password,
  mfaCode: z.string().trim().max(64).nullish(),
  tenantId: tenantId.nullish(),
});

/**
 * Which directory a sign-in email belongs to. With a tenant id: that tenant's. Without: project
 * owners (`accounts`) first; else the one tenant directory holding the email; an email present
 * in several tenants needs the tenant id. An email nobody has resolves to `accounts`, where the
 * lookup then finds no user: the caller burns a dummy hash and answers INVALID_CREDENTIALS, as for a
 * wrong password. Deleted users are not candidates, so a deleted account cannot make an email ambiguous.
 */
async function resolveDirectory(
  deps: SubgraphDeps,
  emailAddress: string,
  givenTenantId: string | null | undefined,
): Promise<string> {
  if (givenTenantId) return tenantDirectory(givenTenantId);
  const candidates = await deps.db.prisma.user.findMany({
    where: { email: emailAddress, status: { not: 'deleted' } },
    select: { directory: true },
    orderBy: { directory: 'asc' },
    take: 20,
  });
  const directories = candidates.map((c) => c.directory);
  if (directories.includes(ACCOUNTS_DIRECTORY) || directories.length === 0) return ACCOUNTS_DIRECTORY;
  if (directories.length === 1) return directories[0]!;
  throw new AppError('VALIDATION_ERROR', 'This email belongs to several tenants: tenant_id is required', {
    fields: [{ path: 'tenant_id', message: 'Required: the email exists in more than one tenant' }],
  });
}

/**
 * Password sign-in. The same INVALID_CREDENTIALS (message and argon2 cost) for an unknown email
 * and a wrong password; ACCOUNT_DISABLED only once the password is right, so neither answer says
 * whether an account exists. Five consecutive failures lock the account for 15 minutes.
 */
export async function login({
  deps,
  input,
  client,
  logger,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof loginInput>;
  client: ClientInfo;
  logger?: Logger;
}): Promise<AuthResult> {
  const data = parseInput(loginInput, input);
  const directory = await resolveDirectory(deps, data.email, data.tenantId);
  const attempt = { directory, email: data.email, ip: client.ip, userAgent: client.userAgent };
  const record = (userId: string | null, success: boolean, reason: string | null) =>
    recordLoginAttempt({ deps, attempt: { ...attempt, userId, success, reason }, logger });

  const user = await deps.db.prisma.user.findUnique({ where: { directory_email: { directory, email: data.email } } });
  const now = new Date();
  // A locked account says so before anything else (threat blocks included): it is the more
  // specific answer, and checking no password keeps a locked account from being guessed at.
  if (user?.lockedUntil && user.lockedUntil > now) {
    await record(user.id, false, 'locked');
    throw accountLockedError(user.lockedUntil, now);
  }
  try {
    await assertNotBlocked({ deps, ip: client.ip, directory, email: data.email, now });
  } catch (error) {
    await record(user?.id ?? null, false, 'blocked');
    throw error;
  }

  const passwordOk = await verifyPassword(user?.passwordHash ?? null, data.password);
  if (!user || !passwordOk) {
    if (user) {
      const locked = await countFailure(deps, user.id, now);
      await record(user.id, false, 'bad_password');
      if (locked) throw accountLockedError(locked, now);
    } else {
      await record(null, false, 'unknown_user');
    }
    // The failure that completes a burst against an email answers ACCOUNT_LOCKED on that same
    // attempt, real account or not (account blocks only: `ip: null`).
    await assertNotBlocked({ deps, ip: null, directory, email: data.email, now });
    throw new AppError('INVALID_CREDENTIALS', INVALID_CREDENTIALS_MESSAGE);
  }

  if (user.status !== 'active') {
    await record(user.id, false, 'suspended');
    throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
  }

  try {
    await verifyLoginMfa({ deps, user, code: data.mfaCode ?? null, logger });
  } catch (error) {
    if (error instanceof AppError && error.code === 'INVALID_MFA_CODE') {
      // A wrong second factor counts like a wrong password: the lockout bounds code guessing.
      const locked = await countFailure(deps, user.id, now);
      await record(user.id, false, 'mfa_invalid');
      if (locked) throw accountLockedError(locked, now);
    } else if (error instanceof AppError && error.code === 'MFA_REQUIRED') {
      await record(user.id, false, 'mfa_required');
    }
    throw error;
  }

  const rehash = user.passwordHash !== null && needsRehash(user.passwordHash);
  const signedIn = await deps.db.prisma.user.update({
    where: { id: user.id },
    data: {
      failedLoginCount: 0,
      lockedUntil: null,
      // Stored hashes follow the parameters forward as users sign in.
      ...(rehash ? { passwordHash: await hashPassword(data.password) } : {}),
    },
  });
  await record(user.id, true, null);
  const tokens = await issueSession({ deps, user: signedIn, client });
  return { ...tokens, user: signedIn };
}

/**
 * Counts one failure atomically; the one that reaches the threshold locks the account and starts
 * the count again, so after the lock the user gets five more tries. Returns the lock's end if
 * this failure locked the account.
 */
async function countFailure(deps: SubgraphDeps, userId: string, now: Date): Promise<Date | null> {
  const { failedLoginCount } = await deps.db.prisma.user.update({
    where: { id: userId },
    data: { failedLoginCount: { increment: 1 } },
    select: { failedLoginCount: true },
  });
  if (failedLoginCount < LOCKOUT_THRESHOLD) return null;
  const lockedUntil = new Date(now.getTime() + LOCKOUT_DURATION_MS);
  await deps.db.prisma.user.update({ where: { id: userId }, data: { lockedUntil, failedLoginCount: 0 } });
  return lockedUntil;
}

const settingsInput = z.object({
  tenantId: tenantId.nullish(),
  registrationOpen: z.boolean().nullish(),
  mfaRequired: z.boolean().nullish(),
});

/** Defaults (registration closed, MFA optional) for a tenant nobody has configured. */
function defaultSettings(tenantIdValue: string): TenantAuthSettings {
  return { tenantId: tenantIdValue, registrationOpen: false, mfaRequired: false, updatedAt: new Date(0) };
}

export async function updateTenantAuthSettings({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof settingsInput>;
}): Promise<TenantAuthSettings> {
  const p = requireScope(principal, 'write:users');
  const data = parseInput(settingsInput, input);
  const scopedTenant = tenantScopeFor(p, data.tenantId);
  const changes = {
    ...(data.registrationOpen != null ? { registrationOpen: data.registrationOpen } : {}),
    ...(data.mfaRequired != null ? { mfaRequired: data.mfaRequired } : {}),
  };
  return deps.db.prisma.tenantAuthSettings.upsert({
    where: { tenantId: scopedTenant },
    create: { tenantId: scopedTenant, ...changes },
    update: changes,
  });
}

export async function getTenantAuthSettings({
  deps,
  principal,
  tenantId: requested,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId?: string | null;
}): Promise<TenantAuthSettings> {
  const p = requireScope(principal, 'read:users');
  const scopedTenant = tenantScopeFor(p, requested);
  return (
    (await deps.db.prisma.tenantAuthSettings.findUnique({ where: { tenantId: scopedTenant } })) ??
    defaultSettings(scopedTenant)
  );
}

/** The signed-in user; null for callers that are not users (the operator, API keys). */
export async function getCurrentUser({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<User | null> {
  const p = requirePrincipal(principal);
  if (p.kind !== 'user') return null;
  const user = await deps.db.prisma.user.findUnique({ where: { id: p.id } });
  if (!user || user.status !== 'active') throw new AppError('UNAUTHORIZED', 'Authentication required');
  return user;
}
