import { readFile } from 'node:fs/promises';
import { createGatewayAuthenticator, loadOperatorKeyHash } from '../gateway/plugins/use-auth.js';
import { createGateway } from '../gateway/server.js';
import { loadEnvOrExit } from '../lib/bootstrap.js';
import {
  gatewayEnv,
  subgraphUrlsEnv,
  subgraphUrlsFrom,
  httpEnv,
  redisEnv,
  requireInProduction,
  runtimeEnv,
  signingEnv,
} from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createJobQueue } from '../lib/runtime/jobs.js';
import { createKv } from '../lib/runtime/kv.js';
import { enqueueAuditEntries, recordAuditJobForProducers } from '../subgraphs/identity/jobs/record-audit.js';
import { onShutdown } from './shutdown.js';

// Production gateway: serves the checked-in supergraph (schema/supergraph.graphql) and reaches
// every subgraph over HTTP. Stateless: shared state lives in Redis, so it scales out.
const env = loadEnvOrExit(
  runtimeEnv
    .extend(redisEnv.shape)
    .extend({ INTERNAL_SIGNING_SECRET: signingEnv.shape.INTERNAL_SIGNING_SECRET.unwrap() })
    .extend(httpEnv.shape)
    .extend(gatewayEnv.shape)
    .extend(subgraphUrlsEnv.shape)
    .extend({ ADMIN_API_KEY: gatewayEnv.shape.ADMIN_API_KEY.unwrap() }),
);
requireInProduction(env, ['REDIS_URL']);
const logger = createLogger({ level: env.LOG_LEVEL, name: 'gateway' });
const kv = await createKv({ redisUrl: env.REDIS_URL, logger });
const urls = subgraphUrlsFrom(env);
// Enqueue-only: the gateway hands audit entries to identity's record-audit job; bin/worker.ts runs it.
const jobs = createJobQueue({ kv, logger, definitions: [recordAuditJobForProducers] });
const operatorKeyHash = await loadOperatorKeyHash({ adminApiKey: env.ADMIN_API_KEY, dataDir: '.', logger });
const gateway = await createGateway({
  supergraphSdl: await readFile(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8'),
  inProcess: {},
  urls,
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  authenticate: (execute) => createGatewayAuthenticator({ operatorKeyHash, execute, kv, logger }),
  kv,
  logger,
  requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
  rateLimitEnabled: env.RATE_LIMIT_ENABLED,
  trustedProxies: env.TRUSTED_PROXIES,
  audit: (entries) => enqueueAuditEntries(jobs, entries),
});
const { url } = await gateway.listen(env.PORT, env.HOST);
logger.info({ url }, 'gateway ready');
onShutdown(logger, async () => {
  await gateway.stop();
  await jobs.close();
  await kv.close();
});
