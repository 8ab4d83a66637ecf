import { hostname } from 'node:os';
import type { Logger } from '../logger.js';

/**
 * The platform's metric store, process side: what a process measures (request counts and latency
 * recorded where requests are answered; process, database, cache, job and event-bus figures read
 * by collectors at sample time), summed in memory and drained by a periodic sampler into one batch
 * per flush. The batch is written to PostgreSQL by the telemetry subgraph (telemetry.metric_samples)
 * in one statement, and announced on the 'telemetry.metrics' topic.
 *
 * Every sample has the same shape, whatever its kind, so every aggregation is one expression:
 * - gauge: value = the reading, count = 1, min = max = value;
 * - counter: value = the increase during the sample window, count = 1;
 * - histogram: value = the sum of observations, count = observations, min/max, and buckets =
 *   per-bucket counts over METRIC_BUCKETS_MS (last bucket: over the highest bound).
 */

export type MetricKind = 'gauge' | 'counter' | 'histogram';

/** Upper bounds (ms) of the latency buckets; one more bucket counts what is slower. */
export const METRIC_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

export interface MetricSample {
  name: string;
  kind: MetricKind;
  /** Set for figures that belong to one tenant (its requests); null for platform figures. */
  tenantId: string | null;
  labels: Record<string, string>;
  value: number;
  count: number;
  min: number | null;
  max: number | null;
  buckets: number[] | null;
}

export interface MetricBatch {
  instance: string;
  recordedAt: string;
  /** Seconds the counters and histograms of this batch cover. */
  windowSeconds: number;
  samples: MetricSample[];
}

/** Reads figures at sample time (gauges, or counters it computes as increases itself). */
export type MetricCollector = () => Promise<MetricSample[]> | MetricSample[];

/** Distinct series (name + tenant + labels) kept per window; more are counted in metrics_series_dropped. */
export const MAX_SERIES_PER_WINDOW = 5_000;

export interface MetricRecorder {
  readonly instance: string;
  /** One observation of a histogram (ms). */
  observe(name: string, labels: Record<string, string>, tenantId: string | null, ms: number): void;
  /** Adds to a counter. */
  add(name: string, labels: Record<string, string>, tenantId: string | null, by?: number): void;
  addCollector(collector: MetricCollector): void;
  /** The window's counters and histograms (reset) plus every collector's figures. */
  drain(): Promise<MetricBatch>;
}

export function defaultInstanceName(role: string): string {
  return `${hostname()}:${process.pid}:${role}`;
}

export function gauge(
  name: string,
  value: number | null | undefined,
  labels: Record<string, string> = {},
  tenantId: string | null = null,
): MetricSample[] {
  if (value === null || value === undefined || !Number.isFinite(value)) return [];
  return [{ name, kind: 'gauge', tenantId, labels, value, count: 1, min: value, max: value, buckets: null }];
}

export function counter(name: string, increase: number, labels: Record<string, string> = {}): MetricSample[] {
  if (!Number.isFinite(increase) || increase < 0) return [];
  return [
    {
      name,
      kind: 'counter',
      tenantId: null,
      labels,
      value: increase,
      count: 1,
      min: increase,
      max: increase,
      buckets: null,
    },
  ];
}

/** Turns cumulative readings into per-window increases (a reset, e.g. a restart, counts from zero). */
export function createDeltaTracker(): (key: string, cumulative: number) => number {
  const previous = new Map<string, number>();
  return (key, cumulative) => {
    const before = previous.get(key);
    previous.set(key, cumulative);
    if (before === undefined) return 0;
    return cumulative >= before ? cumulative - before : cumulative;
  };
}

export function createMetricRecorder(options: { instance: string; logger?: Logger }): MetricRecorder {
  const series = new Map<string, MetricSample>();
  const collectors: MetricCollector[] = [];
  let droppedSeries = 0;
  let windowStart = Date.now();

  const seriesOf = (name: string, kind: MetricKind, labels: Record<string, string>, tenantId: string | null) => {
    const key = `${name}\u0000${tenantId ?? ''}\u0000${JSON.stringify(Object.entries(labels).sort())}`;
    let entry = series.get(key);
    if (!entry) {
      if (series.size >= MAX_SERIES_PER_WINDOW) {
        droppedSeries += 1;
        return null;
      }
      entry = {
        name,
        kind,
        tenantId,
        labels,
        value: 0,
        count: 0,
        min: null,
        max: null,
        buckets: kind === 'histogram' ? new Array<number>(METRIC_BUCKETS_MS.length + 1).fill(0) : null,
      };
      series.set(key, entry);
    }
    return entry;
  };

  return {
    instance: options.instance,
    observe(name, labels, tenantId, ms) {
      const entry = seriesOf(name, 'histogram', labels, tenantId);
      if (!entry) return;
      entry.value += ms;
      entry.count += 1;
      entry.min = entry.min === null ? ms : Math.min(entry.min, ms);
      entry.max = entry.max === null ? ms : Math.max(entry.max, ms);
      let index = METRIC_BUCKETS_MS.findIndex((bound) => ms <= bound);
      if (index < 0) index = METRIC_BUCKETS_MS.length;
      entry.buckets![index]! += 1;
    },
    add(name, labels, tenantId, by = 1) {
      const entry = seriesOf(name, 'counter', labels, tenantId);
      if (!entry) return;
      entry.value += by;
      entry.count = 1;
      entry.min = entry.value;
      entry.max = entry.value;
    },
    addCollector(collector) {
      collectors.push(collector);
    },
    async drain() {
      const now = Date.now();
      const samples = [...series.values()];
      series.clear();
      if (droppedSeries > 0) samples.push(...counter('metrics_series_dropped', droppedSeries));
      droppedSeries = 0;
      const windowSeconds = Math.max(0.001, (now - windowStart) / 1000);
      windowStart = now;
      for (const collect of collectors) {
        try {
          samples.push(...(await collect()));
        } catch (error) {
          options.logger?.warn({ err: error }, 'metric collector failed');
        }
      }
      return { instance: options.instance, recordedAt: new Date(now).toISOString(), windowSeconds, samples };
    },
  };
}

export interface MetricSampler {
  /** Drains the recorder and writes the batch now (what the interval does); resolves when written. */
  flush(): Promise<MetricBatch>;
  stop(): Promise<void>;
}

export const DEFAULT_SAMPLE_INTERVAL_MS = 10_000;
export const MIN_SAMPLE_INTERVAL_MS = 1_000;
export const MAX_SAMPLE_INTERVAL_MS = 300_000;

/**
 * Drains `recorder` every `intervalMs` (bounded to 1 s – 5 min) and hands the batch to `sink`
 * (one write per flush). Flushes never overlap; a failed write is logged and its batch dropped
 * (figures are samples, not records).
 */
export function startMetricSampler(options: {
  recorder: MetricRecorder;
  sink: (batch: MetricBatch) => Promise<void>;
  intervalMs?: number;
  logger: Logger;
}): MetricSampler {
  const intervalMs = Math.min(
    MAX_SAMPLE_INTERVAL_MS,
    Math.max(MIN_SAMPLE_INTERVAL_MS, options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS),
  );
  let chain: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const flush = (): Promise<MetricBatch> => {
    const run = chain.then(async () => {
      const batch = await options.recorder.drain();
      if (batch.samples.length > 0) await options.sink(batch);
      return batch;
    });
    chain = run.catch((error: unknown) => options.logger.warn({ err: error }, 'metric samples not written'));
    return run;
  };
  const timer = setInterval(() => {
    if (!stopped) void flush().catch(() => undefined);
  }, intervalMs);
  timer.unref();
  return {
    flush,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await chain;
    },
  };
}
