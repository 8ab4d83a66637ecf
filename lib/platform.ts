import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../gateway/server.js';
import { composeSupergraph } from '../gateway/supergraph.js';
import { createGatewayAuthenticator, loadOperatorKeyHash } from '../gateway/plugins/use-auth.js';
import { SUBGRAPHS } from '../subgraphs/index.js';
import { createDatabase, type Database } from './db.js';
import { SUBGRAPH_NAMES, type SubgraphName } from './env.js';
import type { Logger } from './logger.js';
import { createSmtpMailer } from './mailer.js';
import { applyMigrations } from './migrate.js';
import { createJobQueue, type JobQueue } from './runtime/jobs.js';
import { createKv, type Kv } from './runtime/kv.js';
import type { SubgraphDeps } from './subgraph/context.js';
import { createHttpSubgraphClient, createInProcessSubgraphClient } from './subgraph/client.js';
import { startSubgraphService, type SubgraphService } from './subgraph/service.js';
import { createSecretBox, loadSecretsKey, type SecretBox } from './secret-box.js';
import { VERSION } from './version.js';
import { createJobDefinitions } from '../subgraphs/jobs.js';
import { enqueueAuditEntries } from '../subgraphs/identity/jobs/record-audit.js';
import { scheduleTenantCleanup } from '../subgraphs/tenancy/jobs/cleanup-provisioning.js';

export interface PlatformConfig {
  environment: 'development' | 'test' | 'production';
  databaseUrl?: string;
  dataDir: string;
  poolMax: number;
  redisUrl?: string;
  signingSecret?: string;
  /** 64 hex; unset: generated once and kept in dataDir. */
  secretsEncryptionKey?: string;
  adminApiKey?: string;
  port: number;
  host: string;
  requestTimeoutMs: number;
  rateLimitEnabled: boolean;
  trustedProxies?: string[];
  /** in-process: the embedded default. http: every subgraph on its own port, reached over the network. */
  transport: 'in-process' | 'http';
  rateLimitPolicies?: Parameters<typeof createGateway>[0]['rateLimitPolicies'];
  /** Namespaces every Redis key, so test runs sharing one Redis never see each other's counters. */
  keyPrefix?: string;
  /** Tests: start PGlite from a cached empty cluster instead of running initdb (about 1 s instead of 4). */
  pgliteFromTemplate?: boolean;
  /** Outgoing mail (SMTP_URL, SMTP_FROM); unset: no mailer, email MFA answers NOT_CONFIGURED. */
  smtp?: { url: string; from: string };
  /** STORAGE_DIR: the platform's file storage (tenant backups). Default `<dataDir>/storage`. */
  storageDir?: string;
  /** TENANT_DATABASE_URL: where dedicated (level 2) tenant databases live; unset, the platform's own server. */
  tenantDatabaseUrl?: string;
  /** WEBHOOK_SIGNING_SECRET: verifies the vm-ready webhook; unset, it answers NOT_CONFIGURED. */
  webhookSigningSecret?: string;
}

export interface Platform {
  url: string;
  gateway: Gateway;
  db: Database;
  kv: Kv;
  jobs: JobQueue;
  subgraphs: Record<SubgraphName, SubgraphService>;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  signingSecret: string;
  secretBox: SecretBox;
  close(): Promise<void>;
}

/**
 * The composition root of `npm start` (and of the end-to-end tests): database, Redis or its
 * in-memory stand-ins, the job worker, six subgraphs and the gateway, in one process.
 */
export async function startPlatform(config: PlatformConfig, logger: Logger): Promise<Platform> {
  const started = performance.now();
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
    const { applied } = await applyMigrations({ db, logger });
    if (applied.length > 0) logger.info({ applied }, 'applied migrations');

    const kv = await createKv({ redisUrl: config.redisUrl, logger, keyPrefix: config.keyPrefix });
    closers.push(() => kv.close());
    // Handlers read deps only when a job runs, after it is built below.
    const jobs = createJobQueue({ kv, logger, definitions: createJobDefinitions(() => deps) });
    closers.push(() => jobs.close());

    // In one process a fresh secret per start is enough: nothing outside it has to verify it.
    const signingSecret = config.signingSecret ?? randomBytes(32).toString('hex');
    const mailer = config.smtp ? createSmtpMailer({ ...config.smtp, logger }) : undefined;
    if (mailer) closers.push(async () => mailer.close());
    const subgraphs = {} as Record<SubgraphName, SubgraphService>;
    const subgraphUrls: Partial<Record<SubgraphName, string>> = {};
    // Read at call time: the subgraphs are started below, after the deps they are built from.
    const subgraphClient =
      config.transport === 'http'
        ? createHttpSubgraphClient({ urls: () => subgraphUrls, signingSecret })
        : createInProcessSubgraphClient({ services: () => subgraphs, signingSecret });
    const secretBox = createSecretBox(
      await loadSecretsKey({ configured: config.secretsEncryptionKey, dataDir: config.dataDir }),
    );
    const deps: SubgraphDeps = {
      secretBox,
      db,
      kv,
      jobs,
      startedAt: new Date(),
      version: VERSION,
      environment: config.environment,
      mailer,
      subgraphs: subgraphClient,
      storageDir: config.storageDir ?? join(config.dataDir, 'storage'),
      tenantDatabaseUrl: config.tenantDatabaseUrl,
      webhookSigningSecret: config.webhookSigningSecret,
    };
    await jobs.startWorker();

    for (const name of SUBGRAPH_NAMES) {
      const service = await startSubgraphService({ module: SUBGRAPHS[name], deps, signingSecret, logger });
      closers.push(() => service.stop());
      subgraphs[name] = service;
      if (config.transport === 'http') subgraphUrls[name] = (await service.listen(0, '127.0.0.1')).url;
    }

    // No repeat schedules in the queue: tenancy's start-up queues the cleanup of abandoned
    // tenant creations, which then reschedules itself.
    await scheduleTenantCleanup(jobs);

    const operatorKeyHash = await loadOperatorKeyHash({
      adminApiKey: config.adminApiKey,
      dataDir: config.dataDir,
      logger,
    });
    const gateway = await createGateway({
      supergraphSdl: composeSupergraph(Object.values(SUBGRAPHS)),
      inProcess: config.transport === 'in-process' ? subgraphs : {},
      urls: subgraphUrls,
      signingSecret,
      authenticate: (execute) => createGatewayAuthenticator({ operatorKeyHash, execute, kv, logger }),
      kv,
      logger,
      requestTimeoutMs: config.requestTimeoutMs,
      rateLimitEnabled: config.rateLimitEnabled,
      trustedProxies: config.trustedProxies ?? [],
      rateLimitPolicies: config.rateLimitPolicies,
      audit: (entries) => enqueueAuditEntries(jobs, entries),
    });
    closers.push(() => gateway.stop());
    const { url } = await gateway.listen(config.port, config.host);
    logger.info(
      {
        url,
        transport: config.transport,
        database: db.kind,
        redis: kv.kind,
        ms: Math.round(performance.now() - started),
      },
      'platform ready',
    );
    return { url, gateway, db, kv, jobs, subgraphs, subgraphUrls, signingSecret, secretBox, close };
  } catch (error) {
    await close();
    throw error;
  }
}
