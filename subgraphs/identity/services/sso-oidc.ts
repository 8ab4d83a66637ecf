import * as oidc from 'openid-client';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { SsoConnection } from '../../../prisma/generated/client.js';
import type { VerifiedIdentity } from './sso.js';

/** OIDC with openid-client: discovery at configure time, authorization code + PKCE at login. */

/** An IdP that takes longer than this to answer is reported, not waited on. */
const IDP_TIMEOUT_SECONDS = 10;

export const oidcConfigSchema = z.object({
  issuer: z.string(),
  clientId: z.string(),
  redirectUri: z.string(),
  scopes: z.array(z.string()),
  allowedRedirectUris: z.array(z.string()),
  /** The discovered server metadata, kept so a login does not depend on a discovery round trip. */
  metadata: z.looseObject({ issuer: z.string() }),
});
export type OidcConnectionConfig = z.infer<typeof oidcConfigSchema>;

function isInsecure(url: string): boolean {
  return new URL(url).protocol === 'http:';
}

function applyOptions(config: oidc.Configuration, issuer: string): void {
  config.timeout = IDP_TIMEOUT_SECONDS;
  // configure refuses http issuers outside development and tests (see allowsInsecureIdp).
  if (isInsecure(issuer)) oidc.allowInsecureRequests(config);
}

/** Discovers and validates an issuer's metadata: reachable, issuer matching, the endpoints a code flow needs. */
export async function discoverOidcIssuer(
  _deps: SubgraphDeps,
  issuer: string,
): Promise<OidcConnectionConfig['metadata']> {
  let config: oidc.Configuration;
  try {
    config = await oidc.discovery(new URL(issuer), 'discovery-check', undefined, undefined, {
      timeout: IDP_TIMEOUT_SECONDS,
      ...(isInsecure(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  } catch (error) {
    throw new AppError('VALIDATION_ERROR', `OIDC discovery failed for issuer ${issuer}: ${describe(error)}`, {
      fields: [{ path: 'issuer', message: 'discovery failed' }],
    });
  }
  const metadata = config.serverMetadata();
  const missing = (['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const).filter((k) => !metadata[k]);
  if (missing.length > 0) {
    throw new AppError('VALIDATION_ERROR', `OIDC issuer ${issuer} metadata lacks ${missing.join(', ')}`, {
      fields: [{ path: 'issuer', message: `metadata lacks ${missing.join(', ')}` }],
    });
  }
  const methods = metadata.code_challenge_methods_supported;
  if (methods && !methods.includes('S256')) {
    throw new AppError('VALIDATION_ERROR', `OIDC issuer ${issuer} does not support PKCE S256`, {
      fields: [{ path: 'issuer', message: 'PKCE S256 not supported' }],
    });
  }
  return JSON.parse(JSON.stringify(metadata)) as OidcConnectionConfig['metadata'];
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

function clientConfiguration(
  deps: SubgraphDeps,
  connection: SsoConnection,
  config: OidcConnectionConfig,
): oidc.Configuration {
  if (!connection.clientSecret) throw new Error(`OIDC connection ${connection.id} has no client secret`);
  const clientSecret = deps.secretBox.open(connection.clientSecret);
  const methods = (config.metadata.token_endpoint_auth_methods_supported as string[] | undefined) ?? [
    'client_secret_basic',
  ];
  // client_secret_basic is the registration default (OIDC Dynamic Registration 2); post when the IdP offers only that.
  const auth = methods.includes('client_secret_basic')
    ? oidc.ClientSecretBasic(clientSecret)
    : oidc.ClientSecretPost(clientSecret);
  const configuration = new oidc.Configuration(
    config.metadata as oidc.ServerMetadata,
    config.clientId,
    { client_secret: clientSecret },
    auth,
  );
  applyOptions(configuration, config.issuer);
  // Verify the ID token's signature against the IdP's JWKS even though it comes straight from the
  // token endpoint: the brief is signature, issuer and audience, not TLS alone.
  oidc.enableNonRepudiationChecks(configuration);
  return configuration;
}

export async function buildOidcAuthorizationUrl(
  deps: SubgraphDeps,
  connection: SsoConnection,
  config: OidcConnectionConfig,
  state: string,
): Promise<{ url: string; nonce: string; codeVerifier: string }> {
  const configuration = clientConfiguration(deps, connection, config);
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: config.redirectUri,
    response_type: 'code',
    scope: config.scopes.join(' '),
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  return { url: url.href, nonce, codeVerifier };
}

/**
 * Exchanges the code. openid-client checks the state, the issuer (`iss` in the response when the
 * IdP sends it), sends the PKCE verifier, and validates the ID token: signature, iss, aud, exp, nonce.
 */
export async function exchangeOidcCode(
  deps: SubgraphDeps,
  connection: SsoConnection,
  config: OidcConnectionConfig,
  checks: { params: URLSearchParams; state: string; nonce: string; codeVerifier: string },
): Promise<VerifiedIdentity> {
  const configuration = clientConfiguration(deps, connection, config);
  // The callback URL as registered, with the IdP's parameters: never the Host the request came in on.
  const currentUrl = new URL(config.redirectUri);
  currentUrl.search = checks.params.toString();
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(
      configuration,
      currentUrl,
      {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      },
      { redirect_uri: config.redirectUri },
    );
  } catch (error) {
    throw new AppError('UNAUTHORIZED', `OIDC sign-in failed: ${describe(error)}`);
  }
  const claims = tokens.claims();
  if (!claims) throw new AppError('UNAUTHORIZED', 'OIDC sign-in failed: no ID token');
  let email = typeof claims.email === 'string' ? claims.email : null;
  let emailVerified = claims.email_verified;
  let name = typeof claims.name === 'string' ? claims.name : null;
  // Many IdPs keep profile claims out of the ID token (oidc-provider's conformIdTokenClaims):
  // ask the userinfo endpoint, bound to the same subject.
  if (!email && config.metadata.userinfo_endpoint) {
    try {
      const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      email = typeof info.email === 'string' ? info.email : null;
      emailVerified = info.email_verified;
      name ??= typeof info.name === 'string' ? info.name : null;
    } catch (error) {
      throw new AppError('UNAUTHORIZED', `OIDC sign-in failed: userinfo: ${describe(error)}`);
    }
  }
  return { subject: claims.sub, email, emailVerified: emailVerified !== false, name };
}
