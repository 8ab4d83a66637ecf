import { depsConfigFromEnv } from '../app/deps.js';
import { metricsConfigFromEnv } from '../app/metrics.js';
import { startPlatform } from '../app/platform.js';
import { loadEnvOrExit } from '../lib/bootstrap.js';
import { gatewayEnv, graphqlLimitsFrom, httpEnv, signingEnv, subgraphDepsEnv } from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown } from './shutdown.js';

// `npm start`: the whole platform in one process, on the embedded default unless DATABASE_URL /
// REDIS_URL point at real servers.
const env = loadEnvOrExit(subgraphDepsEnv.extend(signingEnv.shape).extend(httpEnv.shape).extend(gatewayEnv.shape));
const logger = createLogger({ level: env.LOG_LEVEL, name: 'platform' });
const platform = await startPlatform(
  {
    ...depsConfigFromEnv(env),
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    adminApiKey: env.ADMIN_API_KEY,
    port: env.PORT,
    host: env.HOST,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    rateLimitEnabled: env.RATE_LIMIT_ENABLED,
    trustedProxies: env.TRUSTED_PROXIES,
    graphqlLimits: graphqlLimitsFrom(env),
    transport: 'in-process',
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    metrics: metricsConfigFromEnv(env),
  },
  logger,
);
onShutdown(logger, () => platform.close(), { graceMs: env.SHUTDOWN_GRACE_MS });
