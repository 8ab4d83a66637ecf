import { z } from 'zod';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { sweepStaging } from '../services/storage/files.js';

export const SWEEP_STAGING_JOB = 'platform.sweep-staging';
/** Hourly: a staged upload older than STAGING_MAX_AGE_MS (6 h) was abandoned by its gateway. */
const TICK_MS = 3_600_000;

/** One id per time slot, so every platform process asking for the next sweep asks for the same job. */
function slotJobId(at: number): string {
  return `sweep-staging-${Math.floor(at / TICK_MS)}`;
}

async function scheduleNext(jobs: JobQueue): Promise<void> {
  const next = (Math.floor(Date.now() / TICK_MS) + 1) * TICK_MS;
  await jobs.enqueue(SWEEP_STAGING_JOB, {}, { jobId: slotJobId(next), delayMs: Math.max(0, next - Date.now()) });
}

/**
 * Removes upload staging objects left behind when a gateway stopped (or a client vanished) between
 * staging the bytes and the platform storing them; completed and refused uploads delete theirs.
 */
export function createSweepStagingJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: SWEEP_STAGING_JOB,
    schema: z.object({ maxAgeMs: z.number().int().min(0).optional() }),
    attempts: 1,
    handler: async (payload, ctx) => {
      const d = deps();
      try {
        const result = await sweepStaging(d, { maxAgeMs: payload.maxAgeMs });
        ctx.logger.info(result, 'swept upload staging');
        return result;
      } finally {
        // A sweep asked for by hand (maxAgeMs) does not start a second chain of sweeps.
        if (payload.maxAgeMs === undefined) await scheduleNext(d.jobs);
      }
    },
  });
}

/** At platform start-up: one sweep for this slot, which then keeps rescheduling itself. */
export async function scheduleStagingSweep(deps: SubgraphDeps): Promise<void> {
  await deps.jobs.enqueue(SWEEP_STAGING_JOB, {}, { jobId: slotJobId(Date.now()) });
}
