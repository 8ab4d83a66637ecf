import { loadEnvOrExit } from '../lib/bootstrap.js';
import { redisEnv, requiredUrl, runtimeEnv } from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createJobQueue } from '../lib/runtime/jobs.js';
import { createKv } from '../lib/runtime/kv.js';
import { JOB_DEFINITIONS } from '../subgraphs/jobs.js';
import { onShutdown } from './shutdown.js';

// Production job worker: BullMQ on Redis; scale out by running more of these.
const env = loadEnvOrExit(runtimeEnv.extend(redisEnv.shape).extend({ REDIS_URL: requiredUrl }));
const logger = createLogger({ level: env.LOG_LEVEL, name: 'worker' });
const kv = await createKv({ redisUrl: env.REDIS_URL, logger });
const jobs = createJobQueue({ kv, logger, definitions: JOB_DEFINITIONS });
await jobs.startWorker();
logger.info({ definitions: JOB_DEFINITIONS.map((d) => d.id) }, 'worker ready');
onShutdown(logger, async () => {
  await jobs.close();
  await kv.close();
});
