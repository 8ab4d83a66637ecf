import { statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Database } from '../db.js';
import { allTopicStats } from '../realtime/topics.js';
import type { JobQueue } from './jobs.js';
import type { Kv } from './kv.js';
import { counter, createDeltaTracker, gauge, type MetricCollector, type MetricSample } from './metric-recorder.js';

/**
 * The figures a process reads at each sample (lib/runtime/metric-recorder.ts): every one is read
 * from a real source at that moment; a figure whose source cannot be read is left out of the
 * batch (its series has a gap), never filled in.
 */

/** Process and host: CPU (process and host, % over the window), memory, load, event loop delay, disk. */
export function processCollector(options: { diskPath?: string } = {}): MetricCollector {
  let cpuBefore = process.cpuUsage();
  let hostBefore = hostTimes();
  let at = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  return async () => {
    const now = performance.now();
    const elapsedMs = Math.max(1, now - at);
    const cpu = process.cpuUsage(cpuBefore);
    const host = hostTimes();
    const hostSpan = host.total - hostBefore.total;
    const hostBusy = hostSpan - (host.idle - hostBefore.idle);
    cpuBefore = process.cpuUsage();
    hostBefore = host;
    at = now;
    const memory = process.memoryUsage();
    const total = totalmem();
    const free = freemem();
    const samples: MetricSample[] = [
      ...gauge('process_cpu_percent', ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
      ...gauge('process_resident_memory_bytes', memory.rss),
      ...gauge('process_heap_used_bytes', memory.heapUsed),
      ...gauge('process_event_loop_delay_ms', loop.count > 0 ? loop.mean / 1e6 : null),
      ...gauge('process_event_loop_delay_max_ms', loop.count > 0 ? loop.max / 1e6 : null),
      ...gauge('system_cpu_percent', hostSpan > 0 ? (hostBusy / hostSpan) * 100 : null),
      ...gauge('system_load_1m', loadavg()[0]),
      ...gauge('system_memory_total_bytes', total),
      ...gauge('system_memory_used_bytes', total - free),
      ...gauge('system_memory_percent', total > 0 ? ((total - free) / total) * 100 : null),
    ];
    loop.reset();
    try {
      const fs = await statfs(options.diskPath ?? process.cwd());
      const diskTotal = fs.blocks * fs.bsize;
      const diskUsed = diskTotal - fs.bavail * fs.bsize;
      samples.push(
        ...gauge('system_disk_total_bytes', diskTotal),
        ...gauge('system_disk_used_bytes', diskUsed),
        ...gauge('system_disk_percent', diskTotal > 0 ? (diskUsed / diskTotal) * 100 : null),
      );
    } catch {
      // No disk figures this time: the series has a gap.
    }
    return samples;
  };
}

function hostTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** The connection pool (pg Pool; PGlite's one session) and a round trip to the database. */
export function databaseCollector(db: Database): MetricCollector {
  return async () => {
    const pool = db.poolStats();
    let ping: number | null = null;
    try {
      ping = await db.ping();
    } catch {
      ping = null;
    }
    return [
      ...gauge('db_connections_active', pool?.active, { backend: db.kind }),
      ...gauge('db_connections_idle', pool?.idle, { backend: db.kind }),
      ...gauge('db_connections_waiting', pool?.waiting, { backend: db.kind }),
      ...gauge('db_connections_max', pool?.max, { backend: db.kind }),
      ...gauge('db_ping_ms', ping, { backend: db.kind }),
    ];
  };
}

/** The kv cache (Redis INFO counters, or the in-memory cache's own): lookups as increases, keys, memory. */
export function cacheCollector(kv: Kv): MetricCollector {
  const delta = createDeltaTracker();
  return async () => {
    const stats = await kv.cache.stats();
    const labels = { backend: kv.kind };
    return [
      ...counter('cache_hits', delta('hits', stats.hits), labels),
      ...counter('cache_misses', delta('misses', stats.misses), labels),
      ...gauge('cache_keys', stats.keys, labels),
      ...gauge('cache_memory_bytes', stats.memoryBytes, labels),
    ];
  };
}

/** The job queue: jobs per state now. */
export function jobsCollector(jobs: JobQueue): MetricCollector {
  return async () => {
    const counts = await jobs.counts();
    return Object.entries(counts).flatMap(([state, n]) => gauge('jobs', n, { state }));
  };
}

/**
 * The platform's event bus (lib/realtime/topics.ts), this process's side: messages and bytes
 * published and received per topic (increases), deliveries to local subscribers, drops, and per
 * topic the subscribers and their consumer lag (events queued, not yet taken by the subscriber).
 */
export function eventBusCollector(): MetricCollector {
  const delta = createDeltaTracker();
  const read = () =>
    allTopicStats().flatMap(([topic, stats]) => {
      const labels = { topic };
      let lag = 0;
      let liveDropped = 0;
      for (const queue of stats.subscribers) {
        lag += queue.size;
        liveDropped += queue.dropped;
      }
      return [
        ...counter('event_bus_messages_published', delta(`${topic}:p`, stats.published), labels),
        ...counter('event_bus_bytes_published', delta(`${topic}:pb`, stats.publishedBytes), labels),
        ...counter('event_bus_messages_received', delta(`${topic}:r`, stats.received), labels),
        ...counter('event_bus_bytes_received', delta(`${topic}:rb`, stats.receivedBytes), labels),
        ...counter('event_bus_messages_delivered', delta(`${topic}:d`, stats.delivered), labels),
        ...counter('event_bus_messages_dropped', delta(`${topic}:x`, stats.dropped + liveDropped), labels),
        ...gauge('event_bus_subscribers', stats.subscribers.size, labels),
        ...gauge('event_bus_consumer_lag', lag, labels),
      ];
    });
  // The first window counts from now, not from the start of the process.
  read();
  return read;
}
