import { createSubgraphDeps, depsConfigFromEnv } from '../app/deps.js';
import { metricsConfigFromEnv, startDepsProcessMetrics } from '../app/metrics.js';
import { loadEnvOrExit } from '../lib/bootstrap.js';
import {
  requiredUrl,
  requireInProduction,
  signingEnv,
  subgraphDepsEnv,
  subgraphUrlsEnv,
  subgraphUrlsFrom,
} from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createHttpSubgraphClient } from '../lib/subgraph/client.js';
import { defaultSubgraphUrl } from '../lib/subgraph/topology.js';
import { onShutdown } from './shutdown.js';

// Production job worker: BullMQ on Redis; scale out by running more of these. Handlers use the
// same database, settings and deps as the subgraphs that enqueue them (app/deps.ts).
const env = loadEnvOrExit(
  subgraphDepsEnv
    .extend({ DATABASE_URL: requiredUrl, REDIS_URL: requiredUrl })
    // Jobs call other subgraphs too (a data import creates tenants, whose admin identity makes).
    .extend({ INTERNAL_SIGNING_SECRET: signingEnv.shape.INTERNAL_SIGNING_SECRET.unwrap() })
    .extend(subgraphUrlsEnv.shape),
);
requireInProduction(env, ['SECRETS_ENCRYPTION_KEY']);
const logger = createLogger({ level: env.LOG_LEVEL, name: 'worker' });
const subgraphUrls = subgraphUrlsFrom(env, defaultSubgraphUrl);
const runtime = await createSubgraphDeps(depsConfigFromEnv(env), logger, {
  subgraphs: createHttpSubgraphClient({ urls: () => subgraphUrls, signingSecret: env.INTERNAL_SIGNING_SECRET }),
});
await runtime.deps.jobs.startWorker();
const metrics = await startDepsProcessMetrics({
  deps: runtime.deps,
  role: 'worker',
  logger,
  config: metricsConfigFromEnv(env),
});
logger.info('worker ready');
onShutdown(
  logger,
  async () => {
    await metrics.stop();
    await runtime.close();
  },
  { graceMs: env.SHUTDOWN_GRACE_MS },
);
