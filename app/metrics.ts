import type { Database } from '../lib/db.js';
import type { Logger } from '../lib/logger.js';
import { countTopicTraffic } from '../lib/realtime/topics.js';
import type { JobQueue } from '../lib/runtime/jobs.js';
import type { Kv } from '../lib/runtime/kv.js';
import {
  cacheCollector,
  databaseCollector,
  eventBusCollector,
  jobsCollector,
  processCollector,
} from '../lib/runtime/metric-collectors.js';
import {
  createMetricRecorder,
  defaultInstanceName,
  startMetricSampler,
  type MetricRecorder,
  type MetricSampler,
} from '../lib/runtime/metric-recorder.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { enqueueMetricBatch } from '../subgraphs/telemetry/jobs/record-metrics.js';
import { storeMetricBatch } from '../subgraphs/telemetry/services/metric-store.js';

export interface MetricsConfig {
  /** METRICS_SAMPLE_INTERVAL_MS; default 10 s. */
  sampleIntervalMs?: number;
  /** METRICS_RETENTION_HOURS in ms; default 7 days. */
  retentionMs?: number;
}

/**
 * Every process's part of the metric store: its recorder gets the process, cache, job-queue and
 * event-bus collectors (and the database's when the process has one), and a sampler writes a
 * batch every interval: directly when the process has the subgraphs' deps, else (the production
 * gateway) through telemetry's record-metrics job. Starts counting the bus traffic it reports.
 */
export async function startProcessMetrics(options: {
  recorder: MetricRecorder;
  kv: Kv;
  jobs: JobQueue;
  db?: Database;
  deps?: SubgraphDeps;
  logger: Logger;
  config?: MetricsConfig;
}): Promise<MetricSampler> {
  const { recorder, kv, jobs, db, deps, logger, config } = options;
  recorder.addCollector(processCollector());
  if (db) recorder.addCollector(databaseCollector(db));
  recorder.addCollector(cacheCollector(kv));
  recorder.addCollector(jobsCollector(jobs));
  recorder.addCollector(eventBusCollector());
  const stopCounting = await countTopicTraffic(kv);
  const sampler = startMetricSampler({
    recorder,
    intervalMs: config?.sampleIntervalMs,
    logger,
    sink: deps
      ? async (batch) => {
          await storeMetricBatch(deps, batch, { retentionMs: config?.retentionMs, logger });
        }
      : (batch) => enqueueMetricBatch(jobs, batch),
  });
  return {
    flush: () => sampler.flush(),
    async stop() {
      await sampler.stop();
      await stopCounting();
    },
  };
}

/** A process with the subgraphs' deps (a subgraph process, the worker): its own figures, written directly. */
export function startDepsProcessMetrics(options: {
  deps: SubgraphDeps;
  role: string;
  logger: Logger;
  config: MetricsConfig & { instance?: string };
}): Promise<MetricSampler> {
  const { deps, role, logger, config } = options;
  return startProcessMetrics({
    recorder: createMetricRecorder({ instance: config.instance ?? defaultInstanceName(role), logger }),
    kv: deps.kv,
    jobs: deps.jobs,
    db: deps.db,
    deps,
    logger,
    config,
  });
}

/** METRICS_* of a process's environment. */
export function metricsConfigFromEnv(env: {
  METRICS_SAMPLE_INTERVAL_MS: number;
  METRICS_RETENTION_HOURS: number;
  METRICS_INSTANCE?: string;
}): MetricsConfig & { instance?: string } {
  return {
    sampleIntervalMs: env.METRICS_SAMPLE_INTERVAL_MS,
    retentionMs: env.METRICS_RETENTION_HOURS * 3600_000,
    instance: env.METRICS_INSTANCE,
  };
}
