/**
 * The contract between identity (which signs access tokens) and the gateway (which verifies them
 * locally): one module both import, so issuer, audience, lifetime and the revocation key cannot
 * drift apart between the two sides.
 */

/** `iss` of every access token identity signs. */
export const ACCESS_TOKEN_ISSUER = 'urn:platform:identity';

/** `aud`: the platform API behind the gateway. */
export const ACCESS_TOKEN_AUDIENCE = 'urn:platform:api';

/** Access tokens live one hour (platform-forge documents `expires_in: 3600`). */
export const ACCESS_TOKEN_TTL_SECONDS = 3600;

/** The only algorithm identity signs with and the gateway accepts (no `none`, no HS* confusion). */
export const ACCESS_TOKEN_ALGORITHM = 'ES256';

/**
 * Private claim carrying the token's issue time in epoch milliseconds. `iat` has whole seconds,
 * which cannot order a sign-in against a revocation made in the same second; this claim can.
 * Always within the second `iat` names (the gateway refuses a token where it is not).
 */
export const ISSUED_AT_MS_CLAIM = 'iat_ms';

/**
 * Shared-kv key holding the epoch millisecond at which every token of a user was revoked
 * (suspend, delete, role or password change). Tokens issued at or before it are refused by every
 * gateway. It lives as long as an access token can, after which every token it could refuse has
 * expired anyway. (`v2`: the value used to be a second; the new name, with the new restored
 * marker below, makes gateways rebuild the keys from the database rather than misread old ones.)
 */
export function userRevokedKey(userId: string): string {
  return `auth:user-revoked:v2:${userId}`;
}

/** How long a user's revocation key is kept: as long as a token it refuses can live, plus a margin. */
export const USER_REVOKED_TTL_SECONDS = ACCESS_TOKEN_TTL_SECONDS + 60;

/**
 * Shared-kv marker, with no expiry, saying the revocation keys above are complete. The database
 * (`users.tokens_valid_after`) is the durable record; the kv is a cache of it, and a Redis that
 * restarted or was flushed has lost both the keys and this marker. A gateway that finds the
 * marker missing has identity write every live revocation back (and then the marker) before it
 * trusts any missing revocation key: until then it fails closed, so no suspended or deleted user
 * gets back in through a cache loss.
 */
export const REVOCATIONS_RESTORED_KEY = 'auth:revocations-restored:v2';

/** Pub/sub channel announcing a revoked user (message: the user id), for long-lived connections. */
export const USER_REVOKED_CHANNEL = 'auth:user-revoked';

/** Pub/sub channel announcing a new or retired signing key: gateways drop their cached JWKS. */
export const JWKS_CHANGED_CHANNEL = 'auth:jwks-changed';

/** The claims of an access token beyond the registered ones (`sub`, `iss`, `aud`, `exp`, `iat`, `jti`). */
export interface AccessTokenClaims {
  /** platform-forge's documented claim; null for project owners, who belong to no tenant. */
  tenant_id: string | null;
  roles: string[];
  /** Space-separated, as in RFC 9068; the gateway grants at most the scopes the roles carry. */
  scope: string;
  /** The project a project owner acts for; absent for tenant users. */
  project_id?: string;
}
