import { z } from 'zod';
import { parseAllowList } from './outbound-address.js';

/**
 * Env schemas grouped by concern. Each deployable (gateway, subgraph, worker, all-in-one)
 * picks the groups it needs and parses them once at start-up with `loadEnv`; nothing else
 * reads process.env.
 */
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional())
  .optional();

/** For a process that cannot run without the service (the worker without Redis, say). */
export const requiredUrl = z.string().trim().pipe(z.url());

export const runtimeEnv = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * On SIGTERM/SIGINT, how long in-flight requests and jobs may run before they are cut off. Keep
   * it under the orchestrator's kill timeout (docker-compose stop_grace_period: 20 s), less the
   * few seconds closing pools takes.
   */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** How often each process writes its metric samples (telemetry.metric_samples): 1 s to 5 min. */
  METRICS_SAMPLE_INTERVAL_MS: z.coerce.number().int().min(1_000).max(300_000).default(10_000),
  /** How long metric samples are kept: 1 hour to 1 year. */
  METRICS_RETENTION_HOURS: z.coerce.number().int().min(1).max(8_760).default(168),
  /** The instance label of this process's samples; default host:pid:role. */
  METRICS_INSTANCE: z.string().min(1).max(200).optional(),
});

export const databaseEnv = z.object({
  /** PostgreSQL connection string. Unset: embedded PGlite with its data in DATA_DIR. */
  DATABASE_URL: optionalUrl,
  DATA_DIR: z.string().min(1).default('./.data'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
});

export const redisEnv = z.object({
  /** Redis connection string. Unset: in-memory cache, rate limits, pub/sub and jobs. */
  REDIS_URL: optionalUrl,
});

export const signingEnv = z.object({
  /** HMAC secret the gateway signs the forwarded principal with; subgraphs verify it. */
  INTERNAL_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
});

export const secretsEnv = z.object({
  /** AES-256 key (64 hex) for secrets stored in the database; unset: generated in DATA_DIR. */
  SECRETS_ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (32 bytes): openssl rand -hex 32')
    .optional(),
});

export const httpEnv = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
});

export const smtpEnv = z.object({
  /** SMTP server for outgoing mail (MFA codes), e.g. smtp://user:pass@host:587. Unset: email MFA answers NOT_CONFIGURED. */
  SMTP_URL: optionalUrl,
  /** Sender of outgoing mail. */
  SMTP_FROM: z
    .string()
    .trim()
    .default('')
    .transform((v) => v || 'Platform <no-reply@localhost>'),
});

/** The platform's file storage (a local folder until the storage capability exists): tenant backups. */
export const storageEnv = z.object({
  /** Root folder of stored files. Unset: <DATA_DIR>/storage. */
  STORAGE_DIR: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
  /** S3-compatible object storage instead of the local folder (set S3_BUCKET to use it). */
  S3_BUCKET: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
  /** Unset: AWS for S3_REGION. Self-hosted servers (MinIO...): their URL. */
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().trim().default('us-east-1'),
  S3_ACCESS_KEY_ID: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
  S3_SECRET_ACCESS_KEY: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
  /** Path-style requests (endpoint/bucket/key); default true when S3_ENDPOINT is set. */
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false', ''])
    .optional()
    .transform((v) => (v === 'true' ? true : v === 'false' ? false : undefined)),
  /** Key prefix inside the bucket. */
  S3_PREFIX: z.string().trim().optional(),
  /** clamd for virus scans of uploads (host, or host:port; port 3310 by default). Unset: uploads say not scanned. */
  CLAMAV_HOST: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
});

export const tenancyEnv = z.object({
  /** Server for dedicated (isolation level 2) tenant databases. Unset: the platform's own PostgreSQL server. */
  TENANT_DATABASE_URL: optionalUrl,
  /** Shared HMAC-SHA256 secret of the POST /webhooks/vm-ready callback. Unset: the webhook answers NOT_CONFIGURED. */
  WEBHOOK_SIGNING_SECRET: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(z.string().min(32, 'must be at least 32 characters').optional())
    .optional(),
});

/** Stripe (billing). Unset STRIPE_SECRET_KEY: the billing routes answer NOT_CONFIGURED. */
export const billingEnv = z.object({
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(
      z
        .string()
        .regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret or restricted key')
        .optional(),
    )
    .optional(),
  /** The endpoint's signing secret (whsec_...) of POST /api/v1/billing/webhooks/stripe. Unset: the webhook answers NOT_CONFIGURED. */
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
  /** Another Stripe API base (a local Stripe-speaking server, stripe-mock); unset: api.stripe.com. */
  STRIPE_API_URL: optionalUrl,
  /** event_name of the Stripe billing meter that API calls are reported to. */
  STRIPE_USAGE_METER_EVENT: z.string().trim().min(1).default('api_calls'),
});

/**
 * Data import (tenantsdb import-data, import-full, schema from a live database) connects out to a
 * host the caller names. Only public addresses are reachable unless listed here.
 */
export const dataImportEnv = z.object({
  /**
   * Comma-separated exceptions the operator trusts: `host`, `host:port`, `[v6]:port`, an IP in any
   * spelling, or a CIDR (`10.0.0.0/8`). They let a source on a private, loopback or the platform's
   * own database address through. Unset: none.
   */
  DATA_IMPORT_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseAllowList(value).map((entry) => entry.text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** How long connecting to a source (DNS, TCP, TLS, authentication) may take. */
  DATA_IMPORT_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
});

/** Whitelabel custom domains: which DNS servers verify their TXT records. */
export const whitelabelEnv = z.object({
  /**
   * Comma-separated `ip` or `ip:port` ([v6]:port) of the resolvers custom-domain verification asks.
   * Unset: the system's resolvers (/etc/resolv.conf).
   */
  WHITELABEL_DNS_SERVERS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
});

/** Real time: how long a broadcast waits for the gateways' delivery counts (its `recipients`). */
export const realtimeEnv = z.object({
  BROADCAST_RECEIPT_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(300),
});

/**
 * Outbound calls the platform makes to addresses its users chose: webhook deliveries and the
 * service mesh's health checks. Only public addresses are reachable unless listed here.
 */
export const outboundEnv = z.object({
  /** Comma-separated exceptions, in the DATA_IMPORT_ALLOWED_HOSTS format. Unset: none. */
  OUTBOUND_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseAllowList(value).map((entry) => entry.text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** How long one webhook delivery or health check may take (DNS, connect, answer). */
  OUTBOUND_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
});

/**
 * Everything a process needs to build the subgraphs' deps (app/deps.ts): the all-in-one process,
 * each subgraph process and the worker parse this same group, so none of them lacks a setting the
 * others have (a job sends mail and verifies webhooks like the subgraph that queued it).
 */
export const subgraphDepsEnv = runtimeEnv
  .extend(databaseEnv.shape)
  .extend(redisEnv.shape)
  .extend(smtpEnv.shape)
  .extend(storageEnv.shape)
  .extend(tenancyEnv.shape)
  .extend(dataImportEnv.shape)
  .extend(outboundEnv.shape)
  .extend(billingEnv.shape)
  .extend(whitelabelEnv.shape)
  .extend(realtimeEnv.shape)
  .extend(secretsEnv.shape);

/** STORAGE_DIR, or its default beside the embedded database. */
export function storageDirFrom(env: { STORAGE_DIR?: string; DATA_DIR: string }): string {
  return env.STORAGE_DIR ?? `${env.DATA_DIR.replace(/\/+$/, '')}/storage`;
}

export const SUBGRAPH_NAMES = ['platform', 'tenancy', 'billing', 'identity', 'telemetry', 'edge'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

const positiveInt = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

/**
 * Limits on operations sent to /graphql, checked before Apollo validates or plans them (issue 8:
 * one anonymous request of 10,000 aliased introspection fields built a 184 MB answer). The
 * defaults admit the standard introspection query (depth 15, under 200 tokens) and ordinary
 * dashboard queries.
 */
export const graphqlLimitsEnv = z.object({
  /** Lexical tokens in the document; checked while parsing, so a huge document stops early. */
  GRAPHQL_MAX_TOKENS: positiveInt(2_000),
  /** Aliased fields, counted through fragment spreads (each spread counts again). */
  GRAPHQL_MAX_ALIASES: positiveInt(30),
  /** Nested selection depth of any operation, through fragments. */
  GRAPHQL_MAX_DEPTH: positiveInt(15),
  /** Fields selected at the root of an operation, through fragments. */
  GRAPHQL_MAX_ROOT_FIELDS: positiveInt(20),
  /** Directive uses in the document. */
  GRAPHQL_MAX_DIRECTIVES: positiveInt(50),
  /** Largest answer sent; bigger ones are replaced by OPERATION_LIMIT_EXCEEDED. */
  GRAPHQL_MAX_RESPONSE_BYTES: positiveInt(8 * 1024 * 1024),
  /**
   * Who may see the schema: introspection (__schema, __type) and "Did you mean" suggestions in
   * errors. authenticated: any caller with a valid API key or token; public: everyone; none: nobody.
   */
  GRAPHQL_SCHEMA_VISIBILITY: z.enum(['authenticated', 'public', 'none']).default('authenticated'),
});

export type SchemaVisibility = z.output<typeof graphqlLimitsEnv>['GRAPHQL_SCHEMA_VISIBILITY'];

/** The gateway's /graphql limits, as its options take them. */
export interface GraphQLLimits {
  maxTokens: number;
  maxAliases: number;
  maxDepth: number;
  maxRootFields: number;
  maxDirectives: number;
  maxResponseBytes: number;
  schemaVisibility: SchemaVisibility;
}

export function graphqlLimitsFrom(env: z.output<typeof graphqlLimitsEnv>): GraphQLLimits {
  return {
    maxTokens: env.GRAPHQL_MAX_TOKENS,
    maxAliases: env.GRAPHQL_MAX_ALIASES,
    maxDepth: env.GRAPHQL_MAX_DEPTH,
    maxRootFields: env.GRAPHQL_MAX_ROOT_FIELDS,
    maxDirectives: env.GRAPHQL_MAX_DIRECTIVES,
    maxResponseBytes: env.GRAPHQL_MAX_RESPONSE_BYTES,
    schemaVisibility: env.GRAPHQL_SCHEMA_VISIBILITY,
  };
}

/** The defaults, for processes and tests that set none. */
export const DEFAULT_GRAPHQL_LIMITS: GraphQLLimits = graphqlLimitsFrom(graphqlLimitsEnv.parse({}));

export const gatewayEnv = z
  .object({
    /** Bootstrap operator key; unset on the embedded default, one is generated and printed once. */
    ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    /** Set to false only for load tests against the gateway itself. */
    RATE_LIMIT_ENABLED: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /** Comma-separated proxy addresses whose X-Forwarded-For is believed. */
    TRUSTED_PROXIES: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      ),
  })
  .extend(graphqlLimitsEnv.shape);

export const subgraphUrlsEnv = z.object({
  /** Per-subgraph URLs for the production gateway; unset, the URL in schema/supergraph.graphql (http://<name>:<port>/graphql). */
  SUBGRAPH_PLATFORM_URL: optionalUrl,
  SUBGRAPH_TENANCY_URL: optionalUrl,
  SUBGRAPH_BILLING_URL: optionalUrl,
  SUBGRAPH_IDENTITY_URL: optionalUrl,
  SUBGRAPH_TELEMETRY_URL: optionalUrl,
  SUBGRAPH_EDGE_URL: optionalUrl,
});

/**
 * The SUBGRAPH_<NAME>_URL values by subgraph: the one reading of these variables. With a
 * fallback, every subgraph gets a URL (the ones left unset get the fallback's).
 */
export function subgraphUrlsFrom(
  env: z.output<typeof subgraphUrlsEnv>,
  fallback?: (name: SubgraphName) => string,
): Partial<Record<SubgraphName, string>> {
  const byName: Record<SubgraphName, string | undefined> = {
    platform: env.SUBGRAPH_PLATFORM_URL,
    tenancy: env.SUBGRAPH_TENANCY_URL,
    billing: env.SUBGRAPH_BILLING_URL,
    identity: env.SUBGRAPH_IDENTITY_URL,
    telemetry: env.SUBGRAPH_TELEMETRY_URL,
    edge: env.SUBGRAPH_EDGE_URL,
  };
  return Object.fromEntries(
    SUBGRAPH_NAMES.flatMap((name) => {
      const url = byName[name] ?? fallback?.(name);
      return url ? [[name, url]] : [];
    }),
  );
}

export const subgraphEnv = z.object({
  SUBGRAPH: z.enum(SUBGRAPH_NAMES),
});

export class EnvError extends Error {}

/** Parses the environment against a schema, reporting every bad variable at once. */
export function loadEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new EnvError(`Invalid environment:\n${lines.join('\n')}`);
}

/** Production refuses to start with generated secrets: they would differ between processes. */
export function requireInProduction(env: { NODE_ENV: string } & Record<string, unknown>, names: string[]): void {
  if (env.NODE_ENV !== 'production') return;
  const missing = names.filter((n) => env[n] === undefined);
  if (missing.length > 0) {
    throw new EnvError(`Invalid environment:\n${missing.map((n) => `  ${n}: required in production`).join('\n')}`);
  }
}
