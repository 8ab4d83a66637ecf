import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import type { Logger } from '../../../lib/logger.js';
import { NO_CLIENT, type ClientInfo } from '../../../lib/principal.js';
import { PROJECT_SCOPES, ROLE_SCOPES } from '../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import {
  ACCOUNT_OWNER_ROLE,
  ACCOUNTS_DIRECTORY,
  DEFAULT_KEY_NAME,
  projectNameSchema,
  uniqueViolationModel,
  withFreshProjectId,
} from './account-access.js';
import { LOGIN_SESSION_KEY_NAME, LOGIN_SESSION_TTL_MS, mintApiKey } from './api-keys.js';
import { assertPasswordPolicy, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import { assertNotBlocked, recordLoginAttempt } from './threats.js';

/**
 * tenantsdb accounts: a project owner is a User with no tenant, in the `accounts` directory, who
 * signs up and logs in with email and password and then works through API keys of its projects.
 */

const emailSchema = z
  .email()
  .max(320)
  .transform((e) => e.toLowerCase());

// ---------------------------------------------------------------------------------------------
// Signup

const signupInput = z.object({
  email: emailSchema,
  password: z.string().min(1, 'must not be empty'),
  projectName: projectNameSchema,
});

export interface SignupResult {
  userId: string;
  projectId: string;
  apiKey: string;
}

/**
 * Creates the account, its first project and that project's first key in one transaction: a
 * failure anywhere (a taken email included) leaves no row behind. The password is hashed before
 * the transaction opens, so argon2's work never holds a connection (or PGlite's one session).
 */
export async function signupAccount({
  deps,
  input,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof signupInput>;
}): Promise<SignupResult> {
  const data = parseInput(signupInput, input);
  assertPasswordPolicy(data.password, { email: data.email });
  const passwordHash = await hashPassword(data.password);
  try {
    return await withFreshProjectId((projectId) =>
      deps.db.prisma.$transaction(async (tx) => {
        const user = await tx.user.create({
          data: {
            id: newId('usr'),
            tenantId: null,
            directory: ACCOUNTS_DIRECTORY,
            email: data.email,
            name: data.email.split('@')[0] ?? data.email,
            roles: [ACCOUNT_OWNER_ROLE],
            passwordHash,
          },
        });
        const project = await tx.project.create({ data: { id: projectId, name: data.projectName, ownerId: user.id } });
        const { key } = await mintApiKey(tx, {
          projectId: project.id,
          name: DEFAULT_KEY_NAME,
          scopes: ROLE_SCOPES[ACCOUNT_OWNER_ROLE] ?? PROJECT_SCOPES,
        });
        return { userId: user.id, projectId: project.id, apiKey: key };
      }),
    );
  } catch (error) {
    // The email is unique per directory: the transaction rolled back, nothing of this signup stays.
    if (uniqueViolationModel(error) === 'User') {
      throw new AppError('CONFLICT', 'An account with this email already exists');
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Login

const loginInput = z.object({
  email: emailSchema,
  password: z.string().min(1, 'must not be empty'),
});

export interface LoginProject {
  projectId: string;
  name: string;
  apiKey: string;
  expiresAt: Date;
}

const invalidCredentials = () => new AppError('INVALID_CREDENTIALS', 'Invalid email or password');

/**
 * Verifies the password and answers every project of the account with a key. Keys are stored only
 * as hashes, so there is no existing key to hand back: each login mints a fresh session key per
 * project (named "login session", valid for 24 hours). Earlier session keys keep working until they
 * expire or are deleted; expired ones are cleared here so the key list does not grow without end.
 */
export async function loginAccount({
  deps,
  input,
  client = NO_CLIENT,
  logger,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof loginInput>;
  client?: ClientInfo;
  logger?: Logger;
}): Promise<LoginProject[]> {
  const data = parseInput(loginInput, input);
  const attempt = { directory: ACCOUNTS_DIRECTORY, email: data.email, ip: client.ip, userAgent: client.userAgent };
  try {
    await assertNotBlocked({ deps, ip: client.ip, directory: ACCOUNTS_DIRECTORY, email: data.email });
  } catch (error) {
    if (error instanceof AppError) {
      await recordLoginAttempt({ deps, logger, attempt: { ...attempt, success: false, reason: 'blocked' } });
    }
    throw error;
  }

  const user = await deps.db.prisma.user.findUnique({
    where: { directory_email: { directory: ACCOUNTS_DIRECTORY, email: data.email } },
  });
  // Unknown email and wrong password cost the same argon2 work and get the same answer.
  const matches = await verifyPassword(user?.passwordHash ?? null, data.password);
  if (!user || !matches) {
    await recordLoginAttempt({
      deps,
      logger,
      attempt: { ...attempt, userId: user?.id ?? null, success: false, reason: user ? 'bad_password' : 'unknown_user' },
    });
    // The failure that completes a burst answers ACCOUNT_LOCKED at once, real account or not
    // (account blocks only: `ip: null`).
    await assertNotBlocked({ deps, ip: null, directory: ACCOUNTS_DIRECTORY, email: data.email });
    throw invalidCredentials();
  }
  // Only after the password matched: a suspended account is not revealed to someone guessing.
  if (user.status !== 'active' || user.deletedAt !== null) {
    await recordLoginAttempt({
      deps,
      logger,
      attempt: { ...attempt, userId: user.id, success: false, reason: 'suspended' },
    });
    throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
  }

  const rehashed = user.passwordHash && needsRehash(user.passwordHash) ? await hashPassword(data.password) : null;
  const now = new Date();
  const expiresAt = new Date(now.getTime() + LOGIN_SESSION_TTL_MS);
  const projects = await deps.db.prisma.$transaction(async (tx) => {
    const owned = await tx.project.findMany({
      where: { ownerId: user.id, deletedAt: null },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    const ids = owned.map((p) => p.id);
    // Expired session keys can never authenticate again; keys made on purpose never expire.
    await tx.apiKey.deleteMany({
      where: { projectId: { in: ids }, name: LOGIN_SESSION_KEY_NAME, expiresAt: { lte: now } },
    });
    const minted: LoginProject[] = [];
    for (const project of owned) {
      const { key } = await mintApiKey(tx, {
        projectId: project.id,
        name: LOGIN_SESSION_KEY_NAME,
        scopes: ROLE_SCOPES[ACCOUNT_OWNER_ROLE] ?? PROJECT_SCOPES,
        expiresAt,
      });
      minted.push({ projectId: project.id, name: project.name, apiKey: key, expiresAt });
    }
    await tx.user.update({
      where: { id: user.id },
      data: { lastLoginAt: now, ...(rehashed ? { passwordHash: rehashed } : {}) },
    });
    return minted;
  });
  await recordLoginAttempt({ deps, logger, attempt: { ...attempt, userId: user.id, success: true } });
  return projects;
}
