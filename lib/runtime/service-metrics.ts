import type { Kv } from './kv.js';

/**
 * Request counts, errors and latency of each running service (the gateway, each subgraph), counted
 * where requests are handled and kept in the Kv, so that the platform subgraph reads the same
 * figures whichever process served the request. Counts are summed in memory and flushed every
 * second (one INCRBY per figure, not one per request); `flush` lets a reader in the same process
 * see its own latest requests. Counters live 30 days from their first request.
 */

export interface ServiceFigures {
  requests: number;
  errors: number;
  /** Sum of handling times, ms. */
  totalMs: number;
  /** When the service (its latest instance) started; null when it never reported. */
  startedAt: Date | null;
  recentErrors: { timestamp: string; error: string; count: number }[];
}

const FLUSH_MS = 1_000;
const COUNTER_TTL_S = 30 * 24 * 3600;
const MAX_RECENT_ERRORS = 10;

interface Pending {
  requests: number;
  errors: number;
  totalMs: number;
  recentErrors: Map<string, { timestamp: string; count: number }>;
}

const key = (name: string, figure: string) => `svc:${name}:${figure}`;

export interface ServiceMeter {
  /** One handled request; `error` is its error code or message when it failed. */
  record(name: string, ms: number, error?: string): void;
  /** A (re)start of the service: uptime counts from now. */
  started(name: string): Promise<void>;
  flush(): Promise<void>;
  read(name: string): Promise<ServiceFigures>;
  close(): Promise<void>;
}

/** One meter per Kv: every service of a process shares it (and so does the platform subgraph reading it). */
const meters = new WeakMap<Kv, ServiceMeter>();

export function serviceMeter(kv: Kv): ServiceMeter {
  let meter = meters.get(kv);
  if (!meter) {
    meter = createServiceMeter(kv);
    meters.set(kv, meter);
  }
  return meter;
}

function createServiceMeter(kv: Kv): ServiceMeter {
  const pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  const flushNow = async () => {
    const batch = [...pending.entries()];
    pending.clear();
    for (const [name, p] of batch) {
      await Promise.all([
        p.requests && kv.cache.increment(key(name, 'requests'), COUNTER_TTL_S, p.requests),
        p.errors && kv.cache.increment(key(name, 'errors'), COUNTER_TTL_S, p.errors),
        p.totalMs && kv.cache.increment(key(name, 'ms'), COUNTER_TTL_S, Math.round(p.totalMs)),
      ]);
      if (p.recentErrors.size > 0) {
        // Read-modify-write: two processes flushing at once may drop one's entries; they are a sample.
        const stored = JSON.parse((await kv.cache.get(key(name, 'errlog'))) ?? '[]') as ServiceFigures['recentErrors'];
        for (const [error, e] of p.recentErrors) {
          const same = stored.find((s) => s.error === error);
          if (same) {
            same.count += e.count;
            same.timestamp = e.timestamp;
          } else stored.push({ error, ...e });
        }
        stored.sort((a, b) => b.timestamp.localeCompare(a.timestamp));
        await kv.cache.set(key(name, 'errlog'), JSON.stringify(stored.slice(0, MAX_RECENT_ERRORS)), COUNTER_TTL_S);
      }
    }
  };

  const flush = () => {
    flushing = flushing.then(flushNow).catch(() => undefined);
    return flushing;
  };

  return {
    record(name, ms, error) {
      let p = pending.get(name);
      if (!p) {
        p = { requests: 0, errors: 0, totalMs: 0, recentErrors: new Map() };
        pending.set(name, p);
      }
      p.requests += 1;
      p.totalMs += ms;
      if (error !== undefined) {
        p.errors += 1;
        const text = error.slice(0, 200);
        const e = p.recentErrors.get(text) ?? { timestamp: '', count: 0 };
        e.count += 1;
        e.timestamp = new Date().toISOString();
        p.recentErrors.set(text, e);
      }
      timer ??= setTimeout(() => {
        timer = undefined;
        void flush();
      }, FLUSH_MS);
      timer.unref();
    },
    async started(name) {
      await kv.cache.set(key(name, 'started'), new Date().toISOString(), COUNTER_TTL_S);
    },
    flush,
    async read(name) {
      const [requests, errors, ms, started, errlog] = await Promise.all(
        ['requests', 'errors', 'ms', 'started', 'errlog'].map((f) => kv.cache.get(key(name, f))),
      );
      return {
        requests: Number(requests ?? 0),
        errors: Number(errors ?? 0),
        totalMs: Number(ms ?? 0),
        startedAt: started ? new Date(started) : null,
        recentErrors: errlog ? (JSON.parse(errlog) as ServiceFigures['recentErrors']) : [],
      };
    },
    async close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await flush();
    },
  };
}
