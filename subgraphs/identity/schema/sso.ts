import { requirePrincipal } from '../../../lib/principal.js';
import { listOidcIssuers, MAX_OIDC_ISSUERS, type OidcIssuerEntry } from '../services/sso-issuers.js';
import { builder } from '../builder.js';
import {
  completeOidcLogin,
  completeSamlLogin,
  configureOidcConnection,
  configureSamlConnection,
  readConnectionConfig,
  startSsoLogin,
  type SsoConnection,
  type SsoLoginStart,
  type SsoSignIn,
} from '../services/sso.js';

/** Settings are shown back to the admin; the client secret never is, only whether one is set. */
const SsoConnectionRef = builder.objectRef<SsoConnection>('SsoConnection').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    name: t.exposeString('name', { description: 'The {provider} of /sso/login/{provider}' }),
    protocol: t.exposeString('protocol', { description: 'oidc | saml' }),
    enabled: t.exposeBoolean('enabled'),
    jitProvisioning: t.exposeBoolean('jitProvisioning'),
    defaultRoles: t.exposeStringList('defaultRoles'),
    clientSecretSet: t.boolean({ resolve: (c) => c.clientSecret !== null }),
    settings: t.field({
      type: 'JSON',
      description: 'Protocol settings as stored, without secrets and without the raw IdP metadata',
      resolve: (c) => {
        const parsed = readConnectionConfig(c);
        if (parsed.protocol === 'oidc') {
          const { metadata, ...rest } = parsed.config;
          return { ...rest, authorizationEndpoint: metadata.authorization_endpoint ?? null };
        }
        const { idpMetadata: _xml, ...rest } = parsed.config;
        return rest;
      },
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => c.updatedAt }),
  }),
});

const ConfigureOidcInput = builder.inputType('ConfigureOidcConnectionInput', {
  fields: (t) => ({
    tenantId: t.id({ description: 'Only for a caller not bound to a tenant (the operator)' }),
    name: t.string({ description: 'The {provider} in the login URL; default "oidc"' }),
    issuer: t.string({ required: true }),
    clientId: t.string({ required: true }),
    clientSecret: t.string({ required: true }),
    redirectUri: t.string({ required: true, description: "The gateway's /api/v1/sso/callback/oidc as registered at the IdP" }),
    scopes: t.stringList(),
    jitProvisioning: t.boolean(),
    defaultRoles: t.stringList(),
    allowedRedirectUris: t.stringList({ description: 'Where a login may send the user back with tokens (exact URLs)' }),
    enabled: t.boolean(),
  }),
});

const ConfigureSamlInput = builder.inputType('ConfigureSamlConnectionInput', {
  fields: (t) => ({
    tenantId: t.id({ description: 'Only for a caller not bound to a tenant (the operator)' }),
    name: t.string({ description: 'The {provider} in the login URL; default "saml"' }),
    idpMetadataUrl: t.string({ description: 'Fetched once at configure time; or give idpMetadata' }),
    idpMetadata: t.string({ description: 'The IdP metadata XML itself' }),
    spEntityId: t.string({ required: true }),
    acsUrl: t.string({ description: 'Default: /api/v1/sso/callback/saml at the origin of spEntityId' }),
    attributeMapping: t.field({ type: 'JSON', description: '{ email?: attribute name, name?: attribute name }' }),
    jitProvisioning: t.boolean(),
    defaultRoles: t.stringList(),
    allowedRedirectUris: t.stringList({ description: 'Where a login may send the user back with tokens (exact URLs)' }),
    enabled: t.boolean(),
  }),
});

/** GraphQL nulls become absent fields, so the service's defaults apply. */
function withoutNulls<T extends Record<string, unknown>>(input: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null)) as never;
}

builder.mutationField('configureOidcConnection', (t) =>
  t.field({
    type: SsoConnectionRef,
    description: "Requires admin:security. Creates or replaces an OIDC connection of the caller's tenant; validates discovery.",
    args: { input: t.arg({ type: ConfigureOidcInput, required: true }) },
    resolve: (_root, args, ctx) =>
      configureOidcConnection({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: withoutNulls({ ...args.input, tenantId: args.input.tenantId == null ? null : String(args.input.tenantId) }),
      }),
  }),
);

builder.mutationField('configureSamlConnection', (t) =>
  t.field({
    type: SsoConnectionRef,
    description: "Requires admin:security. Creates or replaces a SAML connection of the caller's tenant; validates the IdP metadata.",
    args: { input: t.arg({ type: ConfigureSamlInput, required: true }) },
    resolve: (_root, args, ctx) =>
      configureSamlConnection({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: withoutNulls({
          ...args.input,
          tenantId: args.input.tenantId == null ? null : String(args.input.tenantId),
          attributeMapping: args.input.attributeMapping as Record<string, string> | null | undefined,
        }) as never,
      }),
  }),
);

const SsoLoginStartRef = builder.objectRef<SsoLoginStart>('SsoLoginStart').implement({
  fields: (t) => ({
    authorizationUrl: t.exposeString('authorizationUrl', { description: "The IdP's URL the browser is redirected to" }),
    protocol: t.exposeString('protocol'),
    expiresAt: t.field({ type: 'DateTime', resolve: (s) => s.expiresAt }),
  }),
});

const StartSsoLoginInput = builder.inputType('StartSsoLoginInput', {
  fields: (t) => ({
    tenantId: t.id({ required: true }),
    provider: t.string({ required: true }),
    redirectUri: t.string({ description: 'Where the user returns with tokens; must be allowed by the connection' }),
    state: t.string({ description: "The client's CSRF state, echoed back with the tokens" }),
  }),
});

builder.mutationField('startSsoLogin', (t) =>
  t.field({
    type: SsoLoginStartRef,
    description: 'Public. Starts an SSO login: stores state, nonce and PKCE verifier and answers the IdP URL.',
    args: { input: t.arg({ type: StartSsoLoginInput, required: true }) },
    resolve: (_root, args, ctx) =>
      startSsoLogin({ deps: ctx.deps, input: { ...args.input, tenantId: String(args.input.tenantId) } }),
  }),
);

const SsoSignInRef = builder.objectRef<SsoSignIn>('SsoSignIn').implement({
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    refreshToken: t.exposeString('refreshToken'),
    tokenType: t.exposeString('tokenType'),
    expiresIn: t.exposeInt('expiresIn'),
    userId: t.id({ resolve: (s) => s.user.id }),
    email: t.string({ resolve: (s) => s.user.email }),
    tenantId: t.id({ resolve: (s) => s.user.tenantId! }),
    provisioned: t.exposeBoolean('provisioned', { description: 'True when the account was created by this sign-in' }),
    redirectTo: t.exposeString('redirectTo', {
      nullable: true,
      description: "The client's redirect URI with tokens and state in the fragment",
    }),
  }),
});

builder.mutationField('completeOidcLogin', (t) =>
  t.field({
    type: SsoSignInRef,
    description: 'Public (the gateway callback). Verifies the OIDC callback and signs the user in.',
    args: { callbackQuery: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      completeOidcLogin({ deps: ctx.deps, client: ctx.client, input: { callbackQuery: args.callbackQuery } }),
  }),
);

builder.mutationField('completeSamlLogin', (t) =>
  t.field({
    type: SsoSignInRef,
    description: 'Public (the gateway callback). Verifies a signed SAML response and signs the user in.',
    args: { samlResponse: t.arg.string({ required: true }), relayState: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      completeSamlLogin({
        deps: ctx.deps,
        client: ctx.client,
        input: { samlResponse: args.samlResponse, relayState: args.relayState },
      }),
  }),
);

const OidcIssuerRef = builder.objectRef<OidcIssuerEntry>('OidcIssuer').implement({
  fields: (t) => ({
    issuer: t.exposeString('issuer'),
    connections: t.exposeInt('connections', { description: 'Enabled OIDC connections using it' }),
  }),
});

builder.queryField('oidcIssuers', (t) =>
  t.field({
    type: [OidcIssuerRef],
    description: `Distinct OIDC issuers of the enabled SSO connections (at most ${MAX_OIDC_ISSUERS}), for the platform's health probes. Platform's service principal only.`,
    resolve: (_root, _args, ctx) => listOidcIssuers({ deps: ctx.deps, principal: ctx.principal }),
  }),
);
