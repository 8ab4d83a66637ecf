import { z } from 'zod';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { auditEntrySchema, RECORD_AUDIT_JOB, type AuditEntry } from '../contract.js';
import { recordAuditEntries } from '../services/audit.js';

const payloadSchema = z.object({ entries: z.array(auditEntrySchema).min(1).max(100) });

/**
 * Writes the audit entries of one request. Queued rather than written inline so the caller's
 * response never waits on it, and retried with backoff so an entry survives identity's database
 * being briefly unreachable (attempts 8, backoff from 1 s: about four minutes of outage).
 */
export function createRecordAuditJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: RECORD_AUDIT_JOB,
    schema: payloadSchema,
    attempts: 8,
    backoffMs: 1000,
    // Frequent plumbing nobody watches live: kept off the task progress bus.
    announce: false,
    handler: (payload, { logger }) => recordAuditEntries({ deps: deps(), entries: payload.entries, logger }),
  });
}

/** The gateway only enqueues; it runs no handlers, so its copy of the definition needs no deps. */
export const recordAuditJobForProducers = createRecordAuditJob(() => {
  throw new Error('record-audit runs in the worker, not in the process that enqueues it');
});

/**
 * Queues one request's entries. The job id is derived from the first entry's id (made fresh by
 * the producer), so enqueueing the same batch twice adds one job, and a caller-chosen request id
 * can never make two requests' entries collide.
 */
export async function enqueueAuditEntries(jobs: JobQueue, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await jobs.enqueue(recordAuditJobForProducers, { entries }, { jobId: `audit-${entries[0]!.id}` });
}
