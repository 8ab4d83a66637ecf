import { z } from 'zod';
import { getDriverHandle } from '../../../../lib/db.js';
import { AppError } from '../../../../lib/errors.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { Prisma } from '../../../../prisma/generated/client.js';
import { RESPONSE_CACHE_CONFIG_CHANNEL, RESPONSE_CACHE_CONFIG_KEY } from '../../../../lib/response-cache.js';

/**
 * The platform's runtime configuration: what an operator may change while it runs. Every key is
 * declared here with its validation and how it applies; the stored document holds only the
 * operator's overrides, versioned (platform.config_versions). Readers go through
 * `getRuntimeConfig`, which keeps the effective document in the shared cache: a change made by
 * one process is seen by every other on its next read (live).
 */

export const ROTATION_POLICIES = ['daily', 'weekly', 'monthly', 'quarterly', 'yearly'] as const;
export type RotationPolicy = (typeof ROTATION_POLICIES)[number];

const ttl = z.number().int().min(1).max(86_400);
const typeName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'snake_case type name');

const strategySchema = z.object({ enabled: z.boolean(), ttl });

export const configSchema = z.object({
  cache: z.object({
    strategies: z.object({
      /** The response cache of GraphQL/REST reads (gateway), invalidated by tag. */
      api_responses: strategySchema.extend({
        invalidation: z.enum(['tag-based', 'ttl']),
        /** Per-type TTLs (seconds) that override `ttl` for that type of answer. */
        types: z.record(typeName, ttl),
      }),
      /** The platform's cached database reads (this configuration, storage statistics). */
      database_queries: strategySchema,
    }),
  }),
  storage: z.object({
    max_upload_mb: z.number().int().min(1).max(5_120),
    url_default_expiry_seconds: z.number().int().min(60).max(604_800),
    url_max_expiry_seconds: z.number().int().min(60).max(604_800),
  }),
  secrets: z.object({
    /** Applied to a secret stored without a rotation_policy of its own; null: none. */
    default_rotation_policy: z.enum(ROTATION_POLICIES).nullable(),
    /** How often the rotation job looks for secrets whose policy says they are due. */
    rotation_check_interval_seconds: z.number().int().min(60).max(86_400),
  }),
  maintenance: z.object({
    /** Reported as maintenance in progress by the status endpoints while true. */
    maintenance_mode: z.boolean(),
  }),
});

export type RuntimeConfig = z.infer<typeof configSchema>;

export const DEFAULT_CONFIG: RuntimeConfig = {
  cache: {
    strategies: {
      // Off until an operator turns it on: a cached answer is up to `ttl` seconds old for changes
      // that do not come through a mutation (jobs, ingest), which callers must opt into.
      api_responses: { enabled: false, ttl: 30, invalidation: 'tag-based', types: {} },
      database_queries: { enabled: true, ttl: 60 },
    },
  },
  storage: { max_upload_mb: 100, url_default_expiry_seconds: 3_600, url_max_expiry_seconds: 604_800 },
  secrets: { default_rotation_policy: null, rotation_check_interval_seconds: 3_600 },
  maintenance: { maintenance_mode: false },
};

/**
 * Keys that take effect only when the process starts. None of the writable keys needs a restart
 * today (every reader goes through getRuntimeConfig); the list is what `restart_required` is
 * computed from, so a key read once at start-up is added here when one exists.
 */
const RESTART_KEYS: ReadonlySet<string> = new Set<string>();

/** Sections computed from the running process: shown, never written (their source is the environment). */
const READ_ONLY_SECTIONS = ['runtime', 'database'] as const;

const CACHE_KEY = 'config:document';
const SECRET_FIELD = /(password|secret|token|credential|private_key|api_key)$/i;
export const MASK = '***masked***';

export interface ConfigView {
  version: number;
  updatedAt: Date | null;
  document: Record<string, unknown>;
}

export interface ConfigUpdate {
  version: number;
  updatedKeys: string[];
  restartRequired: boolean;
  restartKeys: string[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Leaves first: `a.b.c` paths of every non-object value (records like `types` are one leaf). */
function leafPaths(value: Json, prefix = '', stopAt: ReadonlySet<string> = RECORD_LEAVES): string[] {
  return Object.entries(value).flatMap(([key, inner]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return isObject(inner) && !stopAt.has(path) ? leafPaths(inner, path, stopAt) : [path];
  });
}

const RECORD_LEAVES: ReadonlySet<string> = new Set(['cache.strategies.api_responses.types']);

function getPath(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), value);
}

function mergeDeep(base: Json, patch: Json, prefix = ''): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const path = prefix ? `${prefix}.${key}` : key;
    out[key] =
      isObject(value) && isObject(base[key]) && !RECORD_LEAVES.has(path)
        ? mergeDeep(base[key] as Json, value, path)
        : value;
  }
  return out;
}

async function loadStored(deps: SubgraphDeps): Promise<{ version: number; overrides: Json; updatedAt: Date | null }> {
  const latest = await deps.db.prisma.configVersion.findFirst({ orderBy: { version: 'desc' } });
  if (!latest) return { version: 0, overrides: {}, updatedAt: null };
  return { version: latest.version, overrides: latest.document as Json, updatedAt: latest.createdAt };
}

function effective(overrides: Json): RuntimeConfig {
  const merged = mergeDeep(DEFAULT_CONFIG as unknown as Json, overrides);
  // A stored document from an older schema keeps working: what no longer validates falls back.
  const parsed = configSchema.safeParse(merged);
  return parsed.success ? parsed.data : DEFAULT_CONFIG;
}

interface CachedConfig {
  version: number;
  updatedAt: string | null;
  config: RuntimeConfig;
}

/** The effective configuration, read through the shared cache (TTL: database_queries.ttl). */
export async function getRuntimeConfigVersioned(deps: SubgraphDeps): Promise<CachedConfig> {
  const cached = await deps.kv.cache.get(CACHE_KEY).catch(() => null);
  if (cached) return JSON.parse(cached) as CachedConfig;
  return loadConfigIntoCache(deps);
}

export async function getRuntimeConfig(deps: SubgraphDeps): Promise<RuntimeConfig> {
  return (await getRuntimeConfigVersioned(deps)).config;
}

/** Reads the stored configuration and puts it in the cache (the `config:*` warm loader uses it too). */
export async function loadConfigIntoCache(deps: SubgraphDeps): Promise<CachedConfig> {
  const stored = await loadStored(deps);
  const value: CachedConfig = {
    version: stored.version,
    updatedAt: stored.updatedAt?.toISOString() ?? null,
    config: effective(stored.overrides),
  };
  const strategy = value.config.cache.strategies.database_queries;
  if (strategy.enabled) {
    await deps.kv.cache.set(CACHE_KEY, JSON.stringify(value), strategy.ttl).catch(() => undefined);
  }
  await publishResponseCacheSettings(deps, value.config);
  return value;
}

/**
 * The gateways' response cache reads its settings from the kv (no TTL: a gateway starting while
 * no platform process runs still finds them) and hears changes on the channel at once.
 */
export async function publishResponseCacheSettings(deps: SubgraphDeps, config: RuntimeConfig): Promise<void> {
  const settings = JSON.stringify(config.cache.strategies.api_responses);
  const current = await deps.kv.cache.get(RESPONSE_CACHE_CONFIG_KEY).catch(() => null);
  if (current === settings) return;
  await deps.kv.cache.set(RESPONSE_CACHE_CONFIG_KEY, settings).catch(() => undefined);
  await deps.kv.pubsub.publish(RESPONSE_CACHE_CONFIG_CHANNEL, settings).catch(() => undefined);
}

/** What the running process is built on: shown in GET, refused in PUT. */
function runtimeSections(deps: SubgraphDeps): Json {
  const handle = getDriverHandle(deps.db);
  let database: Json = { driver: deps.db.kind };
  if (handle.kind === 'postgres') {
    const url = new URL(handle.connectionString);
    database = {
      driver: 'postgres',
      host: url.hostname,
      port: Number(url.port || 5432),
      database: decodeURIComponent(url.pathname.replace(/^\//, '')),
      user: decodeURIComponent(url.username),
      password: url.password ? decodeURIComponent(url.password) : null,
      pool_max: deps.db.poolStats()?.max ?? null,
    };
  }
  return {
    runtime: {
      environment: deps.environment,
      version: deps.version,
      cache_backend: deps.kv.kind,
      jobs_backend: deps.jobs.kind,
      storage_backend: deps.blobs.backend,
    },
    database,
  };
}

function maskSecrets(value: unknown, key = ''): unknown {
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  if (SECRET_FIELD.test(key) && value !== null && value !== undefined && value !== '') return MASK;
  return value;
}

export async function getConfig({
  deps,
  principal,
  section,
  maskSecrets: mask = true,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  section?: string | null;
  maskSecrets?: boolean | null;
}): Promise<ConfigView> {
  // Seeing secrets unmasked is for the operator alone, and only when asked for.
  if (mask === false && principal.kind !== 'operator') {
    throw new AppError('FORBIDDEN', 'Only the operator may read configuration secrets unmasked');
  }
  const { version, updatedAt, config } = await getRuntimeConfigVersioned(deps);
  const full: Json = { ...runtimeSections(deps), ...(config as unknown as Json) };
  const shown = mask === false ? full : (maskSecrets(full) as Json);
  if (section) {
    if (!(section in shown)) {
      throw new AppError('NOT_FOUND', `No configuration section ${section}`, { sections: Object.keys(shown) });
    }
    return { version, updatedAt: updatedAt ? new Date(updatedAt) : null, document: { [section]: shown[section] } };
  }
  return { version, updatedAt: updatedAt ? new Date(updatedAt) : null, document: shown };
}

/**
 * Applies a partial document: every key must exist and validate (all issues reported at once),
 * read-only sections are refused, and a new version is written in one transaction. Keys whose
 * value does not change are not "updated". Concurrent writers: the version is the primary key,
 * so the second of two racing writes fails with CONFLICT instead of losing the first.
 */
export async function updateConfig({
  deps,
  principal,
  requestId,
  patch,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  requestId: string;
  patch: unknown;
}): Promise<ConfigUpdate> {
  if (!isObject(patch) || Object.keys(patch).length === 0) {
    throw new AppError('VALIDATION_ERROR', 'The configuration change must be a non-empty object of sections');
  }
  const readOnly = Object.keys(patch).filter((s) => (READ_ONLY_SECTIONS as readonly string[]).includes(s));
  if (readOnly.length > 0) {
    throw new AppError(
      'VALIDATION_ERROR',
      'These sections come from the environment and change only by restarting with new settings',
      {
        read_only_sections: readOnly,
      },
    );
  }
  const stored = await loadStored(deps);
  const before = effective(stored.overrides);
  const nextOverrides = mergeDeep(stored.overrides, patch);
  const candidate = mergeDeep(DEFAULT_CONFIG as unknown as Json, nextOverrides);
  const parsed = configSchema.strict().safeParse(candidate);
  const unknownKeys = leafPaths(patch).filter(
    (path) => getPath(DEFAULT_CONFIG, path) === undefined && !path.startsWith('cache.strategies.api_responses.types'),
  );
  if (!parsed.success || unknownKeys.length > 0) {
    const fields = [
      ...unknownKeys.map((path) => ({ path, message: 'Unknown configuration key' })),
      ...(parsed.success ? [] : parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))),
    ];
    throw new AppError('VALIDATION_ERROR', 'Invalid configuration', { fields });
  }
  const after = parsed.data;
  if (after.storage.url_default_expiry_seconds > after.storage.url_max_expiry_seconds) {
    throw new AppError('VALIDATION_ERROR', 'Invalid configuration', {
      fields: [{ path: 'storage.url_default_expiry_seconds', message: 'must not exceed url_max_expiry_seconds' }],
    });
  }
  const updatedKeys = leafPaths(patch).filter(
    (path) => JSON.stringify(getPath(before, path)) !== JSON.stringify(getPath(after, path)),
  );
  const restartKeys = updatedKeys.filter((key) => RESTART_KEYS.has(key));
  const version = stored.version + 1;
  if (updatedKeys.length > 0) {
    try {
      await deps.db.prisma.configVersion.create({
        data: {
          version,
          document: nextOverrides as Prisma.InputJsonValue,
          updatedKeys,
          restartKeys,
          changedBy: `${principal.kind}:${principal.id}`,
          requestId,
        },
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new AppError('CONFLICT', 'The configuration changed meanwhile; read it again and retry');
      }
      throw error;
    }
    // Live: the next read anywhere sees the new document.
    await deps.kv.cache.del(CACHE_KEY).catch(() => undefined);
    await loadConfigIntoCache(deps);
  }
  return {
    version: updatedKeys.length > 0 ? version : stored.version,
    updatedKeys,
    restartRequired: restartKeys.length > 0,
    restartKeys,
  };
}

export interface ConfigHistoryEntry {
  version: number;
  updatedKeys: string[];
  restartKeys: string[];
  changedBy: string;
  createdAt: Date;
}

export async function listConfigVersions({
  deps,
  limit,
}: {
  deps: SubgraphDeps;
  limit: number;
}): Promise<ConfigHistoryEntry[]> {
  const take = Math.min(Math.max(limit, 1), 100);
  return deps.db.prisma.configVersion.findMany({
    orderBy: { version: 'desc' },
    take,
    select: { version: true, updatedKeys: true, restartKeys: true, changedBy: true, createdAt: true },
  });
}
