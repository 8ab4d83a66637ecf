import { z } from 'zod';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { cleanupAbandonedTenants, PROVISIONING_TIMEOUT_MS } from '../services/tenants/tenants.js';

export const CLEANUP_PROVISIONING_JOB = 'tenancy.cleanup-provisioning';

/** How often abandoned tenant creations are looked for. */
export const CLEANUP_INTERVAL_MS = 5 * 60_000;

const payloadSchema = z.object({ olderThanMs: z.number().int().min(0).default(PROVISIONING_TIMEOUT_MS) });

/**
 * The job queue has no repeat schedule, so the job schedules its own next run. Job ids name a
 * time slot (`tenancy-cleanup-<slot>`): every tenancy process that starts, and every run that
 * reschedules, asks for the same slot id, and the queue keeps one job per id, so replicas do not
 * multiply the runs.
 */
function slotJobId(at: number): string {
  return `tenancy-cleanup-${Math.floor(at / CLEANUP_INTERVAL_MS)}`;
}

export function createCleanupProvisioningJob(deps: () => SubgraphDeps) {
  const job = defineJob({
    id: CLEANUP_PROVISIONING_JOB,
    schema: payloadSchema,
    attempts: 3,
    backoffMs: 5_000,
    handler: async (payload, ctx) => {
      const result = await cleanupAbandonedTenants(deps(), payload.olderThanMs);
      if (result.removed.length > 0) ctx.logger.warn({ removed: result.removed }, 'removed abandoned tenant creations');
      await scheduleNext(deps().jobs);
      return result;
    },
  });
  const scheduleNext = async (jobs: JobQueue) => {
    const next = (Math.floor(Date.now() / CLEANUP_INTERVAL_MS) + 1) * CLEANUP_INTERVAL_MS;
    await jobs.enqueue(job, {}, { jobId: slotJobId(next), delayMs: Math.max(0, next - Date.now()) });
  };
  return job;
}

/** At tenancy start-up: one run now (for this slot), which then keeps rescheduling itself. */
export async function scheduleTenantCleanup(jobs: JobQueue): Promise<void> {
  await jobs.enqueue(CLEANUP_PROVISIONING_JOB, {}, { jobId: slotJobId(Date.now()) });
}
