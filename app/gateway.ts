import { createGatewayAuthenticator, loadOperatorKeyHash } from '../gateway/pipeline/authenticate.js';
import { createGateway, type Gateway, type GatewayOptions } from '../gateway/server.js';
import type { Logger } from '../lib/logger.js';
import { createJobQueue, type JobQueue } from '../lib/runtime/jobs.js';
import type { Kv } from '../lib/runtime/kv.js';
import { enqueueAuditEntries, recordAuditJobForProducers } from '../subgraphs/identity/jobs/record-audit.js';
import { recordMetricsJobForProducers } from '../subgraphs/telemetry/jobs/record-metrics.js';

/**
 * The gateway as every process assembles it (the all-in-one process and the production gateway):
 * the operator key, the authenticator chain, and audit entries handed to identity's job queue.
 */
export async function assembleGateway(
  options: Omit<GatewayOptions, 'authenticate' | 'audit'> & {
    jobs: JobQueue;
    kv: Kv;
    logger: Logger;
    /** ADMIN_API_KEY; unset: generated on first start, its hash kept in dataDir. */
    adminApiKey: string | undefined;
    dataDir: string;
  },
): Promise<Gateway> {
  const { jobs, adminApiKey, dataDir, ...gatewayOptions } = options;
  const { kv, logger } = options;
  const operatorKeyHash = await loadOperatorKeyHash({ adminApiKey, dataDir, logger });
  return createGateway({
    ...gatewayOptions,
    authenticate: (execute) => createGatewayAuthenticator({ operatorKeyHash, execute, kv, logger }),
    audit: (entries) => enqueueAuditEntries(jobs, entries),
  });
}

/**
 * The production gateway's queue: enqueue-only, it hands audit entries to identity's record-audit
 * job and runs no handlers (the worker does).
 */
export function createGatewayJobQueue(options: { kv: Kv; logger: Logger }): JobQueue {
  return createJobQueue({ ...options, definitions: [recordAuditJobForProducers, recordMetricsJobForProducers] });
}
