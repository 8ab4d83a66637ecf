import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

/**
 * platform-forge "Enterprise SSO Module". Configuration is an admin action on the caller's own
 * tenant (admin:security, checked by identity); login is public and answers a redirect to the IdP.
 * The IdP's callbacks are not documented endpoints, so they are served outside this table
 * (gateway/sso-callback.ts).
 */

const ConnectionFields = graphql(`
  fragment ConnectionFields on SsoConnection {
    id
    tenantId
    name
    protocol
    enabled
    jitProvisioning
    defaultRoles
    clientSecretSet
    settings
    createdAt
    updatedAt
  }
`);

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Top-level keys only: attribute_mapping's keys and values are the admin's own words. */
function snakeKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [snakeCase(k), v]));
}

function toConnection(c: ResultOf<typeof ConnectionFields>) {
  return {
    id: c.id,
    tenant_id: c.tenantId,
    name: c.name,
    protocol: c.protocol as 'oidc' | 'saml',
    enabled: c.enabled,
    jit_provisioning: c.jitProvisioning,
    default_roles: c.defaultRoles,
    client_secret_set: c.clientSecretSet,
    // JSON: identity answers the connection's settings as an object.
    settings: snakeKeys(c.settings as Record<string, unknown>),
    // The URL has no tenant (connections are named per tenant), so the login link carries it.
    login_url: `/api/v1/sso/login/${encodeURIComponent(c.name)}?tenant_id=${encodeURIComponent(c.tenantId)}`,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

const connectionResponse = z.object({
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  protocol: z.enum(['oidc', 'saml']),
  enabled: z.boolean(),
  jit_provisioning: z.boolean(),
  default_roles: z.array(z.string()),
  client_secret_set: z.boolean().describe('The secret itself is never returned'),
  settings: z.record(z.string(), z.unknown()),
  login_url: z.string(),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

/** Fields both protocols take beyond the documented ones; every one optional. */
const commonBody = {
  name: z.string().optional().describe('The {provider} of /sso/login/{provider}; default "oidc" or "saml"'),
  tenant_id: z.string().optional().describe('Only for a caller not bound to a tenant (the operator)'),
  jit_provisioning: z.boolean().optional().describe('Create unknown users at first login; default true'),
  default_roles: z.array(z.string()).optional().describe('Roles of users created at first login; default ["user"]'),
  allowed_redirect_uris: z
    .array(z.string())
    .optional()
    .describe('Exact URLs a login may send the user back to with tokens; none: tokens are answered as JSON'),
  enabled: z.boolean().optional(),
};

const commonVariables = (body: {
  name?: string | undefined;
  tenant_id?: string | undefined;
  jit_provisioning?: boolean | undefined;
  default_roles?: string[] | undefined;
  allowed_redirect_uris?: string[] | undefined;
  enabled?: boolean | undefined;
}) => ({
  name: body.name,
  tenantId: body.tenant_id,
  jitProvisioning: body.jit_provisioning,
  defaultRoles: body.default_roles,
  allowedRedirectUris: body.allowed_redirect_uris,
  enabled: body.enabled,
});

const configureSaml = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/sso/saml/configure',
  summary: 'Configure a SAML 2.0 identity provider for the tenant',
  operation: graphql(
    `
      mutation ConfigureSaml($input: ConfigureSamlConnectionInput!) {
        configureSamlConnection(input: $input) {
          ...ConnectionFields
        }
      }
    `,
    [ConnectionFields],
  ),
  input: {
    body: z.object({
      idp_metadata_url: z.string().optional().describe('Fetched once, now; or give idp_metadata'),
      idp_metadata: z.string().optional().describe('The IdP metadata XML itself'),
      sp_entity_id: z.string(),
      acs_url: z.string().optional().describe('Default: /api/v1/sso/callback/saml at the origin of sp_entity_id'),
      attribute_mapping: z.record(z.string(), z.string()).optional().describe('email and name: SAML attribute names'),
      ...commonBody,
    }),
  },
  variables: ({ body }) => ({
    input: {
      idpMetadataUrl: body.idp_metadata_url,
      idpMetadata: body.idp_metadata,
      spEntityId: body.sp_entity_id,
      acsUrl: body.acs_url,
      attributeMapping: body.attribute_mapping,
      ...commonVariables(body),
    },
  }),
  respond: (data) => toConnection(data.configureSamlConnection),
  rateLimit: 'platform-forge.admin',
  response: connectionResponse,
});

const configureOidc = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/sso/oidc/configure',
  summary: 'Configure an OpenID Connect identity provider for the tenant (discovery is checked now)',
  operation: graphql(
    `
      mutation ConfigureOidc($input: ConfigureOidcConnectionInput!) {
        configureOidcConnection(input: $input) {
          ...ConnectionFields
        }
      }
    `,
    [ConnectionFields],
  ),
  input: {
    body: z.object({
      issuer: z.string(),
      client_id: z.string(),
      client_secret: z.string(),
      redirect_uri: z.string().describe("The gateway's /api/v1/sso/callback/oidc, as registered at the IdP"),
      scopes: z.array(z.string()).optional().describe('Default: openid email profile'),
      ...commonBody,
    }),
  },
  variables: ({ body }) => ({
    input: {
      issuer: body.issuer,
      clientId: body.client_id,
      clientSecret: body.client_secret,
      redirectUri: body.redirect_uri,
      scopes: body.scopes,
      ...commonVariables(body),
    },
  }),
  respond: (data) => toConnection(data.configureOidcConnection),
  rateLimit: 'platform-forge.admin',
  response: connectionResponse,
});

const login = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/sso/login/{provider}',
  summary: 'Start an SSO login: redirects to the identity provider',
  operation: graphql(`
    mutation StartSsoLogin($input: StartSsoLoginInput!) {
      startSsoLogin(input: $input) {
        authorizationUrl
        protocol
        expiresAt
      }
    }
  `),
  input: {
    params: z.object({ provider: z.string() }),
    query: z.object({
      tenant_id: z.string().min(1).describe('The tenant whose connection {provider} is'),
      redirect_uri: z
        .string()
        .optional()
        .describe("Post-login redirect; one of the connection's allowed_redirect_uris. Tokens come in its fragment"),
      state: z.string().optional().describe('CSRF protection state, echoed back in the fragment with the tokens'),
    }),
  },
  variables: ({ params, query }) => ({
    input: {
      tenantId: query.tenant_id,
      provider: params.provider,
      redirectUri: query.redirect_uri,
      state: query.state,
    },
  }),
  respond: (data) => ({
    authorization_url: data.startSsoLogin.authorizationUrl,
    protocol: data.startSsoLogin.protocol as 'oidc' | 'saml',
    expires_at: data.startSsoLogin.expiresAt,
  }),
  redirect: (payload) => payload.authorization_url,
  rateLimit: 'platform-forge.auth',
  response: z.object({ authorization_url: z.string(), protocol: z.enum(['oidc', 'saml']), expires_at: isoTimestamp }),
});

export const platformForgeSsoRoutes: RestRoute[] = [configureSaml, configureOidc, login];
