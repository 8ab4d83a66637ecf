import { join } from 'node:path';
import type { z } from 'zod';
import { createDatabase } from '../lib/db.js';
import { storageDirFrom, type storageEnv, type subgraphDepsEnv } from '../lib/env.js';
import type { Logger } from '../lib/logger.js';
import { createSmtpMailer } from '../lib/mailer.js';
import { applyMigrations } from '../lib/migrate.js';
import { parseAllowList } from '../lib/outbound-address.js';
import { createFilesystemBlobStore, type BlobStore } from '../lib/runtime/blob-store.js';
import { createS3BlobStore, type S3BlobStoreConfig } from '../lib/runtime/blob-store-s3.js';
import { createJobQueue } from '../lib/runtime/jobs.js';
import { publishTaskChange } from '../subgraphs/platform/services/tasks/live.js';
import { WEBHOOK_DISABLE_AFTER_FAILURES, WEBHOOK_RETRY_SCHEDULE_MS } from '../lib/webhooks.js';
import { createKv } from '../lib/runtime/kv.js';
import { DEFAULT_BROADCAST_RECEIPT_WAIT_MS } from '../lib/realtime/receipts.js';
import { createSecretBox, loadSecretsKey } from '../lib/secret-box.js';
import type { SubgraphClient } from '../lib/subgraph/client.js';
import type { StripeSettings, SubgraphDeps } from '../lib/subgraph/context.js';
import { VERSION } from '../lib/version.js';
import { PRIVACY_HOOKS, subgraphJobs } from './subgraphs.js';

const DEFAULT_DATA_IMPORT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_OUTBOUND_TIMEOUT_MS = 10_000;
const DEFAULT_HEALTH_CHECK_TICK_MS = 10_000;

/** How data import is configured: allow-list entries as the operator wrote them. */
export interface DataImportConfig {
  /** `host`, `host:port`, `[v6]:port`, an IP, or a CIDR (lib/outbound-address.ts parseAllowEntry). */
  allowedHosts: string[];
  connectTimeoutMs: number;
}

/** What the subgraphs' deps are built from; `depsConfigFromEnv` reads it from the environment. */
export interface DepsConfig {
  environment: 'development' | 'test' | 'production';
  /** Set: PostgreSQL. Unset: embedded PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  dataDir: string;
  poolMax: number;
  /** Set: Redis and BullMQ. Unset: the in-memory adapters. */
  redisUrl?: string;
  /** 64 hex; unset: generated once and kept in dataDir. */
  secretsEncryptionKey?: string;
  /** Outgoing mail (SMTP_URL, SMTP_FROM); unset: no mailer, email MFA answers NOT_CONFIGURED. */
  smtp?: { url: string; from: string };
  /** STORAGE_DIR: the platform's file storage (tenant backups). Default `<dataDir>/storage`. */
  storageDir?: string;
  /** S3_*: objects (deps.blobs) in an S3-compatible bucket instead of `<storageDir>/objects`. */
  s3?: S3BlobStoreConfig;
  /** CLAMAV_HOST: clamd that scans uploads; unset, uploads answer that they were not scanned. */
  clamav?: { host: string; port: number };
  /** TENANT_DATABASE_URL: where dedicated (level 2) tenant databases live; unset, the platform's own server. */
  tenantDatabaseUrl?: string;
  /** WEBHOOK_SIGNING_SECRET: verifies the vm-ready webhook; unset, it answers NOT_CONFIGURED. */
  webhookSigningSecret?: string;
  /**
   * Data import sources (DATA_IMPORT_ALLOWED_HOSTS, DATA_IMPORT_CONNECT_TIMEOUT_MS): the allow-list
   * entries that may reach internal addresses, and the connect timeout. Unset: no exceptions, 5 s.
   */
  dataImport?: DataImportConfig;
  /** OUTBOUND_*: webhook deliveries and mesh health checks; the retry schedule and disable threshold for tests. */
  outbound?: {
    allowedHosts: string[];
    timeoutMs?: number;
    webhookRetryScheduleMs?: number[];
    webhookDisableAfterFailures?: number;
    healthCheckTickMs?: number;
  };
  /** STRIPE_*: billing through Stripe; unset, the billing routes answer NOT_CONFIGURED. */
  stripe?: StripeSettings;
  /** WHITELABEL_DNS_SERVERS: resolvers that verify custom domains; unset, the system's. */
  whitelabelDnsServers?: string[];
  /** BROADCAST_RECEIPT_WAIT_MS: how long a broadcast collects the gateways' delivery counts. */
  broadcastReceiptWaitMs?: number;
  /** METRICS_RETENTION_HOURS in ms: how long metric samples are kept, for whoever writes them (the worker's record-metrics job). */
  metricsRetentionMs?: number;
  /** Namespaces every Redis key, so test runs sharing one Redis never see each other's counters. */
  keyPrefix?: string;
  /** Tests: start PGlite from a cached empty cluster instead of running initdb (about 1 s instead of 4). */
  pgliteFromTemplate?: boolean;
}

export function depsConfigFromEnv(env: z.output<typeof subgraphDepsEnv>): DepsConfig {
  return {
    environment: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    poolMax: env.DATABASE_POOL_MAX,
    redisUrl: env.REDIS_URL,
    secretsEncryptionKey: env.SECRETS_ENCRYPTION_KEY,
    smtp: env.SMTP_URL ? { url: env.SMTP_URL, from: env.SMTP_FROM } : undefined,
    storageDir: storageDirFrom(env),
    s3: s3ConfigFrom(env),
    clamav: env.CLAMAV_HOST ? parseHostPort(env.CLAMAV_HOST, 3310) : undefined,
    tenantDatabaseUrl: env.TENANT_DATABASE_URL,
    webhookSigningSecret: env.WEBHOOK_SIGNING_SECRET,
    dataImport: {
      allowedHosts: env.DATA_IMPORT_ALLOWED_HOSTS,
      connectTimeoutMs: env.DATA_IMPORT_CONNECT_TIMEOUT_MS,
    },
    whitelabelDnsServers: env.WHITELABEL_DNS_SERVERS,
    broadcastReceiptWaitMs: env.BROADCAST_RECEIPT_WAIT_MS,
    metricsRetentionMs: env.METRICS_RETENTION_HOURS * 3600_000,
    outbound: { allowedHosts: env.OUTBOUND_ALLOWED_HOSTS, timeoutMs: env.OUTBOUND_TIMEOUT_MS },
    stripe: env.STRIPE_SECRET_KEY
      ? {
          secretKey: env.STRIPE_SECRET_KEY,
          webhookSecret: env.STRIPE_WEBHOOK_SECRET,
          apiUrl: env.STRIPE_API_URL,
          usageMeterEvent: env.STRIPE_USAGE_METER_EVENT,
        }
      : undefined,
  };
}

/** S3_*: the S3-compatible bucket when S3_BUCKET is set (every process that touches objects reads it alike). */
export function s3ConfigFrom(env: z.output<typeof storageEnv>): S3BlobStoreConfig | undefined {
  return env.S3_BUCKET
    ? {
        bucket: env.S3_BUCKET,
        endpoint: env.S3_ENDPOINT,
        region: env.S3_REGION,
        accessKeyId: env.S3_ACCESS_KEY_ID,
        secretAccessKey: env.S3_SECRET_ACCESS_KEY,
        forcePathStyle: env.S3_FORCE_PATH_STYLE ?? Boolean(env.S3_ENDPOINT),
        prefix: env.S3_PREFIX || undefined,
      }
    : undefined;
}

/** The one choice of object store backend: S3 when S3_BUCKET is set, else the local folder. */
export function createBlobStore(config: Pick<DepsConfig, 's3'>, storageDir: string): BlobStore {
  return config.s3 ? createS3BlobStore(config.s3) : createFilesystemBlobStore(join(storageDir, 'objects'));
}

function parseHostPort(value: string, defaultPort: number): { host: string; port: number } {
  const match = /^(.*?)(?::(\d+))?$/.exec(value)!;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: match[2] ? Number(match[2]) : defaultPort };
}

export interface Runtime {
  deps: SubgraphDeps;
  /** Closes the queue, Redis, the mailer and the database, last opened first. Idempotent enough to call once. */
  close(): Promise<void>;
}

/**
 * The one place the subgraphs' deps are built, for every process that runs subgraph code (the
 * all-in-one process, each subgraph process, the worker): database, Redis or its in-memory
 * stand-ins, the job queue with every subgraph's jobs, the secret box, the mailer.
 * `migrate` applies pending migrations first (the all-in-one process; production runs them as a
 * step of its own). The worker is not started here: only the process that runs jobs starts it.
 */
export async function createSubgraphDeps(
  config: DepsConfig,
  logger: Logger,
  options: { subgraphs?: SubgraphClient; migrate?: boolean } = {},
): Promise<Runtime> {
  const db = await createDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.poolMax,
    logger,
    fromTemplate: config.pgliteFromTemplate,
  });
  const closers: Array<() => Promise<void>> = [() => db.close()];
  const close = async () => {
    for (const fn of closers.reverse())
      await fn().catch((error: unknown) => logger.error({ err: error }, 'close failed'));
  };
  try {
    if (options.migrate) {
      const { applied } = await applyMigrations({ db, logger });
      if (applied.length > 0) logger.info({ applied }, 'applied migrations');
    }
    const kv = await createKv({ redisUrl: config.redisUrl, logger, keyPrefix: config.keyPrefix });
    closers.push(() => kv.close());
    // Handlers read deps only when a job runs, after it is built below.
    const jobs = createJobQueue({
      kv,
      logger,
      definitions: subgraphJobs(() => deps),
      // Task progress on the bus: the platform subgraph's taskProgress subscription.
      onChange: (job) => publishTaskChange(kv, job),
    });
    closers.push(() => jobs.close());
    const mailer = config.smtp ? createSmtpMailer({ ...config.smtp, logger }) : undefined;
    if (mailer) closers.push(async () => mailer.close());
    const secretBox = createSecretBox(
      await loadSecretsKey({ configured: config.secretsEncryptionKey, dataDir: config.dataDir }),
    );
    const storageDir = config.storageDir ?? join(config.dataDir, 'storage');
    const deps: SubgraphDeps = {
      secretBox,
      db,
      kv,
      jobs,
      startedAt: new Date(),
      version: VERSION,
      environment: config.environment,
      mailer,
      subgraphs: options.subgraphs,
      storageDir,
      blobs: createBlobStore(config, storageDir),
      clamav: config.clamav,
      tenantDatabaseUrl: config.tenantDatabaseUrl,
      webhookSigningSecret: config.webhookSigningSecret,
      dataImport: {
        // Parsed again here (env already validated it) so a config built in code is checked too.
        allow: parseAllowList((config.dataImport?.allowedHosts ?? []).join(',')),
        connectTimeoutMs: config.dataImport?.connectTimeoutMs ?? DEFAULT_DATA_IMPORT_CONNECT_TIMEOUT_MS,
      },
      outbound: {
        allow: parseAllowList((config.outbound?.allowedHosts ?? []).join(',')),
        timeoutMs: config.outbound?.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS,
        webhookRetryScheduleMs: config.outbound?.webhookRetryScheduleMs ?? WEBHOOK_RETRY_SCHEDULE_MS,
        webhookDisableAfterFailures: config.outbound?.webhookDisableAfterFailures ?? WEBHOOK_DISABLE_AFTER_FAILURES,
        healthCheckTickMs: config.outbound?.healthCheckTickMs ?? DEFAULT_HEALTH_CHECK_TICK_MS,
      },
      stripe: config.stripe,
      whitelabel: { dnsServers: config.whitelabelDnsServers ?? [] },
      realtime: { broadcastReceiptWaitMs: config.broadcastReceiptWaitMs ?? DEFAULT_BROADCAST_RECEIPT_WAIT_MS },
      privacyHooks: PRIVACY_HOOKS,
      metrics: config.metricsRetentionMs ? { retentionMs: config.metricsRetentionMs } : undefined,
    };
    return { deps, close };
  } catch (error) {
    await close();
    throw error;
  }
}
