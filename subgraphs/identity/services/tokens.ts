import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  ACCESS_TOKEN_TTL_SECONDS,
  ISSUED_AT_MS_CLAIM,
  JWKS_CHANGED_CHANNEL,
  type AccessTokenClaims,
} from '../../../lib/access-token.js';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, type ClientInfo, type Principal } from '../../../lib/principal.js';
import { randomSecret, sha256Hex } from '../../../lib/secrets.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { Prisma, RefreshToken, SigningKey } from '../../../prisma/generated/client.js';

export type { SigningKey };

/**
 * Signing keys, access tokens and refresh tokens.
 *
 * Keys: ES256 (P-256), generated with jose, kid = the RFC 7638 thumbprint of the public key. One
 * key is active at a time; it is replaced after SIGNING_KEY_MAX_AGE_MS (checked lazily whenever a
 * token is signed, so no timer has to run on time) or by `rotateSigningKey`. A replaced key is
 * retired: nothing new is signed with it, but it stays in the JWKS until every token it signed
 * has expired (retiredAt + access token lifetime + clock-skew margin). The private halves are
 * stored as JWK in identity.signing_keys, readable by whoever can read that schema.
 */
export const SIGNING_KEY_MAX_AGE_MS = 30 * 24 * 3600_000;
/** Covers clock skew between identity instances and gateways after a key is retired. */
const JWKS_RETENTION_MARGIN_MS = 5 * 60_000;
/** Retired keys are deleted this long after they leave the JWKS (kept a while for investigation). */
const EXPIRED_KEY_RETENTION_MS = 7 * 24 * 3600_000;
const SIGNING_KEY_LOCK = 'identity.signing_keys';

export const REFRESH_TOKEN_PREFIX = 'rt_';
/** Refresh tokens live 30 days from their issue; each use replaces the token, so an active session slides. */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600_000;

type Tx = Prisma.TransactionClient;

// Imported private keys by kid: importing costs more than signing, and a kid's key never changes.
const privateKeys = new Map<string, CryptoKey>();

export interface PublicJwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  y: string;
  alg: string;
  use: 'sig';
}

async function createKeyRow(tx: Tx, secretBox: SecretBox, now: Date): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return tx.signingKey.create({
    data: {
      kid,
      algorithm: ACCESS_TOKEN_ALGORITHM,
      publicJwk: { ...publicJwk, kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' } as Prisma.InputJsonValue,
      // Sealed: a database dump must not be enough to mint tokens.
      privateJwk: { sealed: secretBox.seal(JSON.stringify(privateJwk)) },
      createdAt: now,
    },
  });
}

function isStale(key: SigningKey, now: Date): boolean {
  return now.getTime() - key.createdAt.getTime() >= SIGNING_KEY_MAX_AGE_MS;
}

/**
 * Retires every active key and creates a fresh one, under a transaction-scoped advisory lock so
 * that concurrent starters (two identity instances, two requests) never create two active keys:
 * the second one in waits, re-reads, and finds the first one's key.
 */
async function replaceActiveKey(
  deps: SubgraphDeps,
  now: Date,
  shouldReplace: (active: SigningKey | null) => boolean,
): Promise<{ key: SigningKey; created: boolean }> {
  const result = await deps.db.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${SIGNING_KEY_LOCK}))`;
    const active = await tx.signingKey.findFirst({ where: { retiredAt: null }, orderBy: { createdAt: 'desc' } });
    if (active && !shouldReplace(active)) return { key: active, created: false };
    await tx.signingKey.updateMany({
      where: { retiredAt: null },
      data: {
        retiredAt: now,
        expiresAt: new Date(now.getTime() + ACCESS_TOKEN_TTL_SECONDS * 1000 + JWKS_RETENTION_MARGIN_MS),
      },
    });
    await tx.signingKey.deleteMany({
      where: { expiresAt: { lt: new Date(now.getTime() - EXPIRED_KEY_RETENTION_MS) } },
    });
    return { key: await createKeyRow(tx, deps.secretBox, now), created: true };
  });
  if (result.created) {
    // Gateways drop their cached JWKS; one that misses the message still refetches on the unknown kid.
    await deps.kv.pubsub.publish(JWKS_CHANGED_CHANNEL, result.key.kid).catch(() => undefined);
  }
  return result;
}

/** The key new tokens are signed with: created on first need, replaced once it is older than 30 days. */
export async function getActiveSigningKey({ deps, now = new Date() }: { deps: SubgraphDeps; now?: Date }) {
  const active = await deps.db.prisma.signingKey.findFirst({
    where: { retiredAt: null },
    orderBy: { createdAt: 'desc' },
  });
  if (active && !isStale(active, now)) return active;
  return (await replaceActiveKey(deps, now, (current) => current === null || isStale(current, now))).key;
}

export interface SigningKeyInfo {
  kid: string;
  algorithm: string;
  createdAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
}

function toInfo(key: SigningKey): SigningKeyInfo {
  return {
    kid: key.kid,
    algorithm: key.algorithm,
    createdAt: key.createdAt,
    retiredAt: key.retiredAt,
    expiresAt: key.expiresAt,
  };
}

/**
 * Retires the active key and signs from now on with a new one. Platform-wide, so it needs
 * admin:security from a caller bound to no tenant or project (the operator or a platform key):
 * a tenant admin also holds admin:security, but only for its own tenant.
 */
export async function rotateSigningKey({
  deps,
  principal,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  principal: Principal;
  now?: Date;
}): Promise<{ key: SigningKeyInfo; retired: SigningKeyInfo[] }> {
  requireScope(principal, 'admin:security');
  if (principal.tenantId !== null || principal.projectId !== null) {
    throw new AppError('FORBIDDEN', 'Signing keys are platform-wide: only a caller bound to no tenant may rotate them');
  }
  const { key } = await replaceActiveKey(deps, now, () => true);
  const retired = await deps.db.prisma.signingKey.findMany({
    where: { retiredAt: now },
    orderBy: { createdAt: 'desc' },
  });
  return { key: toInfo(key), retired: retired.map(toInfo) };
}

/** The public keys tokens may be verified with: the active key and retired keys whose tokens can still be live. */
export async function getJwks({ deps, now = new Date() }: { deps: SubgraphDeps; now?: Date }): Promise<PublicJwk[]> {
  // Creating the first key here means a gateway asking before anyone signed in still gets a key set.
  await getActiveSigningKey({ deps, now });
  const keys = await deps.db.prisma.signingKey.findMany({
    where: { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    orderBy: { createdAt: 'desc' },
  });
  return keys.map((key) => {
    const jwk = key.publicJwk as unknown as JWK;
    return {
      kid: key.kid,
      kty: String(jwk.kty),
      crv: String(jwk.crv),
      x: String(jwk.x),
      y: String(jwk.y),
      alg: key.algorithm,
      use: 'sig',
    };
  });
}

export async function listSigningKeys({ deps }: { deps: SubgraphDeps }): Promise<SigningKeyInfo[]> {
  const keys = await deps.db.prisma.signingKey.findMany({ orderBy: { createdAt: 'desc' }, take: 50 });
  return keys.map(toInfo);
}

async function privateKeyFor(key: SigningKey, secretBox: SecretBox): Promise<CryptoKey> {
  let imported = privateKeys.get(key.kid);
  if (!imported) {
    const stored = key.privateJwk as { sealed?: unknown };
    // Keys made before sealing existed are stored as the bare JWK.
    const jwk =
      typeof stored.sealed === 'string' ? (JSON.parse(secretBox.open(stored.sealed)) as JWK) : (stored as JWK);
    imported = (await importJWK(jwk, key.algorithm)) as CryptoKey;
    privateKeys.set(key.kid, imported);
  }
  return imported;
}

/**
 * A signed access token (RFC 9068 `at+jwt`): platform-forge's documented claims (`sub`,
 * `tenant_id`, `roles`, `exp`) plus `iat`, `iss`, `aud`, `jti`, `scope` and, for project owners,
 * `project_id`; the signing key's id in the `kid` header.
 */
export async function signAccessToken({
  deps,
  subject,
  claims,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  subject: string;
  claims: AccessTokenClaims;
  now?: Date;
}): Promise<{ token: string; expiresIn: number; kid: string }> {
  const key = await getActiveSigningKey({ deps, now });
  const iat = Math.floor(now.getTime() / 1000);
  const payload: Record<string, unknown> = {
    tenant_id: claims.tenant_id,
    roles: claims.roles,
    scope: claims.scope,
    [ISSUED_AT_MS_CLAIM]: now.getTime(),
  };
  if (claims.project_id) payload.project_id = claims.project_id;
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'at+jwt' })
    .setSubject(subject)
    .setIssuer(ACCESS_TOKEN_ISSUER)
    .setAudience(ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(randomUUID())
    .sign(await privateKeyFor(key, deps.secretBox));
  return { token, expiresIn: ACCESS_TOKEN_TTL_SECONDS, kid: key.kid };
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens: opaque, `rt_` + 32 random bytes, stored as SHA-256 (256 bits of entropy make a
// fast hash safe), rotated on every use. Tokens rotated from one login share a family; presenting
// a token that was already used means two parties hold it, so the whole family is revoked.

export async function createRefreshToken({
  tx,
  userId,
  familyId = newId('rtf'),
  client,
  now = new Date(),
}: {
  tx: Tx;
  userId: string;
  familyId?: string;
  client: ClientInfo;
  now?: Date;
}): Promise<{ token: string; row: RefreshToken }> {
  const token = randomSecret(REFRESH_TOKEN_PREFIX, 32);
  const row = await tx.refreshToken.create({
    data: {
      id: newId('rt'),
      userId,
      familyId,
      tokenHash: sha256Hex(token),
      expiresAt: new Date(now.getTime() + REFRESH_TOKEN_TTL_MS),
      createdAt: now,
      ip: client.ip,
      userAgent: client.userAgent?.slice(0, 500) ?? null,
    },
  });
  return { token, row };
}

async function revokeFamily(deps: SubgraphDeps, familyId: string, now: Date): Promise<number> {
  const { count } = await deps.db.prisma.refreshToken.updateMany({
    where: { familyId, revokedAt: null },
    data: { revokedAt: now },
  });
  return count;
}

/**
 * Spends a refresh token: marks it used (atomically, so two concurrent uses cannot both succeed)
 * and returns its row. The caller issues the replacement in the same family. A token already used
 * revokes its family and answers TOKEN_REUSED; the family's newest token then stops working too.
 */
export async function consumeRefreshToken({
  deps,
  token,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  token: string;
  now?: Date;
}): Promise<RefreshToken> {
  const row = token.startsWith(REFRESH_TOKEN_PREFIX)
    ? await deps.db.prisma.refreshToken.findUnique({ where: { tokenHash: sha256Hex(token) } })
    : null;
  if (!row) throw new AppError('UNAUTHORIZED', 'Invalid refresh token');
  if (row.usedAt) {
    await revokeFamily(deps, row.familyId, now);
    throw new AppError('TOKEN_REUSED', 'Refresh token was already used: every session of this sign-in is revoked');
  }
  if (row.revokedAt) throw new AppError('UNAUTHORIZED', 'Refresh token has been revoked');
  if (row.expiresAt <= now) throw new AppError('TOKEN_EXPIRED', 'Refresh token has expired');
  const { count } = await deps.db.prisma.refreshToken.updateMany({
    where: { id: row.id, usedAt: null, revokedAt: null },
    data: { usedAt: now },
  });
  if (count === 0) {
    // Someone spent it between our read and our write: the same token in two hands.
    await revokeFamily(deps, row.familyId, now);
    throw new AppError('TOKEN_REUSED', 'Refresh token was already used: every session of this sign-in is revoked');
  }
  return row;
}

/** Ends the sign-in a refresh token belongs to. Unknown tokens are ignored: logging out twice is fine. */
export async function revokeRefreshTokenFamily({
  deps,
  token,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  token: string;
  now?: Date;
}): Promise<{ revoked: number; userId: string | null }> {
  if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return { revoked: 0, userId: null };
  const row = await deps.db.prisma.refreshToken.findUnique({ where: { tokenHash: sha256Hex(token) } });
  if (!row) return { revoked: 0, userId: null };
  return { revoked: await revokeFamily(deps, row.familyId, now), userId: row.userId };
}
