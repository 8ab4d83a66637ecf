import { setTimeout as sleep } from 'node:timers/promises';
import {
  REVOCATIONS_RESTORED_KEY,
  USER_REVOKED_CHANNEL,
  USER_REVOKED_TTL_SECONDS,
  userRevokedKey,
} from '../../../lib/access-token.js';
import { AppError } from '../../../lib/errors.js';
import { AUTHENTICATE_SCOPE, type ClientInfo, type Principal } from '../../../lib/principal.js';
import { scopesForRoles } from '../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { User } from '../../../prisma/generated/client.js';
import { consumeRefreshToken, createRefreshToken, revokeRefreshTokenFamily, signAccessToken } from './tokens.js';

/**
 * Sessions: what a successful sign-in (password, SSO) hands out, and how all of a user's
 * sessions end at once. Other identity services (SSO, admin, privacy) call these two.
 */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

const ACTIVE = 'active';

/**
 * Access tokens carry their issue time in milliseconds and revocation refuses every token issued
 * at or before the revocation's millisecond. A token minted in that very millisecond would be
 * refused too, so minting waits for the next one (at most a millisecond, and only then).
 */
async function waitPastRevocation(user: Pick<User, 'tokensValidAfter'>): Promise<void> {
  if (!user.tokensValidAfter) return;
  const wait = user.tokensValidAfter.getTime() + 1 - Date.now();
  if (wait > 0) await sleep(wait);
}

/** The project a project owner acts for: their oldest live project. Tenant users have none. */
async function projectIdFor(deps: SubgraphDeps, user: User): Promise<string | null> {
  if (user.tenantId !== null) return null;
  const project = await deps.db.prisma.project.findFirst({
    where: { ownerId: user.id, deletedAt: null },
    orderBy: { createdAt: 'asc' },
    select: { id: true },
  });
  return project?.id ?? null;
}

async function mintTokens({
  deps,
  user,
  client,
  familyId,
}: {
  deps: SubgraphDeps;
  user: User;
  client: ClientInfo;
  familyId?: string;
}): Promise<SessionTokens> {
  await waitPastRevocation(user);
  const now = new Date();
  const projectId = await projectIdFor(deps, user);
  const access = await signAccessToken({
    deps,
    subject: user.id,
    claims: {
      tenant_id: user.tenantId,
      roles: user.roles,
      scope: scopesForRoles(user.roles).join(' '),
      ...(projectId ? { project_id: projectId } : {}),
    },
    now,
  });
  const refresh = await createRefreshToken({ tx: deps.db.prisma, userId: user.id, familyId, client, now });
  return { accessToken: access.token, refreshToken: refresh.token, tokenType: 'Bearer', expiresIn: access.expiresIn };
}

/**
 * A new sign-in: an access token and a refresh token starting a new family, and lastLoginAt
 * stamped. The caller has already authenticated the user (password and MFA, or SSO) and
 * checked that the account is active.
 */
export async function issueSession({
  deps,
  user,
  client,
}: {
  deps: SubgraphDeps;
  user: User;
  client: ClientInfo;
}): Promise<SessionTokens> {
  if (user.status !== ACTIVE) throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
  const tokens = await mintTokens({ deps, user, client });
  await deps.db.prisma.user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
  return tokens;
}

/**
 * Spends a refresh token and answers a fresh pair in the same family. The user must still be
 * active and must not have been revoked since the token was issued.
 */
export async function refreshSession({
  deps,
  refreshToken,
  client,
}: {
  deps: SubgraphDeps;
  refreshToken: string;
  client: ClientInfo;
}): Promise<{ tokens: SessionTokens; user: User }> {
  const row = await consumeRefreshToken({ deps, token: refreshToken });
  const user = await deps.db.prisma.user.findUnique({ where: { id: row.userId } });
  if (!user || user.status !== ACTIVE) throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
  if (user.tokensValidAfter && row.createdAt <= user.tokensValidAfter) {
    throw new AppError('UNAUTHORIZED', 'Refresh token has been revoked');
  }
  const tokens = await mintTokens({ deps, user, client, familyId: row.familyId });
  return { tokens, user };
}

/** Ends one sign-in (the refresh token's family). The access token lapses on its own within the hour. */
export async function logout({ deps, refreshToken }: { deps: SubgraphDeps; refreshToken: string }): Promise<boolean> {
  await revokeRefreshTokenFamily({ deps, token: refreshToken });
  return true;
}

/**
 * Ends every session of a user at once: suspend, delete, privacy erasure, password change.
 * `tokensValidAfter` is the durable record and refuses their refresh tokens; the shared-kv key
 * makes every gateway refuse their access tokens from the next request on (gateways read it per
 * request, never from process memory); the pub/sub message is for long-lived connections.
 */
export async function revokeUserSessions({
  deps,
  userId,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  userId: string;
  now?: Date;
}): Promise<{ revokedRefreshTokens: number }> {
  await deps.db.prisma.user.update({ where: { id: userId }, data: { tokensValidAfter: now } });
  const { count } = await deps.db.prisma.refreshToken.updateMany({
    where: { userId, revokedAt: null },
    data: { revokedAt: now },
  });
  // Lives as long as the tokens it refuses can; a later revocation overwrites it with a later time.
  await deps.kv.cache.set(userRevokedKey(userId), String(now.getTime()), USER_REVOKED_TTL_SECONDS);
  await deps.kv.pubsub.publish(USER_REVOKED_CHANNEL, userId);
  return { revokedRefreshTokens: count };
}

/**
 * Writes every revocation that can still refuse a live token back into the shared kv from the
 * durable record (`users.tokens_valid_after`), then the marker that says the keys are complete.
 * The gateway calls it when it finds the marker gone (Redis restarted or flushed).
 *
 * A key already present is left alone: it can only come from a revocation made after this read,
 * so it is at least as recent. Only the gateway may call it (the scope no caller can hold).
 */
export async function restoreTokenRevocations({
  deps,
  principal,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  now?: Date;
}): Promise<{ restored: number }> {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Authentication required');
  if (principal.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway restores token revocations');
  }
  const keepMs = USER_REVOKED_TTL_SECONDS * 1000;
  // Served by the index on tokens_valid_after: only the last hour's revocations, however many users.
  const users = await deps.db.prisma.user.findMany({
    where: { tokensValidAfter: { gte: new Date(now.getTime() - keepMs) } },
    select: { id: true, tokensValidAfter: true },
  });
  let restored = 0;
  for (let i = 0; i < users.length; i += RESTORE_BATCH) {
    const written = await Promise.all(
      users.slice(i, i + RESTORE_BATCH).map(async ({ id, tokensValidAfter }) => {
        const at = tokensValidAfter!.getTime();
        const ttlSeconds = Math.ceil((at + keepMs - now.getTime()) / 1000);
        if (ttlSeconds <= 0) return false;
        return deps.kv.cache.setIfAbsent(userRevokedKey(id), String(at), ttlSeconds);
      }),
    );
    restored += written.filter(Boolean).length;
  }
  // Last, and without expiry: only once every key above is written may a missing key be trusted.
  await deps.kv.cache.set(REVOCATIONS_RESTORED_KEY, now.toISOString());
  return { restored };
}

const RESTORE_BATCH = 200;
