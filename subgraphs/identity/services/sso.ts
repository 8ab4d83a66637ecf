import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, tenantScopeFor, type ClientInfo, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { assertUserLimit } from './user-limit.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type SsoConnection, type User } from '../../../prisma/generated/client.js';
import { issueSession } from './sessions.js';
import {
  buildOidcAuthorizationUrl,
  discoverOidcIssuer,
  exchangeOidcCode,
  oidcConfigSchema,
  type OidcConnectionConfig,
} from './sso-oidc.js';
import {
  buildSamlAuthnRequest,
  loadSamlIdpMetadata,
  samlConfigSchema,
  verifySamlResponse,
  type SamlConnectionConfig,
} from './sso-saml.js';

/**
 * Enterprise SSO (platform-forge "Enterprise SSO Module"): per-tenant OIDC and SAML connections,
 * the start of a login (a redirect to the IdP with server-side state), and its completion (the
 * IdP's answer verified, the user found, linked or provisioned, then a session issued).
 */

export type { SsoConnection };

/** Long enough to type a password and pass MFA at the IdP; short enough that a leaked state is useless. */
export const LOGIN_STATE_TTL_MS = 10 * 60_000;

const connectionName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "-" and "_", at most 63 characters');

const roles = z
  .array(z.string().regex(/^[a-z][a-z_:-]{0,39}$/))
  .min(1)
  .max(20);

const httpUrl = z.url({ protocol: /^https?$/ }).max(2048);

/** Where the client may ask to be sent back with tokens: exact URLs, never patterns (open redirects leak tokens). */
const allowedRedirectUris = z.array(httpUrl).max(20);

const commonConfigureFields = {
  tenantId: z.string().min(1).nullish(),
  jitProvisioning: z.boolean().default(true),
  defaultRoles: roles.default(['user']),
  allowedRedirectUris: allowedRedirectUris.default([]),
  enabled: z.boolean().default(true),
};

const configureOidcInput = z.object({
  name: connectionName.default('oidc'),
  issuer: httpUrl,
  clientId: z.string().min(1).max(512),
  clientSecret: z.string().min(1).max(4096),
  /** The gateway's OIDC callback as registered at the IdP: `…/api/v1/sso/callback/oidc`. */
  redirectUri: httpUrl,
  scopes: z
    .array(z.string().regex(/^[\x21-\x7e]+$/))
    .max(20)
    .default(['openid', 'email', 'profile']),
  ...commonConfigureFields,
});

const configureSamlInput = z
  .object({
    name: connectionName.default('saml'),
    idpMetadataUrl: httpUrl.nullish(),
    idpMetadata: z
      .string()
      .min(1)
      .max(512 * 1024)
      .nullish(),
    spEntityId: z.string().min(1).max(1024),
    /** The gateway's SAML assertion consumer service; see defaultAcsUrl. */
    acsUrl: httpUrl.nullish(),
    attributeMapping: z.partialRecord(z.enum(['email', 'name']), z.string().min(1).max(1024)).default({}),
    ...commonConfigureFields,
  })
  .refine((v) => Boolean(v.idpMetadataUrl) !== Boolean(v.idpMetadata), {
    message: 'Give exactly one of idp_metadata_url and idp_metadata',
    path: ['idpMetadataUrl'],
  });

/**
 * The spec's SAML body names no assertion consumer URL. The service provider is this platform, and
 * sp_entity_id is conventionally its URL, so the callback path under that origin is the default;
 * acs_url overrides it when the public API lives elsewhere.
 */
function defaultAcsUrl(spEntityId: string): string {
  let origin: string;
  try {
    origin = new URL(spEntityId).origin;
  } catch {
    throw new AppError('VALIDATION_ERROR', 'acs_url is required when sp_entity_id is not a URL', {
      fields: [{ path: 'acsUrl', message: 'required when sp_entity_id is not a URL' }],
    });
  }
  if (origin === 'null')
    throw new AppError('VALIDATION_ERROR', 'acs_url is required when sp_entity_id is not an http(s) URL');
  return `${origin}/api/v1/sso/callback/saml`;
}

/** Plain http to an IdP is for local development and tests only. */
export function allowsInsecureIdp(deps: SubgraphDeps): boolean {
  return deps.environment !== 'production';
}

function assertSecureUrl(deps: SubgraphDeps, url: string, field: string): void {
  if (new URL(url).protocol !== 'https:' && !allowsInsecureIdp(deps)) {
    throw new AppError('VALIDATION_ERROR', `${field} must use https`, {
      fields: [{ path: field, message: 'must use https' }],
    });
  }
}

async function upsertConnection(
  deps: SubgraphDeps,
  data: {
    tenantId: string;
    protocol: 'oidc' | 'saml';
    name: string;
    config: OidcConnectionConfig | SamlConnectionConfig;
    clientSecret: string | null;
    jitProvisioning: boolean;
    defaultRoles: string[];
    enabled: boolean;
  },
): Promise<SsoConnection> {
  const existing = await deps.db.prisma.ssoConnection.findUnique({
    where: { tenantId_name: { tenantId: data.tenantId, name: data.name } },
  });
  if (existing && existing.protocol !== data.protocol) {
    throw new AppError('CONFLICT', `Connection "${data.name}" is a ${existing.protocol} connection in this tenant`, {
      name: data.name,
      protocol: existing.protocol,
    });
  }
  const fields = {
    config: data.config as unknown as Prisma.InputJsonValue,
    // Sealed: it must be sent to the IdP, so it is stored readable only with the secrets key.
    clientSecret: data.clientSecret === null ? null : deps.secretBox.seal(data.clientSecret),
    jitProvisioning: data.jitProvisioning,
    defaultRoles: data.defaultRoles,
    enabled: data.enabled,
  };
  // Configuring the same name again replaces its settings: an admin rotating a secret or a
  // certificate re-posts the whole configuration, as the spec's POST suggests.
  return deps.db.prisma.ssoConnection.upsert({
    where: { tenantId_name: { tenantId: data.tenantId, name: data.name } },
    create: { id: newId('sso'), tenantId: data.tenantId, protocol: data.protocol, name: data.name, ...fields },
    update: fields,
  });
}

export async function configureOidcConnection({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof configureOidcInput>;
}): Promise<SsoConnection> {
  requireScope(principal, 'admin:security');
  const data = parseInput(configureOidcInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  assertSecureUrl(deps, data.issuer, 'issuer');
  // Validated now rather than at the first login: an unreachable issuer or bad metadata is the
  // admin's mistake to see, not the end user's.
  const metadata = await discoverOidcIssuer(deps, data.issuer);
  const config: OidcConnectionConfig = {
    issuer: metadata.issuer,
    clientId: data.clientId,
    redirectUri: data.redirectUri,
    scopes: data.scopes.includes('openid') ? data.scopes : ['openid', ...data.scopes],
    allowedRedirectUris: data.allowedRedirectUris,
    metadata,
  };
  return upsertConnection(deps, {
    tenantId,
    protocol: 'oidc',
    name: data.name,
    config,
    clientSecret: data.clientSecret,
    jitProvisioning: data.jitProvisioning,
    defaultRoles: data.defaultRoles,
    enabled: data.enabled,
  });
}

export async function configureSamlConnection({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof configureSamlInput>;
}): Promise<SsoConnection> {
  requireScope(principal, 'admin:security');
  const data = parseInput(configureSamlInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  if (data.idpMetadataUrl) assertSecureUrl(deps, data.idpMetadataUrl, 'idpMetadataUrl');
  const acsUrl = data.acsUrl ?? defaultAcsUrl(data.spEntityId);
  // The metadata is fetched once and kept: the certificates trusted for signatures change only
  // when an admin configures again, never because a metadata URL started answering differently.
  const idp = await loadSamlIdpMetadata({ url: data.idpMetadataUrl ?? null, xml: data.idpMetadata ?? null });
  const config: SamlConnectionConfig = {
    idpEntityId: idp.entityId,
    idpMetadata: idp.xml,
    idpMetadataUrl: data.idpMetadataUrl ?? null,
    spEntityId: data.spEntityId,
    acsUrl,
    attributeMapping: data.attributeMapping,
    allowedRedirectUris: data.allowedRedirectUris,
  };
  return upsertConnection(deps, {
    tenantId,
    protocol: 'saml',
    name: data.name,
    config,
    clientSecret: null,
    jitProvisioning: data.jitProvisioning,
    defaultRoles: data.defaultRoles,
    enabled: data.enabled,
  });
}

/** The protocol settings of a connection as stored, typed by protocol. */
export function readConnectionConfig(
  connection: SsoConnection,
): { protocol: 'oidc'; config: OidcConnectionConfig } | { protocol: 'saml'; config: SamlConnectionConfig } {
  if (connection.protocol === 'oidc') return { protocol: 'oidc', config: oidcConfigSchema.parse(connection.config) };
  if (connection.protocol === 'saml') return { protocol: 'saml', config: samlConfigSchema.parse(connection.config) };
  throw new Error(`Unknown SSO protocol ${connection.protocol}`);
}

const startLoginInput = z.object({
  tenantId: z.string().min(1),
  provider: connectionName,
  redirectUri: httpUrl.nullish(),
  state: z.string().min(1).max(512).nullish(),
});

export interface SsoLoginStart {
  /** Where the browser goes next: the IdP's authorization endpoint or SSO service. */
  authorizationUrl: string;
  protocol: 'oidc' | 'saml';
  expiresAt: Date;
}

/**
 * The tokens go back in the URL fragment, so the client's state rides in the fragment too. Kept
 * with the redirect URI in sso_login_states.redirect_uri (the table has no column for it): the row
 * then holds exactly where the browser ends up, minus the tokens.
 */
function returnUrlFor(redirectUri: string, clientState: string | null | undefined): string {
  const url = new URL(redirectUri);
  url.hash = clientState ? new URLSearchParams({ state: clientState }).toString() : '';
  return url.toString();
}

function assertAllowedRedirect(allowed: readonly string[], redirectUri: string): void {
  // Exact match: a prefix or origin rule would let a path on a shared host receive the tokens.
  if (!allowed.includes(redirectUri)) {
    throw new AppError('VALIDATION_ERROR', "redirect_uri is not one of the connection's allowed redirect URIs", {
      fields: [{ path: 'redirect_uri', message: 'not allowed for this connection' }],
    });
  }
}

async function findEnabledConnection(deps: SubgraphDeps, tenantId: string, name: string): Promise<SsoConnection> {
  const connection = await deps.db.prisma.ssoConnection.findUnique({
    where: { tenantId_name: { tenantId, name } },
  });
  if (!connection || !connection.enabled) {
    throw new AppError('NOT_FOUND', `No SSO provider "${name}" for this tenant`, { provider: name });
  }
  return connection;
}

/** Anyone may start a login: who they are is what the IdP is about to tell us. */
export async function startSsoLogin({
  deps,
  input,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof startLoginInput>;
}): Promise<SsoLoginStart> {
  const data = parseInput(startLoginInput, input);
  const connection = await findEnabledConnection(deps, data.tenantId, data.provider);
  const settings = readConnectionConfig(connection);
  if (data.redirectUri) assertAllowedRedirect(settings.config.allowedRedirectUris, data.redirectUri);

  const now = Date.now();
  const expiresAt = new Date(now + LOGIN_STATE_TTL_MS);
  // 256 bits, server-generated: the only key to the stored nonce and PKCE verifier.
  const state = randomBytes(32).toString('base64url');
  // Expired rows are swept here rather than by a job: the table only grows through this path.
  await deps.db.prisma.ssoLoginState.deleteMany({ where: { expiresAt: { lt: new Date(now) } } });

  const redirectUri = data.redirectUri ? returnUrlFor(data.redirectUri, data.state) : null;
  if (settings.protocol === 'oidc') {
    const request = await buildOidcAuthorizationUrl(deps, connection, settings.config, state);
    await deps.db.prisma.ssoLoginState.create({
      data: {
        state,
        connectionId: connection.id,
        nonce: request.nonce,
        codeVerifier: request.codeVerifier,
        redirectUri,
        expiresAt,
      },
    });
    return { authorizationUrl: request.url, protocol: 'oidc', expiresAt };
  }
  const request = buildSamlAuthnRequest(settings.config, state);
  // SAML has no nonce: the AuthnRequest ID plays its part, checked against InResponseTo.
  await deps.db.prisma.ssoLoginState.create({
    data: { state, connectionId: connection.id, nonce: request.requestId, codeVerifier: null, redirectUri, expiresAt },
  });
  return { authorizationUrl: request.url, protocol: 'saml', expiresAt };
}

/**
 * Takes the login state out of the table: deleting is what makes it single use, since two
 * concurrent callbacks cannot both delete the same row.
 */
async function consumeLoginState(deps: SubgraphDeps, state: string, protocol: 'oidc' | 'saml') {
  let row;
  try {
    row = await deps.db.prisma.ssoLoginState.delete({ where: { state } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') row = null;
    else throw error;
  }
  if (!row) throw new AppError('UNAUTHORIZED', 'Unknown or already used SSO login state');
  if (row.expiresAt.getTime() < Date.now()) throw new AppError('UNAUTHORIZED', 'SSO login state has expired');
  const connection = await deps.db.prisma.ssoConnection.findUnique({ where: { id: row.connectionId } });
  if (!connection || !connection.enabled || connection.protocol !== protocol) {
    throw new AppError('UNAUTHORIZED', 'The SSO connection for this login is no longer available');
  }
  return { row, connection };
}

/** What an IdP asserted about the user, after its signature and checks passed. */
export interface VerifiedIdentity {
  subject: string;
  email: string | null;
  /** false only when the IdP says so; IdPs that omit the claim are trusted as configured by the tenant's admin. */
  emailVerified: boolean;
  name: string | null;
}

export interface SsoSignIn {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  user: User;
  /** True when the account was created just now (JIT provisioning). */
  provisioned: boolean;
  /** The client's redirect URI with tokens and state in the fragment; null when none was given. */
  redirectTo: string | null;
}

const emailSchema = z.email().max(320);

/**
 * Finds the tenant user for a verified identity: by a link made earlier, else by email (and links
 * it), else creates one when the connection allows just-in-time provisioning.
 */
async function resolveSsoUser(
  deps: SubgraphDeps,
  connection: SsoConnection,
  identity: VerifiedIdentity,
): Promise<{ user: User; provisioned: boolean }> {
  const prisma = deps.db.prisma;
  const linked = await prisma.ssoIdentity.findUnique({
    where: { connectionId_subject: { connectionId: connection.id, subject: identity.subject } },
    include: { user: true },
  });
  if (linked && linked.user.tenantId === connection.tenantId) return { user: linked.user, provisioned: false };

  const email = identity.email?.toLowerCase() ?? null;
  if (!email || !emailSchema.safeParse(email).success) {
    throw new AppError('UNAUTHORIZED', 'The identity provider did not assert a valid email address for this user');
  }
  const directory = `tenant:${connection.tenantId}`;
  const existing = await prisma.user.findUnique({ where: { directory_email: { directory, email } } });
  if (existing) {
    // Linking hands the account to whoever holds this IdP identity: only on an email the IdP vouches for.
    if (!identity.emailVerified) {
      throw new AppError('UNAUTHORIZED', 'The identity provider says this email address is not verified');
    }
    await prisma.ssoIdentity.create({
      data: { id: newId('ssoid'), userId: existing.id, connectionId: connection.id, subject: identity.subject },
    });
    return { user: existing, provisioned: false };
  }
  if (!connection.jitProvisioning) {
    throw new AppError(
      'REGISTRATION_CLOSED',
      `No account for ${email} in this tenant, and connection "${connection.name}" does not create accounts`,
    );
  }
  await assertUserLimit(deps, connection.tenantId);
  try {
    const user = await prisma.$transaction(async (tx) => {
      const created = await tx.user.create({
        data: {
          id: newId('usr'),
          tenantId: connection.tenantId,
          directory,
          email,
          name: identity.name?.trim().slice(0, 200) || email,
          roles: connection.defaultRoles,
          // SSO-only: no password, so no password sign-in until the user sets one.
          passwordHash: null,
        },
      });
      await tx.ssoIdentity.create({
        data: { id: newId('ssoid'), userId: created.id, connectionId: connection.id, subject: identity.subject },
      });
      return created;
    });
    return { user, provisioned: true };
  } catch (error) {
    // Two first logins racing: the loser finds the account the winner made.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      return resolveSsoUser(deps, connection, identity);
    }
    throw error;
  }
}

async function signIn(
  deps: SubgraphDeps,
  client: ClientInfo,
  connection: SsoConnection,
  identity: VerifiedIdentity,
  returnUrl: string | null,
): Promise<SsoSignIn> {
  const { user, provisioned } = await resolveSsoUser(deps, connection, identity);
  if (user.status !== 'active') throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
  const session = await issueSession({ deps, user, client });
  let redirectTo: string | null = null;
  if (returnUrl) {
    const url = new URL(returnUrl);
    const fragment = new URLSearchParams(url.hash.slice(1));
    fragment.set('access_token', session.accessToken);
    fragment.set('refresh_token', session.refreshToken);
    fragment.set('token_type', session.tokenType);
    fragment.set('expires_in', String(session.expiresIn));
    url.hash = fragment.toString();
    redirectTo = url.toString();
  }
  return {
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    tokenType: session.tokenType,
    expiresIn: session.expiresIn,
    user,
    provisioned,
    redirectTo,
  };
}

const completeOidcInput = z.object({
  /** The query string the IdP sent to the callback (`code`, `state`, `iss`, or `error`). */
  callbackQuery: z.string().max(16 * 1024),
});

export async function completeOidcLogin({
  deps,
  client,
  input,
}: {
  deps: SubgraphDeps;
  client: ClientInfo;
  input: z.input<typeof completeOidcInput>;
}): Promise<SsoSignIn> {
  const data = parseInput(completeOidcInput, input);
  const params = new URLSearchParams(data.callbackQuery);
  const state = params.get('state');
  if (!state) throw new AppError('UNAUTHORIZED', 'The SSO callback carries no state');
  const { row, connection } = await consumeLoginState(deps, state, 'oidc');
  const settings = readConnectionConfig(connection);
  if (settings.protocol !== 'oidc' || !row.codeVerifier || !row.nonce) {
    throw new AppError('UNAUTHORIZED', 'SSO login state does not belong to an OIDC login');
  }
  const identity = await exchangeOidcCode(deps, connection, settings.config, {
    params,
    state: row.state,
    nonce: row.nonce,
    codeVerifier: row.codeVerifier,
  });
  return signIn(deps, client, connection, identity, row.redirectUri);
}

const completeSamlInput = z.object({
  samlResponse: z
    .string()
    .min(1)
    .max(1024 * 1024),
  relayState: z.string().min(1).max(512),
});

export async function completeSamlLogin({
  deps,
  client,
  input,
}: {
  deps: SubgraphDeps;
  client: ClientInfo;
  input: z.input<typeof completeSamlInput>;
}): Promise<SsoSignIn> {
  const data = parseInput(completeSamlInput, input);
  const { row, connection } = await consumeLoginState(deps, data.relayState, 'saml');
  const settings = readConnectionConfig(connection);
  if (settings.protocol !== 'saml' || !row.nonce) {
    throw new AppError('UNAUTHORIZED', 'SSO login state does not belong to a SAML login');
  }
  const identity = await verifySamlResponse(settings.config, { samlResponse: data.samlResponse, requestId: row.nonce });
  return signIn(deps, client, connection, identity, row.redirectUri);
}
