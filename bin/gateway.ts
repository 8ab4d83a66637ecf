import { readFile } from 'node:fs/promises';
import { assembleGateway, createGatewayJobQueue, gatewayStorageFromEnv } from '../app/gateway.js';
import { loadEnvOrExit } from '../lib/bootstrap.js';
import {
  gatewayEnv,
  graphqlLimitsFrom,
  httpEnv,
  redisEnv,
  requireInProduction,
  runtimeEnv,
  secretsEnv,
  signingEnv,
  storageEnv,
  subgraphUrlsEnv,
  subgraphUrlsFrom,
} from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createKv } from '../lib/runtime/kv.js';
import { createMetricRecorder, defaultInstanceName } from '../lib/runtime/metric-recorder.js';
import { startProcessMetrics } from '../app/metrics.js';
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
    .extend({ ADMIN_API_KEY: gatewayEnv.shape.ADMIN_API_KEY.unwrap() })
    // Signed storage URLs: the platform's object store and the key they are signed with.
    .extend(storageEnv.shape)
    .extend(secretsEnv.shape),
);
requireInProduction(env, ['REDIS_URL', 'SECRETS_ENCRYPTION_KEY']);
const logger = createLogger({ level: env.LOG_LEVEL, name: 'gateway' });
const kv = await createKv({ redisUrl: env.REDIS_URL, logger });
const jobs = createGatewayJobQueue({ kv, logger });
const gateway = await assembleGateway({
  supergraphSdl: await readFile(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8'),
  inProcess: {},
  urls: subgraphUrlsFrom(env),
  signingSecret: env.INTERNAL_SIGNING_SECRET,
  kv,
  jobs,
  logger,
  adminApiKey: env.ADMIN_API_KEY,
  dataDir: '.',
  requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
  rateLimitEnabled: env.RATE_LIMIT_ENABLED,
  trustedProxies: env.TRUSTED_PROXIES,
  graphqlLimits: graphqlLimitsFrom(env),
  // SECRETS_ENCRYPTION_KEY is required in production; without it (development) the key is kept
  // beside the operator key's hash, in the working folder like dataDir above.
  storage: await gatewayStorageFromEnv({ ...env, DATA_DIR: '.' }),
  metricRecorder: createMetricRecorder({ instance: env.METRICS_INSTANCE ?? defaultInstanceName('gateway'), logger }),
});
// No database here: each sample batch goes to telemetry's record-metrics job, written by the worker.
const metrics = await startProcessMetrics({
  recorder: gateway.metricRecorder,
  kv,
  jobs,
  logger,
  config: { sampleIntervalMs: env.METRICS_SAMPLE_INTERVAL_MS },
});
const { url } = await gateway.listen(env.PORT, env.HOST);
logger.info({ url }, 'gateway ready');
onShutdown(
  logger,
  async () => {
    await gateway.stop({ graceMs: env.SHUTDOWN_GRACE_MS });
    await metrics.stop();
    // Audit entries of the drained requests are queued before the queue closes.
    await jobs.close();
    await kv.close();
  },
  { graceMs: env.SHUTDOWN_GRACE_MS },
);
