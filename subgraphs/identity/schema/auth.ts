import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  getCurrentUser,
  getTenantAuthSettings,
  login,
  register,
  updateTenantAuthSettings,
  type AuthResult,
  type TenantAuthSettings,
} from '../services/auth.js';
import { logout, refreshSession, restoreTokenRevocations } from '../services/sessions.js';
import { getJwks, rotateSigningKey, type PublicJwk, type SigningKeyInfo } from '../services/tokens.js';
import { UserRef } from './user.js';

const AuthSessionRef = builder.objectRef<AuthResult>('AuthSession').implement({
  description: 'A signed-in session: a one-hour access token (JWT) and a single-use refresh token.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    refreshToken: t.exposeString('refreshToken', { description: 'Opaque; replaced on every refresh' }),
    tokenType: t.exposeString('tokenType'),
    expiresIn: t.exposeInt('expiresIn', { description: 'Seconds until the access token expires' }),
    user: t.field({ type: UserRef, resolve: (session) => session.user }),
  }),
});

const JsonWebKeyRef = builder.objectRef<PublicJwk>('JsonWebKey').implement({
  description: 'A public signing key (RFC 7517), EC P-256 for ES256.',
  fields: (t) => ({
    kid: t.exposeString('kid'),
    kty: t.exposeString('kty'),
    crv: t.exposeString('crv'),
    x: t.exposeString('x'),
    y: t.exposeString('y'),
    alg: t.exposeString('alg'),
    use: t.exposeString('use'),
  }),
});

const JwksRef = builder.objectRef<{ keys: PublicJwk[] }>('JsonWebKeySet').implement({
  fields: (t) => ({ keys: t.field({ type: [JsonWebKeyRef], resolve: (set) => set.keys }) }),
});

const SigningKeyRef = builder.objectRef<SigningKeyInfo>('SigningKey').implement({
  fields: (t) => ({
    kid: t.exposeString('kid'),
    algorithm: t.exposeString('algorithm'),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    retiredAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.retiredAt }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a retired key leaves the JWKS',
      resolve: (k) => k.expiresAt,
    }),
  }),
});

const SigningKeyRotationRef = builder
  .objectRef<{ key: SigningKeyInfo; retired: SigningKeyInfo[] }>('SigningKeyRotation')
  .implement({
    fields: (t) => ({
      key: t.field({ type: SigningKeyRef, description: 'The new active key', resolve: (r) => r.key }),
      retired: t.field({ type: [SigningKeyRef], resolve: (r) => r.retired }),
    }),
  });

const TenantAuthSettingsRef = builder.objectRef<TenantAuthSettings>('TenantAuthSettings').implement({
  fields: (t) => ({
    tenantId: t.exposeID('tenantId'),
    registrationOpen: t.exposeBoolean('registrationOpen', {
      description: 'Whether anyone may self-register into the tenant (default false)',
    }),
    mfaRequired: t.exposeBoolean('mfaRequired', {
      description:
        'Stored policy. Sign-in already demands a code from every user with a verified factor; forcing ' +
        'enrolment on users without one is not enforced yet.',
    }),
  }),
});

builder.queryField('jwks', (t) =>
  t.field({
    type: JwksRef,
    description: 'Public: the keys access tokens are signed with (also at GET /.well-known/jwks.json).',
    resolve: async (_root, _args, ctx) => ({ keys: await getJwks({ deps: ctx.deps }) }),
  }),
);

builder.queryField('me', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'The signed-in user; null for callers that are not users (operator, API keys).',
    resolve: (_root, _args, ctx) => getCurrentUser({ deps: ctx.deps, principal: ctx.principal }),
  }),
);

builder.queryField('tenantAuthSettings', (t) =>
  t.field({
    type: TenantAuthSettingsRef,
    description: 'Requires read:users; tenantId only for callers bound to no tenant.',
    args: { tenantId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      getTenantAuthSettings({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: args.tenantId == null ? null : String(args.tenantId),
      }),
  }),
);

builder.mutationField('register', (t) =>
  t.field({
    type: AuthSessionRef,
    description:
      'Creates a tenant user with a password and signs them in. Open to anyone while the tenant allows ' +
      'self-registration; otherwise requires write:users for the tenant.',
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      tenantId: t.arg.id({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      register({
        deps: ctx.deps,
        principal: ctx.principal,
        client: ctx.client,
        input: { ...args, tenantId: String(args.tenantId) },
      }),
  }),
);

builder.mutationField('login', (t) =>
  t.field({
    type: AuthSessionRef,
    description:
      'Password sign-in. tenantId is needed only when the email belongs to several tenants; mfaCode once ' +
      'the account has a verified second factor.',
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      mfaCode: t.arg.string(),
      tenantId: t.arg.id(),
    },
    resolve: (_root, args, ctx) =>
      login({
        deps: ctx.deps,
        client: ctx.client,
        logger: ctx.logger,
        input: {
          email: args.email,
          password: args.password,
          mfaCode: args.mfaCode ?? null,
          tenantId: args.tenantId == null ? null : String(args.tenantId),
        },
      }),
  }),
);

builder.mutationField('refreshSession', (t) =>
  t.field({
    type: AuthSessionRef,
    description: 'Spends a refresh token for a new pair. A token used twice revokes its whole family (TOKEN_REUSED).',
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const { tokens, user } = await refreshSession({
        deps: ctx.deps,
        refreshToken: args.refreshToken,
        client: ctx.client,
      });
      return { ...tokens, user };
    },
  }),
);

builder.mutationField('logout', (t) =>
  t.boolean({
    description: "Ends the refresh token's sign-in; true even for an unknown token.",
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => logout({ deps: ctx.deps, refreshToken: args.refreshToken }),
  }),
);

builder.mutationField('restoreTokenRevocations', (t) =>
  t.int({
    description:
      "The gateway's recovery after the shared kv lost its revocation keys (Redis restarted or flushed): " +
      'writes back every revocation that can still refuse a live access token, from the database. ' +
      'Returns how many keys it wrote. Only the gateway may call it.',
    resolve: async (_root, _args, ctx) =>
      (await restoreTokenRevocations({ deps: ctx.deps, principal: ctx.principal })).restored,
  }),
);

builder.mutationField('rotateSigningKey', (t) =>
  t.field({
    type: SigningKeyRotationRef,
    description:
      'Requires admin:security from a caller bound to no tenant. New tokens are signed with a new key; ' +
      'the old one stays in the JWKS until its tokens expire.',
    resolve: (_root, _args, ctx) => rotateSigningKey({ deps: ctx.deps, principal: requirePrincipal(ctx.principal) }),
  }),
);

builder.mutationField('updateTenantAuthSettings', (t) =>
  t.field({
    type: TenantAuthSettingsRef,
    description: 'Requires write:users; tenantId only for callers bound to no tenant.',
    args: {
      tenantId: t.arg.id(),
      registrationOpen: t.arg.boolean(),
      mfaRequired: t.arg.boolean(),
    },
    resolve: (_root, args, ctx) =>
      updateTenantAuthSettings({
        deps: ctx.deps,
        principal: ctx.principal,
        input: {
          tenantId: args.tenantId == null ? undefined : String(args.tenantId),
          registrationOpen: args.registrationOpen,
          mfaRequired: args.mfaRequired,
        },
      }),
  }),
);
