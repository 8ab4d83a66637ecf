import { createGatewayAuthenticator, loadOperatorKeyHash } from '../gateway/pipeline/authenticate.js';
import { createGateway, type Gateway, type GatewayOptions } from '../gateway/server.js';
import { storageDirFrom, type storageEnv } from '../lib/env.js';
import type { Logger } from '../lib/logger.js';
import type { BlobStore } from '../lib/runtime/blob-store.js';
import { createSecretBox, loadSecretsKey } from '../lib/secret-box.js';
import { STORAGE_URL_KEY_LABEL } from '../lib/storage-url.js';
import type { z } from 'zod';
import { createBlobStore, s3ConfigFrom } from './deps.js';
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

/**
 * The split gateway's object store and signed-URL key, as the all-in-one process builds them from
 * its deps: the same bucket or folder (STORAGE_DIR, S3_*) and the same SECRETS_ENCRYPTION_KEY as
 * the platform subgraph, so the URLs it signs verify here and uploads land where it reads them.
 */
export async function gatewayStorageFromEnv(
  env: z.output<typeof storageEnv> & { DATA_DIR: string; SECRETS_ENCRYPTION_KEY?: string },
): Promise<{ blobs: BlobStore; urlKey: string }> {
  const blobs = createBlobStore({ s3: s3ConfigFrom(env) }, storageDirFrom(env));
  const secretBox = createSecretBox(
    await loadSecretsKey({ configured: env.SECRETS_ENCRYPTION_KEY, dataDir: env.DATA_DIR }),
  );
  return { blobs, urlKey: secretBox.derive(STORAGE_URL_KEY_LABEL) };
}
