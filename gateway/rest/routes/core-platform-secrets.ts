import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// core-platform's secrets: the platform subgraph's secret / setSecret / rotateSecret. Paths span
// segments (`database/credentials/production`); `rotate` as a last segment is the rotate route.

const pathParams = z.object({ path: z.string().min(1).max(256) });
const tenantQuery = z.string().min(1).max(64).optional();

const getSecret = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/secrets/{path}',
  multiSegmentParams: ['path'],
  summary: 'Retrieve a secret (current or a given version)',
  operation: graphql(`
    query Secret($path: String!, $version: Int, $tenantId: String) {
      secret(path: $path, version: $version, tenantId: $tenantId) {
        path
        version
        createdAt
        data
        metadata
        createdBy
        lastRotatedAt
        rotationPolicy
        expiresAt
      }
    }
  `),
  input: {
    params: pathParams,
    query: z.object({ version: z.coerce.number().int().min(1).optional(), tenant_id: tenantQuery }),
  },
  variables: ({ params, query }) => ({
    path: params.path,
    version: query.version ?? null,
    tenantId: query.tenant_id ?? null,
  }),
  rateLimit: 'core-platform.secrets',
  respond: ({ secret: s }) => ({
    path: s.path,
    version: s.version,
    created_at: s.createdAt,
    expires_at: s.expiresAt,
    data: s.data,
    metadata: {
      ...(s.metadata as Record<string, unknown>),
      created_by: s.createdBy,
      last_rotated: s.lastRotatedAt,
      rotation_policy: s.rotationPolicy,
    },
  }),
  response: z.object({
    path: z.string(),
    version: z.number().int(),
    created_at: isoTimestamp,
    expires_at: isoTimestamp.nullable(),
    data: z.record(z.string(), z.unknown()),
    metadata: z
      .object({ created_by: z.string(), last_rotated: isoTimestamp.nullable(), rotation_policy: z.string().nullable() })
      .catchall(z.unknown()),
  }),
});

const setSecret = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/secrets/{path}',
  multiSegmentParams: ['path'],
  summary: 'Store a secret (a new version)',
  operation: graphql(`
    mutation SetSecret($path: String!, $data: JSON!, $ttl: String, $metadata: JSON, $tenantId: String) {
      setSecret(path: $path, data: $data, ttl: $ttl, metadata: $metadata, tenantId: $tenantId) {
        path
        version
        createdAt
        ttl
      }
    }
  `),
  input: {
    params: pathParams,
    query: z.object({ tenant_id: tenantQuery }),
    body: z.object({
      data: z.record(z.string(), z.unknown()),
      ttl: z.string().max(32).optional(),
      metadata: z.record(z.string(), z.unknown()).optional(),
      tenant_id: tenantQuery,
    }),
  },
  variables: ({ params, query, body }) => ({
    path: params.path,
    data: body.data,
    ttl: body.ttl ?? null,
    metadata: body.metadata ?? null,
    tenantId: body.tenant_id ?? query.tenant_id ?? null,
  }),
  rateLimit: 'core-platform.secrets',
  respond: ({ setSecret: s }) => ({
    path: s.path,
    version: s.version,
    created_at: s.createdAt,
    ttl: s.ttl,
  }),
  response: z.object({
    path: z.string(),
    version: z.number().int(),
    created_at: isoTimestamp,
    ttl: z.string().nullable(),
  }),
});

const REDACTED = '[REDACTED]';

const rotateSecret = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/secrets/{path}/rotate',
  multiSegmentParams: ['path'],
  summary: 'Rotate the credential fields of a secret',
  operation: graphql(`
    mutation RotateSecret($path: String!, $tenantId: String) {
      rotateSecret(path: $path, tenantId: $tenantId) {
        path
        oldVersion
        newVersion
        rotatedAt
        changedFields
      }
    }
  `),
  input: { params: pathParams, query: z.object({ tenant_id: tenantQuery }) },
  variables: ({ params, query }) => ({ path: params.path, tenantId: query.tenant_id ?? null }),
  rateLimit: 'core-platform.secrets',
  respond: ({ rotateSecret: r }) => ({
    path: r.path,
    old_version: r.oldVersion,
    new_version: r.newVersion,
    rotated_at: r.rotatedAt,
    changes: r.changedFields.map((field) => ({ field, old_value: REDACTED, new_value: REDACTED })),
  }),
  response: z.object({
    path: z.string(),
    old_version: z.number().int(),
    new_version: z.number().int(),
    rotated_at: isoTimestamp,
    changes: z.array(z.object({ field: z.string(), old_value: z.literal(REDACTED), new_value: z.literal(REDACTED) })),
  }),
});

export const corePlatformSecretRoutes: readonly RestRoute[] = [getSecret, setSecret, rotateSecret];
