import { z } from 'zod';
import { newId } from '../../../lib/ids.js';
import { defineJob, type JobQueue } from '../../../lib/runtime/jobs.js';
import type { MetricBatch } from '../../../lib/runtime/metric-recorder.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { storeMetricBatch } from '../services/metric-store.js';

export const RECORD_METRICS_JOB = 'telemetry.record-metrics';

const sampleSchema = z.object({
  name: z.string().max(100),
  kind: z.enum(['gauge', 'counter', 'histogram']),
  tenantId: z.string().max(100).nullable(),
  labels: z.record(z.string(), z.string().max(500)),
  value: z.number(),
  count: z.number(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  buckets: z.array(z.number()).max(64).nullable(),
});

const payloadSchema = z.object({
  instance: z.string().max(300),
  recordedAt: z.iso.datetime({ offset: true }),
  windowSeconds: z.number().positive(),
  samples: z.array(sampleSchema).min(1).max(10_000),
});

/**
 * Writes one sampler batch of a process without a database of its own (the production gateway):
 * it enqueues its batch, the worker writes it in one statement. Figures are samples: one retry.
 * Expired samples are swept with the worker's METRICS_RETENTION_HOURS (deps.metrics), unless the
 * caller names a retention.
 */
export function createRecordMetricsJob(deps: () => SubgraphDeps, options: { retentionMs?: number } = {}) {
  return defineJob({
    id: RECORD_METRICS_JOB,
    schema: payloadSchema,
    attempts: 2,
    backoffMs: 1000,
    // Frequent plumbing nobody watches live: kept off the task progress bus.
    announce: false,
    handler: async (payload, { logger }) => {
      const current = deps();
      await storeMetricBatch(current, payload, {
        retentionMs: options.retentionMs ?? current.metrics?.retentionMs,
        logger,
      });
    },
  });
}

export const recordMetricsJobForProducers = createRecordMetricsJob(() => {
  throw new Error('record-metrics runs in the worker, not in the process that enqueues it');
});

export async function enqueueMetricBatch(jobs: JobQueue, batch: MetricBatch): Promise<void> {
  await jobs.enqueue(recordMetricsJobForProducers, batch, { jobId: `metrics-${newId('mb')}` });
}
