import { createSubgraphDeps, depsConfigFromEnv } from '../app/deps.js';
import { metricsConfigFromEnv, startDepsProcessMetrics } from '../app/metrics.js';
import { SUBGRAPHS } from '../app/subgraphs.js';
import { loadEnvOrExit } from '../lib/bootstrap.js';
import {
  httpEnv,
  requireInProduction,
  signingEnv,
  subgraphDepsEnv,
  subgraphEnv,
  subgraphUrlsEnv,
  subgraphUrlsFrom,
} from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createHttpSubgraphClient } from '../lib/subgraph/client.js';
import { startSubgraphService } from '../lib/subgraph/service.js';
import { defaultSubgraphUrl } from '../lib/subgraph/topology.js';
import { onShutdown } from './shutdown.js';

// Production: one subgraph per process (SUBGRAPH=<name>), behind the gateway. Migrations are
// applied beforehand by `npm run db:migrate` (the migrate service in docker-compose.yml).
const env = loadEnvOrExit(
  subgraphDepsEnv
    .extend({ INTERNAL_SIGNING_SECRET: signingEnv.shape.INTERNAL_SIGNING_SECRET.unwrap() })
    .extend(httpEnv.shape)
    .extend(subgraphEnv.shape)
    .extend(subgraphUrlsEnv.shape),
);
// A production subgraph on its own PGlite and in-memory queue would silently split the data, and
// one with its own generated secrets key could not read what the others sealed.
requireInProduction(env, ['DATABASE_URL', 'REDIS_URL', 'SECRETS_ENCRYPTION_KEY']);
const logger = createLogger({ level: env.LOG_LEVEL, name: `subgraph-${env.SUBGRAPH}` });
// Other subgraphs (tenancy → identity) over HTTP: SUBGRAPH_<NAME>_URL, else the supergraph's default URL.
const subgraphUrls = subgraphUrlsFrom(env, defaultSubgraphUrl);
// Subgraphs only enqueue; the worker process runs the jobs (the definitions validate payloads).
const runtime = await createSubgraphDeps(depsConfigFromEnv(env), logger, {
  subgraphs: createHttpSubgraphClient({ urls: () => subgraphUrls, signingSecret: env.INTERNAL_SIGNING_SECRET }),
});
const module = SUBGRAPHS[env.SUBGRAPH];
const service = await startSubgraphService({
  module,
  deps: runtime.deps,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  logger,
});
await module.start?.(runtime.deps);
const metrics = await startDepsProcessMetrics({
  deps: runtime.deps,
  role: `subgraph-${env.SUBGRAPH}`,
  logger,
  config: metricsConfigFromEnv(env),
});
const { url } = await service.listen(env.PORT, env.HOST);
logger.info({ url }, 'subgraph ready');
onShutdown(
  logger,
  async () => {
    await service.stop({ graceMs: env.SHUTDOWN_GRACE_MS });
    await metrics.stop();
    await runtime.close();
  },
  { graceMs: env.SHUTDOWN_GRACE_MS },
);
