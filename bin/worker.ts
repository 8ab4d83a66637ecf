import { loadEnvOrExit } from '../lib/bootstrap.js';
import { createDatabase } from '../lib/db.js';
import {
  databaseEnv,
  redisEnv,
  requiredUrl,
  requireInProduction,
  runtimeEnv,
  secretsEnv,
  signingEnv,
  storageDirFrom,
  storageEnv,
  subgraphUrlsEnv,
  subgraphUrlsFrom,
  tenancyEnv,
} from '../lib/env.js';
import { defaultSubgraphUrl } from '../gateway/supergraph.js';
import { createHttpSubgraphClient } from '../lib/subgraph/client.js';
import { createLogger } from '../lib/logger.js';
import { createJobQueue } from '../lib/runtime/jobs.js';
import { createKv } from '../lib/runtime/kv.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { createSecretBox, loadSecretsKey } from '../lib/secret-box.js';
import { VERSION } from '../lib/version.js';
import { createJobDefinitions } from '../subgraphs/jobs.js';
import { onShutdown } from './shutdown.js';

// Production job worker: BullMQ on Redis; scale out by running more of these. Handlers use the
// same database as the subgraphs that enqueue them.
const env = loadEnvOrExit(
  runtimeEnv
    .extend(databaseEnv.shape)
    .extend({ DATABASE_URL: requiredUrl })
    .extend(redisEnv.shape)
    .extend({ REDIS_URL: requiredUrl })
    .extend(storageEnv.shape)
    .extend(tenancyEnv.shape)
    // Jobs call other subgraphs too (a data import creates tenants, whose admin identity makes).
    .extend({ INTERNAL_SIGNING_SECRET: signingEnv.shape.INTERNAL_SIGNING_SECRET.unwrap() })
    .extend(subgraphUrlsEnv.shape)
    .extend(secretsEnv.shape),
);
requireInProduction(env, ['SECRETS_ENCRYPTION_KEY']);
const logger = createLogger({ level: env.LOG_LEVEL, name: 'worker' });
const db = await createDatabase({
  databaseUrl: env.DATABASE_URL,
  dataDir: env.DATA_DIR,
  poolMax: env.DATABASE_POOL_MAX,
  logger,
});
const kv = await createKv({ redisUrl: env.REDIS_URL, logger });
const subgraphUrls = subgraphUrlsFrom(env, defaultSubgraphUrl);
const definitions = createJobDefinitions(() => deps);
const jobs = createJobQueue({ kv, logger, definitions });
const secretBox = createSecretBox(
  await loadSecretsKey({ configured: env.SECRETS_ENCRYPTION_KEY, dataDir: env.DATA_DIR }),
);
const deps: SubgraphDeps = {
  secretBox,
  db,
  kv,
  jobs,
  startedAt: new Date(),
  version: VERSION,
  environment: env.NODE_ENV,
  storageDir: storageDirFrom(env),
  tenantDatabaseUrl: env.TENANT_DATABASE_URL,
  subgraphs: createHttpSubgraphClient({
    urls: () => subgraphUrls,
    signingSecret: env.INTERNAL_SIGNING_SECRET,
  }),
};
await jobs.startWorker();
logger.info({ definitions: definitions.map((d) => d.id) }, 'worker ready');
onShutdown(logger, async () => {
  await jobs.close();
  await kv.close();
  await db.close();
});
