import { z } from 'zod';
import { utcDay } from '../../../lib/plan-limits.js';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { reportApiUsage } from '../services/usage.js';

export const REPORT_USAGE_JOB = 'billing.report-usage';

/** How often metered API calls go to Stripe. */
export const REPORT_USAGE_INTERVAL_MS = 60 * 60_000;

const payloadSchema = z.object({});

/** One job per hour slot, whoever asks for it (replicas, reschedules): the queue keeps one per id. */
function slotJobId(at: number): string {
  return `billing-report-usage-${Math.floor(at / REPORT_USAGE_INTERVAL_MS)}`;
}

export function createReportUsageJob(deps: () => SubgraphDeps) {
  const job = defineJob({
    id: REPORT_USAGE_JOB,
    schema: payloadSchema,
    attempts: 3,
    backoffMs: 30_000,
    handler: async (_payload, ctx) => {
      // Without Stripe there is nothing to report to; the job keeps its schedule for when there is.
      if (!deps().stripe) {
        await scheduleNext(deps().jobs);
        return { skipped: 'STRIPE_SECRET_KEY is unset' };
      }
      // Yesterday too: the calls of a day's last hour are reported by the first run after midnight.
      const now = Date.now();
      const results = [];
      for (const day of new Set([utcDay(new Date(now - REPORT_USAGE_INTERVAL_MS)), utcDay(new Date(now))])) {
        results.push(await reportApiUsage(deps(), day));
      }
      const sent = results.flatMap((r) => r.reported);
      if (sent.length > 0) ctx.logger.info({ reported: sent.length }, 'reported API usage to Stripe');
      await scheduleNext(deps().jobs);
      return results;
    },
  });
  const scheduleNext = async (jobs: JobQueue) => {
    const next = (Math.floor(Date.now() / REPORT_USAGE_INTERVAL_MS) + 1) * REPORT_USAGE_INTERVAL_MS;
    await jobs.enqueue(job, {}, { jobId: slotJobId(next), delayMs: Math.max(0, next - Date.now()) });
  };
  return job;
}

export async function scheduleUsageReports(jobs: JobQueue): Promise<void> {
  await jobs.enqueue(REPORT_USAGE_JOB, {}, { jobId: slotJobId(Date.now()) });
}
