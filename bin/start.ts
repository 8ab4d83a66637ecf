import { loadEnvOrExit } from '../lib/bootstrap.js';
import {
  databaseEnv,
  gatewayEnv,
  httpEnv,
  redisEnv,
  runtimeEnv,
  signingEnv,
  smtpEnv,
  storageDirFrom,
  storageEnv,
  tenancyEnv,
  secretsEnv,
} from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { startPlatform } from '../lib/platform.js';
import { onShutdown } from './shutdown.js';

// `npm start`: the whole platform in one process, on the embedded default unless DATABASE_URL /
// REDIS_URL point at real servers.
const env = loadEnvOrExit(
  runtimeEnv
    .extend(databaseEnv.shape)
    .extend(redisEnv.shape)
    .extend(signingEnv.shape)
    .extend(httpEnv.shape)
    .extend(gatewayEnv.shape)
    .extend(smtpEnv.shape)
    .extend(storageEnv.shape)
    .extend(tenancyEnv.shape)
    .extend(secretsEnv.shape),
);
const logger = createLogger({ level: env.LOG_LEVEL, name: 'platform' });
const platform = await startPlatform(
  {
    environment: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    poolMax: env.DATABASE_POOL_MAX,
    redisUrl: env.REDIS_URL,
    signingSecret: env.INTERNAL_SIGNING_SECRET,
    secretsEncryptionKey: env.SECRETS_ENCRYPTION_KEY,
    adminApiKey: env.ADMIN_API_KEY,
    port: env.PORT,
    host: env.HOST,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    rateLimitEnabled: env.RATE_LIMIT_ENABLED,
    trustedProxies: env.TRUSTED_PROXIES,
    transport: 'in-process',
    smtp: env.SMTP_URL ? { url: env.SMTP_URL, from: env.SMTP_FROM } : undefined,
    storageDir: storageDirFrom(env),
    tenantDatabaseUrl: env.TENANT_DATABASE_URL,
    webhookSigningSecret: env.WEBHOOK_SIGNING_SECRET,
  },
  logger,
);
onShutdown(logger, () => platform.close());
