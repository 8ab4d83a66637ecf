import type { ServerResponse } from 'node:http';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { z } from 'zod';
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  JWKS_CHANGED_CHANNEL,
  ISSUED_AT_MS_CLAIM,
  REVOCATIONS_RESTORED_KEY,
  userRevokedKey,
} from '../../lib/access-token.js';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { GATEWAY_PRINCIPAL, type Principal } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import { scopesForRoles } from '../../lib/scopes.js';
import type { Gateway } from '../server.js';
import type { CredentialResolver } from './authenticate.js';

/**
 * Access tokens (JWTs signed by identity) verified locally: the public keys come from identity's
 * `jwks` query, run through the gateway's own `execute` like any other caller's operation, and
 * are cached in process. Signature, algorithm, `typ`, `iss`, `aud` and `exp` are checked here;
 * revocation (suspended, deleted users) is read from the shared kv on every request so that all
 * gateway instances refuse a revoked user's token at once.
 */

/** How long a fetched key set is trusted before it is fetched again (rotation also announces itself). */
const JWKS_TTL_MS = 10 * 60_000;
/**
 * A token naming a kid we do not have refetches the set, but at most this often: otherwise a
 * caller making up kids could make every request cost a round trip to identity. A token issued
 * after our set was fetched may name a key made since, so it waits only the short floor.
 */
const UNKNOWN_KID_COOLDOWN_MS = 5_000;
const UNKNOWN_KID_FLOOR_MS = 250;
const CLOCK_TOLERANCE_SECONDS = 30;

const JWKS_OPERATION = /* GraphQL */ `
  query GatewayJwks {
    jwks {
      keys {
        kid
        kty
        crv
        x
        y
        alg
        use
      }
    }
  }
`;

const jwksAnswer = z.object({
  jwks: z.object({
    keys: z.array(
      z.object({
        kid: z.string(),
        kty: z.string(),
        crv: z.string(),
        x: z.string(),
        y: z.string(),
        alg: z.string(),
        use: z.string(),
      }),
    ),
  }),
});

const claimsSchema = z.object({
  sub: z.string().min(1),
  iat: z.number(),
  [ISSUED_AT_MS_CLAIM]: z.number().int().optional(),
  tenant_id: z.string().min(1).nullable(),
  roles: z.array(z.string()),
  scope: z.string().optional(),
  project_id: z.string().min(1).optional(),
});

export interface JwksSource {
  /** The current key set, fetched when missing or older than its TTL. */
  get(): Promise<JSONWebKeySet>;
  /** Fetches again unless a refetch happened within the cooldown; true if it did. */
  refreshForUnknownKid(token: string): Promise<boolean>;
}

export interface JwtDeps {
  execute: Gateway['execute'];
  kv: Kv;
  logger: Logger;
}

export function createJwksSource({ execute, kv, logger }: JwtDeps): JwksSource {
  let cached: { set: JSONWebKeySet; fetchedAt: number } | undefined;
  let inFlight: Promise<JSONWebKeySet> | undefined;
  let lastFetchStarted = 0;

  const fetchSet = (): Promise<JSONWebKeySet> => {
    inFlight ??= (async () => {
      lastFetchStarted = Date.now();
      try {
        const result = await execute({
          document: JWKS_OPERATION,
          variables: {},
          principal: GATEWAY_PRINCIPAL,
          requestId: `gateway-jwks-${lastFetchStarted}`,
        });
        const parsed = jwksAnswer.safeParse(result.data);
        if (!parsed.success) {
          logger.error({ errors: result.errors }, 'could not fetch the JWKS from identity');
          if (cached) return cached.set;
          throw new AppError('SERVICE_UNAVAILABLE', 'Access tokens cannot be verified right now');
        }
        cached = { set: { keys: parsed.data.jwks.keys }, fetchedAt: Date.now() };
        return cached.set;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  // A rotation anywhere makes every gateway drop its set; the unknown-kid refetch is the fallback.
  kv.pubsub
    .subscribe(JWKS_CHANGED_CHANNEL, () => {
      cached = undefined;
      lastFetchStarted = 0;
    })
    .catch((error: unknown) => logger.warn({ err: error }, 'could not subscribe to signing key changes'));

  return {
    async get() {
      if (cached && Date.now() - cached.fetchedAt < JWKS_TTL_MS) return cached.set;
      return fetchSet();
    },
    async refreshForUnknownKid(token) {
      if (inFlight) {
        await inFlight;
        return true;
      }
      const sinceFetch = Date.now() - lastFetchStarted;
      // iat has whole seconds: a token of the same second as the fetch may be newer than it.
      const issuedAfterFetch = issuedAtMs(token) + 999 >= lastFetchStarted;
      if (sinceFetch < (issuedAfterFetch ? UNKNOWN_KID_FLOOR_MS : UNKNOWN_KID_COOLDOWN_MS)) return false;
      await fetchSet();
      return true;
    },
  };
}

/** The token's own (unverified) iat in ms; 0 when absent. Only used to decide whether to refetch keys. */
function issuedAtMs(token: string): number {
  try {
    const iat = decodeJwt(token).iat;
    return typeof iat === 'number' ? iat * 1000 : 0;
  } catch {
    return 0;
  }
}

/** Three base64url parts whose first decodes to a JOSE header: anything else is not ours to judge. */
function looksLikeJwt(credential: string): boolean {
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(credential)) return false;
  try {
    return typeof decodeProtectedHeader(credential).alg === 'string';
  } catch {
    return false;
  }
}

const invalid = () => new AppError('UNAUTHORIZED', 'Invalid access token');

/**
 * One verifier per fetched key set: jose's local set imports each key once and keeps it, where a
 * set built per request imported the key (and parsed the set) on every token.
 */
const keySets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>();
function localKeySet(set: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  let local = keySets.get(set);
  if (!local) {
    local = createLocalJWKSet(set);
    keySets.set(set, local);
  }
  return local;
}

async function verify(token: string, source: JwksSource): Promise<JWTPayload> {
  const options = {
    issuer: ACCESS_TOKEN_ISSUER,
    audience: ACCESS_TOKEN_AUDIENCE,
    algorithms: [ACCESS_TOKEN_ALGORITHM],
    typ: 'at+jwt',
    requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };
  const attempt = async () => (await jwtVerify(token, localKeySet(await source.get()), options)).payload;
  try {
    try {
      return await attempt();
    } catch (error) {
      // A key rotated in after our fetch: look again (rate-limited) before refusing.
      if (error instanceof errors.JWKSNoMatchingKey && (await source.refreshForUnknownKid(token)))
        return await attempt();
      throw error;
    }
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new AppError('TOKEN_EXPIRED', 'Access token has expired');
    if (error instanceof errors.JOSEError) throw invalid();
    throw error;
  }
}

const RESTORE_REVOCATIONS_OPERATION = /* GraphQL */ `
  mutation GatewayRestoreTokenRevocations {
    restoreTokenRevocations
  }
`;

/**
 * Has identity write revocations back from the database when the shared kv lost them (the marker
 * `REVOCATIONS_RESTORED_KEY` is gone: Redis restarted, was flushed, or the cache was cleared).
 * One restore at a time per gateway; every request waiting on it shares its outcome.
 */
export function createRevocationRestorer({ execute, logger }: Pick<JwtDeps, 'execute' | 'logger'>) {
  let inFlight: Promise<void> | undefined;
  return (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        const startedAt = Date.now();
        logger.warn('token revocations missing from the shared kv: restoring them from identity');
        const result = await execute({
          document: RESTORE_REVOCATIONS_OPERATION,
          variables: {},
          principal: GATEWAY_PRINCIPAL,
          requestId: `gateway-revocations-${startedAt}`,
        });
        const restored = (result.data as { restoreTokenRevocations?: unknown } | null | undefined)
          ?.restoreTokenRevocations;
        if (result.errors?.length || typeof restored !== 'number') {
          logger.error({ errors: result.errors }, 'could not restore token revocations');
          throw new AppError('SERVICE_UNAVAILABLE', 'Access tokens cannot be verified right now');
        }
        logger.info({ restored, ms: Date.now() - startedAt }, 'token revocations restored');
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}

/**
 * When the token was issued, in epoch ms: its `iat_ms` claim, which must lie in the second `iat`
 * names. A token without it (signed before the claim existed) counts from the start of its
 * second, so a revocation in that same second still refuses it (fail closed).
 */
function issuedAtMsOf(claims: z.infer<typeof claimsSchema>): number {
  const ms = claims[ISSUED_AT_MS_CLAIM];
  if (ms === undefined) return claims.iat * 1000;
  if (Math.floor(ms / 1000) !== claims.iat) throw invalid();
  return ms;
}

async function assertNotRevoked(
  kv: Kv,
  userId: string,
  issuedAtMs: number,
  logger: Logger,
  restore: () => Promise<void>,
): Promise<void> {
  let revokedAt: string | null;
  try {
    let restored: string | null;
    [revokedAt, restored] = await Promise.all([
      kv.cache.get(userRevokedKey(userId)),
      kv.cache.get(REVOCATIONS_RESTORED_KEY),
    ]);
    // A missing key proves nothing while the kv may have lost its revocations: fail closed until
    // identity has written them back from the database.
    if (restored === null) {
      await restore();
      revokedAt = await kv.cache.get(userRevokedKey(userId));
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    // Fail closed: without the shared store we cannot tell a suspended user's token from a good one.
    logger.error({ err: error }, 'revocation check unavailable');
    throw new AppError('SERVICE_UNAVAILABLE', 'Access tokens cannot be verified right now');
  }
  if (revokedAt !== null && issuedAtMs <= Number(revokedAt)) {
    throw new AppError('UNAUTHORIZED', 'Access token has been revoked');
  }
}

/**
 * The JWT credential resolver: null for anything that is not shaped like a JWT (API keys, the
 * operator key), a user principal for a valid access token, 401 for every other JWT
 * (TOKEN_EXPIRED when it only ran out).
 */
export function createJwtResolver(deps: JwtDeps & { jwks?: JwksSource }): CredentialResolver {
  const source = deps.jwks ?? createJwksSource(deps);
  const restore = createRevocationRestorer(deps);
  return async (credential) => {
    if (!looksLikeJwt(credential)) return null;
    const payload = await verify(credential, source);
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw invalid();
    const claims = parsed.data;
    await assertNotRevoked(deps.kv, claims.sub, issuedAtMsOf(claims), deps.logger, restore);
    // Roles decide; the token's own scope list can only narrow what the roles grant.
    const granted = scopesForRoles(claims.roles);
    const listed = claims.scope === undefined ? null : new Set(claims.scope.split(' '));
    const principal: Principal = {
      kind: 'user',
      id: claims.sub,
      tenantId: claims.tenant_id,
      projectId: claims.project_id ?? null,
      roles: claims.roles,
      scopes: listed ? granted.filter((s) => listed.has(s)) : granted,
    };
    return principal;
  };
}

/** GET /.well-known/jwks.json: the public key set as plain JSON, public and cacheable. */
export function createJwksHandler(deps: JwtDeps): (res: ServerResponse) => Promise<void> {
  const source = createJwksSource(deps);
  return async (res) => {
    try {
      const set = await source.get();
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        // Short enough that a rotation shows up soon; clients refetch on an unknown kid anyway.
        'cache-control': 'public, max-age=300',
      });
      res.end(JSON.stringify(set));
    } catch (error) {
      const appError =
        error instanceof AppError ? error : new AppError('SERVICE_UNAVAILABLE', 'Key set is unavailable right now');
      if (!(error instanceof AppError)) deps.logger.error({ err: error }, 'serving the JWKS failed');
      res.writeHead(appError.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: { code: appError.code, message: appError.message } }));
    }
  };
}
