import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  createApiKey,
  deleteApiKey,
  listApiKeys,
  resolveApiKey,
  standingApiKeys,
  type ApiKeyView,
  type ResolvedApiKey,
} from '../services/api-keys.js';

const ApiKeyRef = builder.objectRef<ApiKeyView>('ApiKey').implement({
  description: 'An API key of a project. The full key is shown only when it is created.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    projectId: t.exposeID('projectId'),
    name: t.exposeString('name'),
    maskedKey: t.exposeString('maskedKey', { description: 'e.g. tenantsdb_sk_3cc0…d501' }),
    scopes: t.exposeStringList('scopes'),
    tier: t.exposeString('tier'),
    isActive: t.exposeBoolean('isActive', { description: 'Not deleted and not expired' }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Updated when a gateway resolves the key: at most once a minute, as gateways cache keys that long.',
      resolve: (k) => k.lastUsedAt,
    }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ apiKey: ApiKeyView; key: string }>('CreatedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (r) => r.apiKey }),
    key: t.exposeString('key', { description: 'The full key: shown this once, stored only as a hash' }),
  }),
});

const ResolvedApiKeyRef = builder.objectRef<ResolvedApiKey>('ResolvedApiKey').implement({
  description: "What the gateway builds an API key's principal from.",
  fields: (t) => ({
    keyId: t.exposeID('keyId'),
    projectId: t.exposeID('projectId'),
    scopes: t.exposeStringList('scopes'),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKeyRef],
    description: "Every key of the caller's account, masked, newest first. Deleted keys are not listed.",
    resolve: (_root, _args, ctx) => listApiKeys({ deps: ctx.deps, principal: requirePrincipal(ctx.principal) }),
  }),
);

builder.queryField('resolveApiKey', (t) =>
  t.field({
    type: ResolvedApiKeyRef,
    nullable: true,
    description:
      "The gateway's credential check: the key with this SHA-256, or null when unknown, revoked or expired. " +
      'Only the gateway may call it.',
    args: { keyHash: t.arg.string({ required: true }) },
    resolve: (_root, { keyHash }, ctx) => resolveApiKey({ deps: ctx.deps, principal: ctx.principal, input: { keyHash } }),
  }),
);

builder.queryField('standingApiKeys', (t) =>
  t.field({
    type: ['ID'],
    description:
      'Of these key ids, the ones still valid (not revoked or expired, project and account active), for the ' +
      "gateway's re-check of sessions that run as a key. Only the gateway may call it.",
    args: { keyIds: t.arg.idList({ required: true }) },
    resolve: (_root, { keyIds }, ctx) =>
      standingApiKeys({ deps: ctx.deps, principal: ctx.principal, keyIds: keyIds.map(String) }),
  }),
);

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKeyRef,
    description:
      "A new key for one of the caller's projects (default: the calling key's project). Scopes default to the " +
      "caller's own project scopes and can only be narrowed; system scopes only from the operator.",
    args: {
      projectId: t.arg.id({ required: false }),
      name: t.arg.string({ required: true }),
      scopes: t.arg.stringList({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      createApiKey({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          projectId: args.projectId == null ? null : String(args.projectId),
          name: args.name,
          scopes: args.scopes,
        },
      }),
  }),
);

builder.mutationField('deleteApiKey', (t) =>
  t.field({
    type: ApiKeyRef,
    description: "Revokes a key of the caller's account; every gateway stops accepting it at once.",
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      deleteApiKey({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), input: { id }, logger: ctx.logger }),
  }),
);
