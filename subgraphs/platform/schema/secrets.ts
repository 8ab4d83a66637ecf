import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  getSecret,
  rotateSecret,
  setSecret,
  type RotationResult,
  type SecretReadResult,
  type SecretWriteResult,
} from '../services/secrets/secret-store.js';

const SecretRef = builder.objectRef<SecretReadResult>('Secret').implement({
  description: 'One version of a secret, opened. Its values are never logged.',
  fields: (t) => ({
    path: t.exposeString('path'),
    version: t.exposeInt('version'),
    currentVersion: t.exposeInt('currentVersion'),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.expiresAt }),
    data: t.field({ type: 'JSON', resolve: (s) => s.data }),
    metadata: t.field({ type: 'JSON', resolve: (s) => s.metadata }),
    createdBy: t.exposeString('createdBy'),
    lastRotatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastRotatedAt }),
    rotationPolicy: t.exposeString('rotationPolicy', { nullable: true }),
  }),
});

const SecretWriteRef = builder.objectRef<SecretWriteResult>('SecretWrite').implement({
  fields: (t) => ({
    path: t.exposeString('path'),
    version: t.exposeInt('version'),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    ttl: t.exposeString('ttl', { nullable: true }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.expiresAt }),
  }),
});

const SecretRotationRef = builder.objectRef<RotationResult>('SecretRotation').implement({
  fields: (t) => ({
    path: t.exposeString('path'),
    oldVersion: t.exposeInt('oldVersion'),
    newVersion: t.exposeInt('newVersion'),
    rotatedAt: t.field({ type: 'DateTime', resolve: (r) => r.rotatedAt }),
    changedFields: t.exposeStringList('changedFields'),
  }),
});

builder.queryField('secret', (t) =>
  t.field({
    type: SecretRef,
    description: "A secret of the caller's tenant (the operator: the platform's, or a tenant it names). Requires read:secrets.",
    args: { path: t.arg.string({ required: true }), version: t.arg.int(), tenantId: t.arg.string() },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'read:secrets');
      return getSecret({ deps: ctx.deps, principal, path: args.path, version: args.version, tenantId: args.tenantId });
    },
  }),
);

builder.mutationFields((t) => ({
  setSecret: t.field({
    type: SecretWriteRef,
    description: 'Stores a new version (envelope-encrypted). Requires write:secrets.',
    args: {
      path: t.arg.string({ required: true }),
      data: t.arg({ type: 'JSON', required: true }),
      ttl: t.arg.string({ description: '720h, 30m, 1h30m, or seconds.' }),
      metadata: t.arg({ type: 'JSON' }),
      tenantId: t.arg.string(),
    },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'write:secrets');
      return setSecret({
        deps: ctx.deps,
        principal,
        input: {
          path: args.path,
          data: args.data as Record<string, unknown>,
          ttl: args.ttl,
          metadata: args.metadata as Record<string, string> | null,
          tenantId: args.tenantId,
        },
      });
    },
  }),
  rotateSecret: t.field({
    type: SecretRotationRef,
    description: 'New values for the credential fields (password, *_secret, *_token, api_key...). Requires write:secrets.',
    args: { path: t.arg.string({ required: true }), tenantId: t.arg.string() },
    resolve: (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'write:secrets');
      return rotateSecret({ deps: ctx.deps, principal, path: args.path, tenantId: args.tenantId });
    },
  }),
}));
