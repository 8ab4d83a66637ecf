import { loadEnvOrExit } from '../lib/bootstrap.js';
import { createDatabase } from '../lib/db.js';
import {
  databaseEnv,
  httpEnv,
  redisEnv,
  requireInProduction,
  runtimeEnv,
  secretsEnv,
  signingEnv,
  smtpEnv,
  storageDirFrom,
  storageEnv,
  subgraphEnv,
  subgraphUrlsEnv,
  subgraphUrlsFrom,
  tenancyEnv,
} from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createMailerFromEnv } from '../lib/mailer.js';
import { createJobQueue } from '../lib/runtime/jobs.js';
import { createKv } from '../lib/runtime/kv.js';
import { createHttpSubgraphClient } from '../lib/subgraph/client.js';
import { startSubgraphService } from '../lib/subgraph/service.js';
import { defaultSubgraphUrl } from '../gateway/supergraph.js';
import { createSecretBox, loadSecretsKey } from '../lib/secret-box.js';
import { VERSION } from '../lib/version.js';
import { SUBGRAPHS } from '../subgraphs/index.js';
import { createJobDefinitions } from '../subgraphs/jobs.js';
import { scheduleTenantCleanup } from '../subgraphs/tenancy/jobs/cleanup-provisioning.js';
import { onShutdown } from './shutdown.js';

// Production: one subgraph per process (SUBGRAPH=<name>), behind the gateway. Migrations are
// applied beforehand by `npm run db:migrate` (the migrate service in docker-compose.yml).
const env = loadEnvOrExit(
  runtimeEnv
    .extend(databaseEnv.shape)
    .extend(redisEnv.shape)
    .extend({ INTERNAL_SIGNING_SECRET: signingEnv.shape.INTERNAL_SIGNING_SECRET.unwrap() })
    .extend(httpEnv.shape)
    .extend(subgraphEnv.shape)
    .extend(subgraphUrlsEnv.shape)
    .extend(smtpEnv.shape)
    .extend(storageEnv.shape)
    .extend(tenancyEnv.shape)
    .extend(secretsEnv.shape),
);
// A production subgraph on its own PGlite and in-memory queue would silently split the data, and
// one with its own generated secrets key could not read what the others sealed.
requireInProduction(env, ['DATABASE_URL', 'REDIS_URL', 'SECRETS_ENCRYPTION_KEY']);
const logger = createLogger({ level: env.LOG_LEVEL, name: `subgraph-${env.SUBGRAPH}` });
const db = await createDatabase({
  databaseUrl: env.DATABASE_URL,
  dataDir: env.DATA_DIR,
  poolMax: env.DATABASE_POOL_MAX,
  logger,
});
const kv = await createKv({ redisUrl: env.REDIS_URL, logger });
// Subgraphs only enqueue; the worker process runs the jobs (the definitions validate payloads).
const jobs = createJobQueue({ kv, logger, definitions: createJobDefinitions(() => deps) });
const secretBox = createSecretBox(
  await loadSecretsKey({ configured: env.SECRETS_ENCRYPTION_KEY, dataDir: env.DATA_DIR }),
);
const mailer = createMailerFromEnv(env, logger);
// Other subgraphs (tenancy → identity) over HTTP: SUBGRAPH_<NAME>_URL, else the supergraph's default URL.
const subgraphUrls = subgraphUrlsFrom(env, defaultSubgraphUrl);
const subgraphs = createHttpSubgraphClient({ urls: () => subgraphUrls, signingSecret: env.INTERNAL_SIGNING_SECRET });
const deps = {
  secretBox,
  db,
  kv,
  jobs,
  startedAt: new Date(),
  version: VERSION,
  environment: env.NODE_ENV,
  mailer,
  subgraphs,
  storageDir: storageDirFrom(env),
  tenantDatabaseUrl: env.TENANT_DATABASE_URL,
  webhookSigningSecret: env.WEBHOOK_SIGNING_SECRET,
};
const service = await startSubgraphService({
  module: SUBGRAPHS[env.SUBGRAPH],
  deps,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  logger,
});
// The queue has no repeat schedules: tenancy's start-up queues the cleanup of abandoned tenant
// creations (run by the worker), which then reschedules itself.
if (env.SUBGRAPH === 'tenancy') await scheduleTenantCleanup(jobs);
const { url } = await service.listen(env.PORT, env.HOST);
logger.info({ url }, 'subgraph ready');
onShutdown(logger, async () => {
  await service.stop();
  mailer?.close();
  await jobs.close();
  await kv.close();
  await db.close();
});
