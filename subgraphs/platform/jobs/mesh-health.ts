import { z } from 'zod';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { checkDueMeshServices } from '../services/mesh/registry.js';

export const MESH_HEALTH_JOB = 'platform.mesh-health';

/**
 * The queue has no repeat schedule, so the sweep queues its own next run. Job ids name a time
 * slot, so every platform process that starts, and every run that reschedules, asks for the same
 * id and replicas do not multiply the sweeps (as tenancy's cleanup job does).
 */
function slotJobId(at: number, tickMs: number): string {
  return `mesh-health-${Math.floor(at / tickMs)}`;
}

async function scheduleNext(jobs: JobQueue, tickMs: number): Promise<void> {
  const next = (Math.floor(Date.now() / tickMs) + 1) * tickMs;
  await jobs.enqueue(MESH_HEALTH_JOB, {}, { jobId: slotJobId(next, tickMs), delayMs: Math.max(0, next - Date.now()) });
}

export function createMeshHealthJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: MESH_HEALTH_JOB,
    schema: z.object({}),
    attempts: 1,
    handler: async (_payload, ctx) => {
      const d = deps();
      try {
        return await checkDueMeshServices(d, ctx.logger);
      } finally {
        // Rescheduled even after a failed sweep: one bad run must not stop the checks for good.
        await scheduleNext(d.jobs, d.outbound.healthCheckTickMs);
      }
    },
  });
}

/** At platform start-up: one sweep now (for this slot), which then keeps rescheduling itself. */
export async function scheduleMeshHealth(deps: SubgraphDeps): Promise<void> {
  await deps.jobs.enqueue(MESH_HEALTH_JOB, {}, { jobId: slotJobId(Date.now(), deps.outbound.healthCheckTickMs) });
}
