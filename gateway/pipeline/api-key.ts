import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import { GATEWAY_PRINCIPAL, type Principal } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import { sha256Hex } from '../../lib/secrets.js';
import {
  API_KEY_PATTERN,
  API_KEY_PREFIX,
  API_KEY_REVOKED_CHANNEL,
  parseApiKeyRevoked,
} from '../../subgraphs/identity/contract.js';
import type { Gateway } from '../server.js';
import type { CredentialResolver } from './authenticate.js';

/**
 * tenantsdb API keys (`tenantsdb_sk_…`, sent as Bearer or X-API-Key). The key is hashed here and
 * looked up in identity through the supergraph, as the gateway's own service principal; the
 * answer is cached in this gateway for a minute so a busy key costs one lookup a minute, not one
 * per request. Revocation does not wait for the cache: identity publishes the hash of every
 * revoked key and every gateway evicts it at once.
 */

export const RESOLVE_API_KEY_OPERATION = /* GraphQL */ `
  query ResolveApiKey($keyHash: String!) {
    resolveApiKey(keyHash: $keyHash) {
      keyId
      projectId
      scopes
      expiresAt
    }
  }
`;

const STANDING_API_KEYS_OPERATION = /* GraphQL */ `
  query StandingApiKeys($keyIds: [ID!]!) {
    standingApiKeys(keyIds: $keyIds)
  }
`;

/**
 * One question to identity as the gateway's own service principal. Identity down or refusing the
 * gateway is not the caller's fault: SERVICE_UNAVAILABLE, and nothing may be concluded or cached.
 */
async function askIdentity<T>(
  execute: Gateway['execute'],
  document: string,
  variables: Record<string, unknown>,
  logger?: Logger,
): Promise<T> {
  const result = await execute({ document, variables, principal: GATEWAY_PRINCIPAL, requestId: newId('auth') });
  if (result.errors?.length || !result.data) {
    logger?.error({ errors: result.errors }, 'API key resolution through identity failed');
    throw new AppError('SERVICE_UNAVAILABLE', 'API keys cannot be verified right now');
  }
  return result.data as unknown as T;
}

/** Asks identity which of these key ids are still valid (for sessions that run as a key they do not hold). */
export function createStandingKeysCheck(execute: Gateway['execute']) {
  return async (keyIds: string[]): Promise<Set<string>> => {
    const data = await askIdentity<{ standingApiKeys: string[] }>(execute, STANDING_API_KEYS_OPERATION, { keyIds });
    return new Set(data.standingApiKeys);
  };
}

interface ResolvedApiKeyData {
  resolveApiKey: { keyId: string; projectId: string; scopes: string[]; expiresAt: string | null } | null;
}

export interface ApiKeyResolverOptions {
  execute: Gateway['execute'];
  kv: Kv;
  logger: Logger;
  /** How long a valid key's principal is reused without asking identity. */
  ttlMs?: number;
  /** How long "no such key" is remembered: short, it only absorbs a flood of the same wrong key. */
  missTtlMs?: number;
  /** Bound on cached keys; the oldest entries go first. */
  maxEntries?: number;
}

export const API_KEY_CACHE_TTL_MS = 60_000;
export const API_KEY_MISS_TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;
/** After a failed subscribe, how long before trying again (positive answers are not cached meanwhile). */
const RESUBSCRIBE_AFTER_MS = 5_000;

interface Entry {
  principal: Principal | null;
  expiresAt: number;
}

function refused(): AppError {
  return new AppError('UNAUTHORIZED', 'Invalid, expired or revoked API key');
}

export function createApiKeyResolver(options: ApiKeyResolverOptions): CredentialResolver {
  const { execute, kv } = options;
  const logger = options.logger.child({ component: 'api-key-resolver' });
  const ttlMs = options.ttlMs ?? API_KEY_CACHE_TTL_MS;
  const missTtlMs = options.missTtlMs ?? API_KEY_MISS_TTL_MS;
  const maxEntries = options.maxEntries ?? MAX_ENTRIES;

  /** Keyed by the key's SHA-256: the key itself is never kept. */
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Principal | null>>();
  /**
   * When each recently revoked key was revoked. A lookup that began before the revocation arrived
   * may carry the key's old, valid answer; this keeps that answer from being used or cached.
   */
  const revokedAt = new Map<string, number>();

  const onRevoked = (message: string) => {
    const keyHash = parseApiKeyRevoked(message)?.keyHash;
    if (keyHash === undefined) return;
    cache.delete(keyHash);
    revokedAt.set(keyHash, Date.now());
    // Past one TTL no lookup from before the revocation can still be running or cached.
    for (const [hash, at] of revokedAt) {
      if (at >= Date.now() - ttlMs) break;
      revokedAt.delete(hash);
    }
  };

  // Subscribed before the first key is cached, so no revocation can slip between caching and listening.
  let subscription: Promise<boolean> | null = null;
  let failedAt = 0;
  const subscribed = (): Promise<boolean> => {
    if (subscription === null && Date.now() - failedAt >= RESUBSCRIBE_AFTER_MS) {
      subscription = kv.pubsub.subscribe(API_KEY_REVOKED_CHANNEL, onRevoked).then(
        () => true,
        (error: unknown) => {
          logger.warn(
            { err: error },
            'cannot subscribe to API key revocations: valid keys are not cached until it works',
          );
          failedAt = Date.now();
          subscription = null;
          return false;
        },
      );
    }
    return subscription ?? Promise.resolve(false);
  };
  void subscribed();

  const remember = (keyHash: string, entry: Entry) => {
    cache.delete(keyHash);
    cache.set(keyHash, entry);
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  };

  const lookup = async (keyHash: string): Promise<Principal | null> => {
    const startedAt = Date.now();
    const live = subscribed();
    const { resolveApiKey: resolved } = await askIdentity<ResolvedApiKeyData>(
      execute,
      RESOLVE_API_KEY_OPERATION,
      { keyHash },
      logger,
    );
    if ((revokedAt.get(keyHash) ?? -1) >= startedAt) return null;
    const now = Date.now();
    if (!resolved) {
      remember(keyHash, { principal: null, expiresAt: now + missTtlMs });
      return null;
    }
    const principal: Principal = {
      kind: 'api_key',
      id: resolved.keyId,
      projectId: resolved.projectId,
      tenantId: null,
      roles: ['project'],
      scopes: resolved.scopes,
    };
    const keyExpiresAt = resolved.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(resolved.expiresAt);
    const expiresAt = Math.min(now + ttlMs, keyExpiresAt);
    // Without a live subscription a cached key could outlive its revocation: ask identity every time.
    if ((await live) && expiresAt > now) remember(keyHash, { principal, expiresAt });
    return principal;
  };

  return async (credential) => {
    if (!credential.startsWith(API_KEY_PREFIX)) return null;
    // Malformed keys cannot exist, so they are refused without a lookup.
    if (!API_KEY_PATTERN.test(credential)) throw refused();
    const keyHash = sha256Hex(credential);
    if (revokedAt.has(keyHash)) throw refused();

    const cached = cache.get(keyHash);
    let principal: Principal | null;
    if (cached && cached.expiresAt > Date.now()) {
      principal = cached.principal;
    } else {
      if (cached) cache.delete(keyHash);
      // Concurrent requests with one key share one lookup.
      let pending = inFlight.get(keyHash);
      if (!pending) {
        pending = lookup(keyHash).finally(() => inFlight.delete(keyHash));
        inFlight.set(keyHash, pending);
      }
      principal = await pending;
    }
    if (!principal) throw refused();
    return principal;
  };
}
