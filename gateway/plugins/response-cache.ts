import { createHash, randomUUID } from 'node:crypto';
import type { ApolloServerPlugin, GraphQLRequestContextResponseForOperation, GraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import {
  getNamedType,
  isAbstractType,
  isCompositeType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import {
  RESPONSE_CACHE_CONFIG_CHANNEL,
  RESPONSE_CACHE_CONFIG_KEY,
  RESPONSE_CACHE_COUNTERS,
  RESPONSE_CACHE_STATS_PREFIX,
  RESPONSE_CACHE_STATS_TTL_SECONDS,
  type ResponseCacheCounter,
  type ResponseCacheSettings,
} from '../../lib/response-cache.js';
import type { Kv } from '../../lib/runtime/kv.js';
import type { GatewayContext } from '../context.js';

/**
 * The response cache of GraphQL reads, for /graphql and the REST routes alike (both run through
 * this Apollo Server). Controlled by the platform's `cache.strategies.api_responses` settings
 * (platform-forge PUT /api/v1/performance/cache/config), which reach every gateway through the kv.
 *
 * - **What is cached**: a query's answer without errors, for an authenticated user, API key or
 *   operator; never anonymous callers, the gateway's own service calls (credential resolution must
 *   see a deleted key at once), introspection, or answers holding live measurements (VOLATILE).
 * - **Keyed by principal scope**: kind, id, tenant, project, roles and scopes are part of the key,
 *   so no caller can ever read an answer computed for another principal or tenant.
 * - **Tags**: the composite types the document selects (abstract types with their possible types).
 *   Each tag has a generation in the kv; the key includes the generations of its tags, so a
 *   mutation touching a type (its selected types, and types its field name spells:
 *   `suspendTenant` → Tenant) moves that generation and every gateway stops serving the old
 *   answers at once; they expire by TTL. Generations are random, never reused.
 * - **TTL**: the smallest per-type TTL among the answer's types (snake_case names), else `ttl`.
 */
export interface ResponseCachePluginOptions {
  kv: Kv;
  logger: Logger;
  /** How often this gateway's counters are added to the shared ones (ms). */
  flushIntervalMs?: number;
}

/**
 * Never cached: figures measured when asked (health, stats, metrics, progress of jobs that change
 * them without a mutation), one-time or expiring credentials (upload tickets, signed URLs, key
 * sets that rotate), and secrets, whose values must not be copied into the kv.
 */
const VOLATILE =
  /(Health|HealthReport|Stats|Statistics|Metrics?|Status|Probe|Progress|Diagnostics?|Task|Job|Operation|Usage|Uptime|Sample|Session|Ticket|Url|KeySet)$|Secret|Token/;

/** Generations outlive every entry (TTL ≤ 1 day), so an expired generation never revives an entry. */
const TAG_TTL_SECONDS = 2 * 86_400;
const ENTRY_PREFIX = 'response-cache:entry:';
const TAG_PREFIX = 'response-cache:tag:';
/** A missing generation: the tag was never invalidated (or not for longer than any entry lives). */
const NO_GENERATION = '0';

export const DISABLED_SETTINGS: ResponseCacheSettings = {
  enabled: false,
  ttl: 30,
  invalidation: 'tag-based',
  types: {},
};

/** `TelemetryEvent` → `telemetry_event`, the configuration's type names. */
export function snakeTypeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

interface DocumentFacts {
  kind: 'query' | 'mutation' | 'subscription';
  /** Composite types of every selection; for a mutation, plus the types its root field names spell. */
  types: Set<string>;
  introspection: boolean;
}

const factsCache = new WeakMap<DocumentNode, WeakMap<GraphQLSchema, DocumentFacts>>();

/** The composite types a document selects, read once per document and schema. */
export function documentFacts(
  document: DocumentNode,
  schema: GraphQLSchema,
  operationName?: string | null,
): DocumentFacts {
  let bySchema = factsCache.get(document);
  const known = bySchema?.get(schema);
  if (known) return known;
  const operation = document.definitions.find(
    (d) => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  const kind = operation?.kind === Kind.OPERATION_DEFINITION ? operation.operation : 'query';
  const types = new Set<string>();
  let introspection = false;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (node.name.value.startsWith('__') && node.name.value !== '__typename') introspection = true;
        const type = typeInfo.getType();
        const named = type && getNamedType(type);
        if (!named || !isCompositeType(named)) return;
        types.add(named.name);
        if (isAbstractType(named)) for (const possible of schema.getPossibleTypes(named)) types.add(possible.name);
      },
    }),
  );
  if (kind === 'mutation' && operation?.kind === Kind.OPERATION_DEFINITION) {
    for (const selection of operation.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) continue;
      for (const name of typesSpelledBy(selection.name.value, schema)) types.add(name);
    }
  }
  const facts: DocumentFacts = { kind, types, introspection };
  if (!bySchema) factsCache.set(document, (bySchema = new WeakMap()));
  bySchema.set(schema, facts);
  return facts;
}

/** Object types whose name is a run of the field name's words: `updateTenantAuthSettings` → Tenant, … */
function typesSpelledBy(fieldName: string, schema: GraphQLSchema): string[] {
  const words = fieldName.match(/[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])/g) ?? [];
  const pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1));
  const found: string[] = [];
  for (let start = 0; start < pascal.length; start += 1) {
    for (let end = start + 1; end <= pascal.length; end += 1) {
      const candidate = pascal.slice(start, end).join('');
      if (isCompositeType(schema.getType(candidate))) found.push(candidate);
      // Plural resource names (deleteApiKeys) name the singular type.
      const singular = candidate.replace(/s$/, '');
      if (singular !== candidate && isCompositeType(schema.getType(singular))) found.push(singular);
    }
  }
  return found;
}

function principalScope(principal: Principal): string {
  return JSON.stringify([
    principal.kind,
    principal.id,
    principal.tenantId,
    principal.projectId,
    [...principal.roles].sort(),
    [...principal.scopes].sort(),
  ]);
}

export interface ResponseCachePlugin extends ApolloServerPlugin<GatewayContext> {
  /** The settings this gateway applies now. */
  settings(): ResponseCacheSettings;
  /** Reads the settings from the kv again (start-up; tests after changing them). */
  refresh(): Promise<void>;
  /** Adds this gateway's counters to the shared ones now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function createResponseCachePlugin(options: ResponseCachePluginOptions): Promise<ResponseCachePlugin> {
  const { kv, logger } = options;
  let settings: ResponseCacheSettings = DISABLED_SETTINGS;
  const apply = (raw: string | null) => {
    if (raw === null) return;
    try {
      settings = { ...DISABLED_SETTINGS, ...(JSON.parse(raw) as Partial<ResponseCacheSettings>) };
    } catch (error) {
      logger.warn({ err: error }, 'unreadable response cache settings ignored');
    }
  };
  const refresh = async () => apply(await kv.cache.get(RESPONSE_CACHE_CONFIG_KEY));
  await refresh().catch((error: unknown) => logger.warn({ err: error }, 'response cache settings not read'));
  const unsubscribe = await kv.pubsub.subscribe(RESPONSE_CACHE_CONFIG_CHANNEL, apply);

  const pending: Record<ResponseCacheCounter, number> = { hits: 0, misses: 0, stores: 0, invalidations: 0 };
  const flush = async () => {
    const counts = RESPONSE_CACHE_COUNTERS.map((name) => [name, pending[name]] as const).filter(([, n]) => n > 0);
    for (const [name] of counts) pending[name] = 0;
    await Promise.all(
      counts.map(([name, by]) =>
        kv.cache.increment(RESPONSE_CACHE_STATS_PREFIX + name, RESPONSE_CACHE_STATS_TTL_SECONDS, by),
      ),
    ).catch((error: unknown) => logger.warn({ err: error }, 'response cache counters not written'));
  };
  const flusher = setInterval(() => void flush(), options.flushIntervalMs ?? 1_000);
  flusher.unref();

  const generations = (tags: Iterable<string>) =>
    Promise.all(
      [...tags].sort().map(async (tag) => `${tag}=${(await kv.cache.get(TAG_PREFIX + tag)) ?? NO_GENERATION}`),
    );

  /** The entry key of a cacheable read, or null when this request must not be cached. */
  const entryFor = async (
    ctx: GraphQLRequestContextResponseForOperation<GatewayContext>,
  ): Promise<{ key: string; ttl: number } | null> => {
    const current = settings;
    const principal = ctx.contextValue.principal;
    if (!current.enabled || !principal || principal.kind === 'service') return null;
    const facts = documentFacts(ctx.document, ctx.schema, ctx.operationName);
    if (facts.kind !== 'query' || facts.introspection) return null;
    if ([...facts.types].some((type) => VOLATILE.test(type))) return null;
    const ttls = [...facts.types].map((type) => current.types[snakeTypeName(type)]).filter((t) => t !== undefined);
    const ttl = ttls.length > 0 ? Math.min(...ttls) : current.ttl;
    const versions = current.invalidation === 'tag-based' ? await generations(facts.types) : [];
    const key = createHash('sha256')
      .update(principalScope(principal))
      .update('\0')
      .update(ctx.queryHash ?? '')
      .update('\0')
      .update(ctx.operationName ?? '')
      .update('\0')
      .update(JSON.stringify(ctx.request.variables ?? {}))
      .update('\0')
      .update(versions.join('&'))
      .digest('base64url');
    return { key: ENTRY_PREFIX + key, ttl };
  };

  /** Moves the generation of every tag to one new value (a mutation touched those types). */
  const invalidate = (tags: Iterable<string>) => {
    pending.invalidations += 1;
    const generation = randomUUID();
    return Promise.all([...tags].map((tag) => kv.cache.set(TAG_PREFIX + tag, generation, TAG_TTL_SECONDS))).then(
      () => undefined,
      (error: unknown) => logger.error({ err: error }, 'response cache invalidation failed'),
    );
  };

  // While the cache is off nothing is read from it, so the mutations' invalidations (still needed:
  // entries stored before it was switched off must not be served once it is on again) leave the
  // response path: their types are gathered and written once per turn of the event loop, one
  // generation for the batch. A lookup once the cache is on again waits for a batch still being
  // written, and close() writes the last one.
  let offTags = new Set<string>();
  let offWrite: Promise<void> | null = null;
  const writeOffTags = (): Promise<void> => {
    const tags = offTags;
    offTags = new Set();
    return invalidate(tags).finally(() => {
      offWrite = offTags.size > 0 ? writeOffTags() : null;
    });
  };
  const noteMutationWhileOff = (types: Set<string>) => {
    for (const type of types) offTags.add(type);
    if (offWrite) return;
    offWrite = new Promise<void>((resolve) => setImmediate(resolve)).then(writeOffTags);
  };
  const offListener = {
    async willSendResponse(ctx: { document?: DocumentNode; schema?: GraphQLSchema; operationName?: string | null }) {
      if (!ctx.document || !ctx.schema) return;
      const facts = documentFacts(ctx.document, ctx.schema, ctx.operationName);
      if (facts.kind === 'mutation' && facts.types.size > 0) noteMutationWhileOff(facts.types);
    },
  };

  return {
    settings: () => settings,
    refresh,
    flush,
    async close() {
      clearInterval(flusher);
      while (offWrite) await offWrite;
      await flush();
      await unsubscribe();
    },
    async requestDidStart() {
      // Off (the default): no lookup and no per-request state, only mutations noted.
      if (!settings.enabled) return offListener;
      let entry: { key: string; ttl: number } | null = null;
      let served = false;
      return {
        async responseForOperation(ctx) {
          try {
            while (offWrite) await offWrite;
            entry = await entryFor(ctx);
            if (!entry) return null;
            const cached = await kv.cache.get(entry.key);
            if (cached === null) {
              pending.misses += 1;
              return null;
            }
            pending.hits += 1;
            served = true;
            const http = { status: undefined, headers: new HeaderMap([['x-cache', 'HIT']]) };
            const response: GraphQLResponse = {
              http,
              body: { kind: 'single', singleResult: { data: JSON.parse(cached) as Record<string, unknown> } },
            };
            return response;
          } catch (error) {
            // The cache is an optimisation: a kv failure runs the operation as if nothing was cached.
            logger.warn({ err: error }, 'response cache lookup failed');
            entry = null;
            return null;
          }
        },
        async willSendResponse(ctx) {
          if (!ctx.document || !ctx.schema) return;
          const facts = documentFacts(ctx.document, ctx.schema, ctx.operationName);
          if (facts.kind === 'mutation') {
            if (facts.types.size > 0) await invalidate(facts.types);
            return;
          }
          if (!entry || served || ctx.response.body.kind !== 'single') return;
          const result = ctx.response.body.singleResult;
          if (result.errors?.length || !result.data) return;
          ctx.response.http.headers.set('x-cache', 'MISS');
          pending.stores += 1;
          await kv.cache
            .set(entry.key, JSON.stringify(result.data), entry.ttl)
            .catch((error: unknown) => logger.warn({ err: error }, 'response cache store failed'));
        },
      };
    },
  };
}
