import type { AppError, ErrorCode } from '../../lib/errors.js';
import type { RateLimitPolicyName } from '../pipeline/rate-limit.js';

export const DIALECT_NAMES = ['core-platform', 'platform-forge', 'nexus-core', 'tenantsdb', 'cloudpioneer'] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

export type JsonSchema = Record<string, unknown>;

export interface EnvelopeContext {
  requestId: string;
  now: Date;
}

/**
 * Everything that differs between the five documented REST dialects. Routes and the handler
 * know nothing dialect-specific beyond a name; the shapes live here, next to their schemas so
 * OpenAPI and the wire cannot drift apart.
 */
export interface Dialect {
  name: DialectName;
  title: string;
  /**
   * Prefixes the documented paths are served under. Documented paths are already absolute
   * (`/api/health`), so '' mounts them as written; cloudpioneer adds `/v1`, its production base URL.
   */
  mounts: readonly string[];
  defaultRateLimit: RateLimitPolicyName;
  /** A version header the dialect documents: echoed on every response, the fallback when absent. */
  versionHeader: { name: string; fallback: string } | null;
  /** How the document says to authenticate; only used to describe the API in OpenAPI. */
  credential: 'bearer' | 'api-key';
  renameCode(code: ErrorCode): string;
  success(payload: unknown, context: EnvelopeContext): unknown;
  error(error: AppError, context: EnvelopeContext): unknown;
  successSchema(payload: JsonSchema): JsonSchema;
  errorSchema: JsonSchema;
}

const keepCode = (code: ErrorCode): string => code;

function errorBody(error: AppError, renameCode: (code: ErrorCode) => string) {
  return { code: renameCode(error.code), message: error.message, details: error.details ?? {} };
}

const ERROR_OBJECT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['code', 'message', 'details'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
};

/** The renames core-platform's error table documents; every other code is shown in its lowercase style. */
const CORE_PLATFORM_CODES: Partial<Record<ErrorCode, string>> = {
  RATE_LIMIT_EXCEEDED: 'api_rate_limit_exceeded',
  FORBIDDEN: 'insufficient_permissions',
  TENANT_MISMATCH: 'tenant_access_denied',
  VALIDATION_ERROR: 'validation_error',
};

const renameCorePlatformCode = (code: ErrorCode): string => CORE_PLATFORM_CODES[code] ?? code.toLowerCase();

const corePlatform: Dialect = {
  name: 'core-platform',
  title: 'Core Platform API',
  mounts: [''],
  defaultRateLimit: 'core-platform.system',
  versionHeader: { name: 'API-Version', fallback: '2025-11-17' },
  credential: 'bearer',
  renameCode: renameCorePlatformCode,
  success: (payload) => ({ status: 'success', data: payload }),
  error: (error, { requestId }) => ({
    status: 'error',
    error: errorBody(error, renameCorePlatformCode),
    request_id: requestId,
  }),
  successSchema: (payload) => ({
    type: 'object',
    required: ['status', 'data'],
    properties: { status: { const: 'success' }, data: payload },
  }),
  errorSchema: {
    type: 'object',
    required: ['status', 'error', 'request_id'],
    properties: { status: { const: 'error' }, error: ERROR_OBJECT_SCHEMA, request_id: { type: 'string' } },
  },
};

const platformForge: Dialect = {
  name: 'platform-forge',
  title: 'Platform Forge API',
  mounts: [''],
  defaultRateLimit: 'platform-forge.default',
  versionHeader: { name: 'X-API-Version', fallback: '1' },
  credential: 'bearer',
  // The documented codes (UNAUTHORIZED, FORBIDDEN, NOT_FOUND, VALIDATION_ERROR,
  // RATE_LIMIT_EXCEEDED, INTERNAL_ERROR, TENANT_MISMATCH) are ours verbatim. Codes the table
  // does not list (MALFORMED_JSON, METHOD_NOT_ALLOWED, CONFLICT, ...) pass through in the same
  // style rather than being folded into a documented one and losing what went wrong.
  renameCode: keepCode,
  success: (payload, { now }) => ({
    status: 'success',
    data: payload,
    meta: { timestamp: now.toISOString(), version: '1.0' },
  }),
  error: (error, { now, requestId }) => ({
    status: 'error',
    error: errorBody(error, keepCode),
    meta: { timestamp: now.toISOString(), request_id: requestId },
  }),
  successSchema: (payload) => ({
    type: 'object',
    required: ['status', 'data', 'meta'],
    properties: {
      status: { const: 'success' },
      data: payload,
      meta: {
        type: 'object',
        required: ['timestamp', 'version'],
        properties: { timestamp: { type: 'string', format: 'date-time' }, version: { const: '1.0' } },
      },
    },
  }),
  errorSchema: {
    type: 'object',
    required: ['status', 'error', 'meta'],
    properties: {
      status: { const: 'error' },
      error: ERROR_OBJECT_SCHEMA,
      meta: {
        type: 'object',
        required: ['timestamp', 'request_id'],
        properties: { timestamp: { type: 'string', format: 'date-time' }, request_id: { type: 'string' } },
      },
    },
  },
};

const nexusCore: Dialect = {
  name: 'nexus-core',
  title: 'Nexus Core API',
  mounts: [''],
  defaultRateLimit: 'nexus-core.default',
  versionHeader: null,
  credential: 'api-key',
  renameCode: keepCode,
  success: (payload) => ({ success: true, data: payload }),
  // Undocumented: the nexus doc shows only successes. This mirrors its success envelope
  // (`success: false` beside `error` where `data` would be) with the platform's usual error
  // object; the request id travels in X-Request-Id.
  error: (error) => ({ success: false, error: errorBody(error, keepCode) }),
  successSchema: (payload) => ({
    type: 'object',
    required: ['success', 'data'],
    properties: { success: { const: true }, data: payload },
  }),
  errorSchema: {
    type: 'object',
    required: ['success', 'error'],
    properties: { success: { const: false }, error: ERROR_OBJECT_SCHEMA },
  },
};

const tenantsdb: Dialect = {
  name: 'tenantsdb',
  title: 'TenantsDB API',
  mounts: [''],
  defaultRateLimit: 'tenantsdb.default',
  versionHeader: null,
  credential: 'bearer',
  renameCode: keepCode,
  // Payload fields sit beside `success`, as every tenantsdb example shows.
  success: (payload) => ({ success: true, ...(payload as Record<string, unknown>) }),
  // Undocumented: the doc shows no error. `success: false` matches its success flag.
  error: (error) => ({ success: false, error: errorBody(error, keepCode) }),
  successSchema: (payload) => ({
    allOf: [{ type: 'object', required: ['success'], properties: { success: { const: true } } }, payload],
  }),
  errorSchema: {
    type: 'object',
    required: ['success', 'error'],
    properties: { success: { const: false }, error: ERROR_OBJECT_SCHEMA },
  },
};

const cloudpioneer: Dialect = {
  name: 'cloudpioneer',
  title: 'CloudPioneer API',
  mounts: ['', '/v1'],
  defaultRateLimit: 'cloudpioneer.default',
  versionHeader: null,
  credential: 'bearer',
  // Its one example code, RESOURCE_NOT_FOUND, is about a named resource; our codes keep their names.
  renameCode: keepCode,
  success: (payload) => payload,
  error: (error, { requestId }) => ({ error: errorBody(error, keepCode), request_id: requestId }),
  successSchema: (payload) => payload,
  errorSchema: {
    type: 'object',
    required: ['error', 'request_id'],
    properties: { error: ERROR_OBJECT_SCHEMA, request_id: { type: 'string' } },
  },
};

export const DIALECTS: readonly Dialect[] = [corePlatform, platformForge, nexusCore, tenantsdb, cloudpioneer];

const BY_NAME = new Map<DialectName, Dialect>(DIALECTS.map((d) => [d.name, d]));

export function getDialect(name: DialectName): Dialect {
  const dialect = BY_NAME.get(name);
  if (!dialect) throw new Error(`Unknown REST dialect ${name}`);
  return dialect;
}

export function isDialectName(value: string): value is DialectName {
  return BY_NAME.has(value as DialectName);
}

/** platform-forge's modules under /api/v1; nexus-core owns the rest of /api/v1 (including /security/status and /security/scan). */
const PLATFORM_FORGE_MODULES = [
  'auth',
  'admin',
  'billing',
  'telemetry',
  'privacy',
  'whitelabel',
  'security/mesh',
  'security/mtls',
  'security/threats',
  'security/scans',
  'sso',
  'performance',
  'marketplace',
  'edge',
] as const;

function isUnder(pathname: string, prefix: string): boolean {
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

/** Which dialect answers a path no route serves, so even a 404 arrives in the caller's error shape. */
export function attributeDialect(pathname: string): DialectName {
  if (PLATFORM_FORGE_MODULES.some((module) => isUnder(pathname, `/api/v1/${module}`))) return 'platform-forge';
  if (isUnder(pathname, '/api/v1')) return 'nexus-core';
  if (isUnder(pathname, '/api')) return 'core-platform';
  if (isUnder(pathname, '/v1')) return 'cloudpioneer';
  return 'tenantsdb';
}
