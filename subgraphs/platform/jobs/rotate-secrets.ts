import { z } from 'zod';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { getRuntimeConfig } from '../services/config/runtime-config.js';
import { rotateDueSecrets } from '../services/secrets/secret-store.js';

export const ROTATE_SECRETS_JOB = 'platform.rotate-due-secrets';

/** One job per interval slot, whoever asks (replicas, reschedules): the queue keeps one per id. */
function slotJobId(at: number, intervalMs: number): string {
  return `platform-rotate-secrets-${intervalMs}-${Math.floor(at / intervalMs)}`;
}

async function intervalMs(deps: SubgraphDeps): Promise<number> {
  return (await getRuntimeConfig(deps)).secrets.rotation_check_interval_seconds * 1000;
}

/** Rotation by policy: secrets whose rotation_policy period has passed get new credential values. */
export function createRotateSecretsJob(deps: () => SubgraphDeps) {
  const job = defineJob({
    id: ROTATE_SECRETS_JOB,
    schema: z.object({}),
    attempts: 3,
    backoffMs: 30_000,
    handler: async (_payload, ctx) => {
      const result = await rotateDueSecrets(deps());
      if (result.rotated + result.failed > 0) ctx.logger.info(result, 'rotated secrets due by policy');
      await scheduleNext(deps());
      return result;
    },
  });
  // The interval is read at each reschedule: a configuration change applies from the next run.
  const scheduleNext = async (d: SubgraphDeps) => {
    const every = await intervalMs(d);
    const next = (Math.floor(Date.now() / every) + 1) * every;
    await d.jobs.enqueue(job, {}, { jobId: slotJobId(next, every), delayMs: Math.max(0, next - Date.now()) });
  };
  return job;
}

export async function scheduleSecretRotation(deps: SubgraphDeps, jobs: JobQueue = deps.jobs): Promise<void> {
  const every = await intervalMs(deps);
  await jobs.enqueue(ROTATE_SECRETS_JOB, {}, { jobId: slotJobId(Date.now(), every) });
}
