import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { AUTHENTICATE_SCOPE, type Principal } from '../../../lib/principal.js';
import { PROJECT_SCOPES, SCOPES, type Scope } from '../../../lib/scopes.js';
import { randomSecret, sha256Hex } from '../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { ApiKey, Prisma } from '../../../prisma/generated/client.js';
import {
  API_KEY_PREFIX,
  API_KEY_REVOKED_CHANNEL,
  STANDING_API_KEYS_MAX,
  type ApiKeyRevokedMessage,
} from '../contract.js';
import { findOwnedProject, requireAccount, requireAccountAdmin } from './account-access.js';

export type { ApiKey };

/** Hex characters kept in the clear at each end for display: 32 of 256 bits, too few to help a guesser. */
const SHOWN_HEAD = 4;
const SHOWN_TAIL = 4;

/** Name of the keys a tenantsdb login mints, one per project; they expire, keys made on purpose do not. */
export const LOGIN_SESSION_KEY_NAME = 'login session';
export const LOGIN_SESSION_TTL_MS = 24 * 60 * 60_000;

/**
 * last_used_at is written at most this often per key: the gateway caches a resolved key for about
 * as long, so this only matters when several gateways resolve the same key, and it keeps a busy key
 * from turning every resolution into a row update.
 */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface ApiKeyMaterial {
  /** The full key: returned to the caller once, never stored. */
  key: string;
  keyHash: string;
  prefix: string;
  last4: string;
}

export function generateApiKey(): ApiKeyMaterial {
  const key = randomSecret(API_KEY_PREFIX, 32);
  return {
    key,
    keyHash: sha256Hex(key),
    prefix: key.slice(0, API_KEY_PREFIX.length + SHOWN_HEAD),
    last4: key.slice(-SHOWN_TAIL),
  };
}

/** How a key is shown after creation: `tenantsdb_sk_3cc0…d501` (prefix and the first 4 hex, an ellipsis, the last 4). */
export function maskApiKey(key: Pick<ApiKey, 'prefix' | 'last4'>): string {
  return `${key.prefix}\u2026${key.last4}`;
}

export function isApiKeyActive(key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>, now = new Date()): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now);
}

/**
 * Writes a new key inside the caller's transaction (signup, login and project creation mint keys
 * together with other rows) and returns the only copy of the full key.
 */
export async function mintApiKey(
  tx: Prisma.TransactionClient,
  input: { projectId: string; name: string; scopes: readonly Scope[]; expiresAt?: Date | null },
): Promise<{ record: ApiKey; key: string }> {
  const material = generateApiKey();
  const record = await tx.apiKey.create({
    data: {
      projectId: input.projectId,
      name: input.name,
      keyHash: material.keyHash,
      prefix: material.prefix,
      last4: material.last4,
      scopes: [...input.scopes],
      expiresAt: input.expiresAt ?? null,
    },
  });
  return { record, key: material.key };
}

/**
 * Tells every gateway to forget these keys now. Called after the revocation committed; if Redis is
 * unreachable the revocation still stands in the database and gateways stop accepting the key
 * when their cache entry expires (at most the cache TTL later), so this logs rather than fails.
 */
export async function publishRevokedKeys(
  deps: SubgraphDeps,
  keys: ReadonlyArray<{ id: number; keyHash: string }>,
  logger: Logger | undefined,
): Promise<void> {
  const results = await Promise.allSettled(
    keys.map((key) =>
      deps.kv.pubsub.publish(
        API_KEY_REVOKED_CHANNEL,
        JSON.stringify({ keyHash: key.keyHash, keyId: String(key.id) } satisfies ApiKeyRevokedMessage),
      ),
    ),
  );
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) {
    logger?.error(
      { err: failed[0]!.reason as unknown, failed: failed.length },
      'could not publish API key revocations: gateways keep them cached until their TTL ends',
    );
  }
}

/** The scopes a caller may put on a key it creates: never wider than its own, system scopes only from the operator. */
export function grantableScopes(principal: Principal): Scope[] {
  if (principal.kind === 'operator') return [...SCOPES];
  return PROJECT_SCOPES.filter((scope) => principal.scopes.includes(scope));
}

// ---------------------------------------------------------------------------------------------
// Resolution (the gateway's credential check)

export interface ResolvedApiKey {
  keyId: string;
  projectId: string;
  scopes: string[];
  expiresAt: Date | null;
}

const resolveInput = z.object({ keyHash: z.string().regex(/^[0-9a-f]{64}$/, 'keyHash must be a SHA-256 hex digest') });

/**
 * Looks a key up by its hash for the gateway: null for unknown, revoked or expired keys, keys of a
 * deleted project, and keys of an account that is no longer active. Only the gateway's own service
 * principal may ask, so nobody can use this to test key hashes.
 */
export async function resolveApiKey({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof resolveInput>;
}): Promise<ResolvedApiKey | null> {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Authentication required');
  if (principal.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway resolves API keys');
  }
  const { keyHash } = parseInput(resolveInput, input);
  const now = new Date();
  const key = await deps.db.prisma.apiKey.findUnique({
    where: { keyHash },
    include: { project: { select: { deletedAt: true, owner: { select: { status: true, deletedAt: true } } } } },
  });
  if (!key || !keyStands(key, now)) return null;

  if (key.lastUsedAt === null || now.getTime() - key.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    // Conditional, so gateways resolving the same key at once write it once.
    await deps.db.prisma.apiKey.updateMany({
      where: {
        id: key.id,
        OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now.getTime() - LAST_USED_RESOLUTION_MS) } }],
      },
      data: { lastUsedAt: now },
    });
  }
  return { keyId: String(key.id), projectId: key.projectId, scopes: key.scopes, expiresAt: key.expiresAt };
}

type KeyWithOwner = ApiKey & {
  project: { deletedAt: Date | null; owner: { status: string; deletedAt: Date | null } };
};

/** Valid for the gateway: not revoked or expired, its project not deleted, its account active. */
function keyStands(key: KeyWithOwner, now: Date): boolean {
  const { project } = key;
  return (
    isApiKeyActive(key, now) &&
    project.deletedAt === null &&
    project.owner.status === 'active' &&
    project.owner.deletedAt === null
  );
}

/**
 * Which of these key ids are still valid (as resolveApiKey decides). For the gateway's periodic
 * re-check of sessions that run as a key without holding it (cloudpioneer event streams): an
 * expired key, or a suspended account, has no announcement to listen for. Gateway only.
 */
export async function standingApiKeys({
  deps,
  principal,
  keyIds,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  keyIds: readonly string[];
}): Promise<string[]> {
  if (principal?.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway checks API keys');
  }
  const ids = parseInput(z.array(z.string().regex(/^\d{1,9}$/, 'a key id')).max(STANDING_API_KEYS_MAX), keyIds).map(
    Number,
  );
  const keys = await deps.db.prisma.apiKey.findMany({
    where: { id: { in: ids } },
    include: { project: { select: { deletedAt: true, owner: { select: { status: true, deletedAt: true } } } } },
  });
  const now = new Date();
  return keys.filter((key) => keyStands(key, now)).map((key) => String(key.id));
}

// ---------------------------------------------------------------------------------------------
// Account-facing operations

export interface ApiKeyView extends ApiKey {
  maskedKey: string;
  isActive: boolean;
}

function toView(key: ApiKey, now: Date): ApiKeyView {
  return { ...key, maskedKey: maskApiKey(key), isActive: isApiKeyActive(key, now) };
}

/**
 * Every key of the caller's account, across its projects, newest first. Deleted (revoked) keys
 * are gone from the list; expired login-session keys stay, marked inactive, until the next login
 * clears them.
 */
export async function listApiKeys({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal;
}): Promise<ApiKeyView[]> {
  const account = await requireAccount(deps, principal);
  const keys = await deps.db.prisma.apiKey.findMany({
    where: { revokedAt: null, project: { ownerId: account.ownerId, deletedAt: null } },
    orderBy: { id: 'desc' },
    take: 500,
  });
  const now = new Date();
  return keys.map((key) => toView(key, now));
}

const scopeSchema = z.enum(SCOPES);

const createInput = z.object({
  /** Absent: the project of the calling key. */
  projectId: z.string().min(1).max(64).nullish(),
  name: z.string().trim().min(1, 'name must not be empty').max(100),
  scopes: z.array(scopeSchema).min(1).max(SCOPES.length).nullish(),
});

/**
 * A new key for one of the caller's projects. Scopes default to everything the caller may grant
 * and may be narrowed; asking for more than the caller holds is FORBIDDEN (so a narrowed key
 * cannot mint a wider one), and system scopes come only from the operator.
 */
export async function createApiKey({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  /** Scope names are checked against SCOPES here, so callers may pass what they were given. */
  input: { projectId?: string | null; name: string; scopes?: readonly string[] | null };
}): Promise<{ apiKey: ApiKeyView; key: string }> {
  const data = parseInput(createInput, input);
  const grantable = grantableScopes(principal);
  const requested = data.scopes ? [...new Set(data.scopes)] : grantable;
  const refused = requested.filter((scope) => !grantable.includes(scope));
  if (refused.length > 0) {
    throw new AppError('FORBIDDEN', 'A key cannot hold scopes its creator may not grant', {
      refused_scopes: refused,
      grantable_scopes: grantable,
    });
  }
  if (requested.length === 0) {
    throw new AppError('FORBIDDEN', 'The caller holds no scope it could put on a key');
  }

  let projectId: string;
  if (principal.kind === 'operator') {
    if (!data.projectId) throw new AppError('VALIDATION_ERROR', 'projectId is required for the operator');
    const project = await deps.db.prisma.project.findUnique({ where: { id: data.projectId } });
    if (!project || project.deletedAt !== null) throw new AppError('NOT_FOUND', 'Project not found');
    projectId = project.id;
  } else {
    const account = await requireAccountAdmin(deps, principal);
    const wanted = data.projectId ?? principal.projectId;
    if (!wanted) throw new AppError('VALIDATION_ERROR', 'projectId is required when the caller is not a project key');
    projectId = (await findOwnedProject(deps, account, wanted)).id;
  }

  const { record, key } = await mintApiKey(deps.db.prisma, { projectId, name: data.name, scopes: requested });
  return { apiKey: toView(record, new Date()), key };
}

const deleteInput = z.object({ id: z.number().int().positive() });

/**
 * Revokes a key of the caller's account (the operator: any key). A key of another account is
 * NOT_FOUND, as if it did not exist. Gateways drop it from their caches at once.
 */
export async function deleteApiKey({
  deps,
  principal,
  input,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof deleteInput>;
  logger?: Logger;
}): Promise<ApiKeyView> {
  const { id } = parseInput(deleteInput, input);
  const key = await deps.db.prisma.apiKey.findUnique({ where: { id }, include: { project: true } });
  const notFound = new AppError('NOT_FOUND', 'API key not found', { id });
  if (principal.kind !== 'operator') {
    const account = await requireAccountAdmin(deps, principal);
    if (!key || key.project.ownerId !== account.ownerId || key.project.deletedAt !== null) throw notFound;
  }
  if (!key || key.revokedAt !== null) throw notFound;
  const now = new Date();
  // Conditional, so two concurrent deletes revoke once and the loser sees NOT_FOUND.
  const { count } = await deps.db.prisma.apiKey.updateMany({
    where: { id, revokedAt: null },
    data: { revokedAt: now },
  });
  if (count === 0) throw notFound;
  await publishRevokedKeys(deps, [key], logger);
  const { project: _project, ...row } = key;
  return toView({ ...row, revokedAt: now }, now);
}
