import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import {
  createJobQueue,
  defineJob,
  UnrecoverableJobError,
  type JobDefinition,
  type JobQueue,
} from '../lib/runtime/jobs.js';
import { createKv, type Kv } from '../lib/runtime/kv.js';
import { waitFor as pollFor } from './support/rest.js';

// One behavioural suite, run against the in-memory adapters always and against Redis/BullMQ when
// TEST_REDIS_URL is set. Every Kv gets its own key prefix, so parallel runs on one Redis never meet.
const REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const RUN_PREFIX = `test:runtime:${randomBytes(4).toString('hex')}:`;
const logger = createLogger({ level: 'silent' });

let prefixCounter = 0;
const uniquePrefix = () => `${RUN_PREFIX}${++prefixCounter}:`;

const toClose: Array<() => Promise<void>> = [];
afterEach(async () => {
  // Queues before the Kv whose connection they share.
  for (const close of toClose.splice(0).reverse()) await close();
});

afterAll(async () => {
  if (!REDIS_URL) return;
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${RUN_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
});

/** The shared poll (test/support/rest.ts) for probes that answer a truthy value when done. */
function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  return pollFor(async () => (await probe()) || undefined, what, { timeoutMs, intervalMs: 10 }) as Promise<
    NonNullable<T>
  >;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const MODES = [
  { name: 'memory', redisUrl: undefined },
  { name: 'redis', redisUrl: REDIS_URL },
] as const;

for (const mode of MODES) {
  describe.skipIf(mode.name === 'redis' && !REDIS_URL)(`runtime on ${mode.name}`, () => {
    async function openKv(keyPrefix = uniquePrefix()): Promise<Kv> {
      const kv = await createKv({ redisUrl: mode.redisUrl, logger, keyPrefix });
      toClose.push(() => kv.close());
      return kv;
    }

    describe('cache', () => {
      it('gets, sets and deletes', async () => {
        const { cache } = await openKv();
        expect(await cache.get('a')).toBeNull();
        await cache.set('a', 'one');
        await cache.set('b', 'two');
        expect(await cache.get('a')).toBe('one');
        expect(await cache.del('a', 'missing')).toBe(1);
        expect(await cache.del()).toBe(0);
        expect(await cache.get('a')).toBeNull();
        expect(await cache.get('b')).toBe('two');
      });

      it('expires values after their TTL, and a plain set clears the TTL', async () => {
        const { cache } = await openKv();
        await cache.set('short', 'x', 0.15);
        await cache.set('reset', 'x', 0.15);
        await cache.set('reset', 'y');
        expect(await cache.get('short')).toBe('x');
        // Time is under test: Redis expires the key on its own clock, which no fake timer moves.
        await sleep(250);
        expect(await cache.get('short')).toBeNull();
        expect(await cache.get('reset')).toBe('y');
        await expect(cache.set('bad', 'x', 0)).rejects.toThrow(RangeError);
      });

      it('sets a key only when absent, atomically, and again once it expired', async () => {
        const { cache } = await openKv();
        const results = await Promise.all(Array.from({ length: 10 }, () => cache.setIfAbsent('once', 'x', 0.2)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await cache.setIfAbsent('once', 'y', 0.2)).toBe(false);
        expect(await cache.get('once')).toBe('x');
        // Time is under test: the key must expire (on Redis's clock) before it can be set again.
        await sleep(300);
        expect(await cache.setIfAbsent('once', 'z', 0.2)).toBe(true);
        expect(await cache.get('once')).toBe('z');
      });

      it('clears by Redis glob pattern, inside its own prefix only', async () => {
        const prefix = uniquePrefix();
        const { cache } = await openKv(prefix);
        const other = await openKv(uniquePrefix());
        for (const key of ['user:1', 'user:2', 'user:10:profile', 'tenant:1', 'tenant:2', 'tanant:3']) {
          await cache.set(key, 'v');
        }
        await other.cache.set('user:1', 'other');

        expect(await cache.clear('user:*')).toBe(3);
        expect(await cache.get('user:1')).toBeNull();
        expect(await cache.get('tenant:1')).toBe('v');
        expect(await cache.clear('t?nant:[13]')).toBe(2);
        expect(await cache.get('tenant:2')).toBe('v');
        expect(await cache.clear('nothing:*')).toBe(0);
        expect(await other.cache.get('user:1')).toBe('other');
      });

      it('counts hits, misses and keys', async () => {
        const kv = await openKv();
        const before = await kv.cache.stats();
        await kv.cache.set('k1', 'hello');
        await kv.cache.set('k2', 'world!');
        await kv.cache.get('k1');
        await kv.cache.get('nope-1');
        await kv.cache.get('nope-2');
        const after = await kv.cache.stats();

        expect(after.hitRate).not.toBeNull();
        if (kv.kind === 'memory') {
          expect(after.keys).toBe(2);
          expect(before).toMatchObject({ hits: 0, misses: 0, hitRate: null, keys: 0 });
          expect(after).toMatchObject({ hits: 1, misses: 2, memoryBytes: 'k1hellok2world!'.length });
          expect(after.hitRate).toBeCloseTo(1 / 3);
        } else {
          // Redis counts server-wide: other clients may add to the counters, never take away.
          expect(after.hits - before.hits).toBeGreaterThanOrEqual(1);
          expect(after.misses - before.misses).toBeGreaterThanOrEqual(2);
          expect(after.keys).toBeGreaterThanOrEqual(2);
          expect(after.memoryBytes).toBeGreaterThan(0);
        }
      });
    });

    describe('ping and info', () => {
      it('measures a ping and describes the store', async () => {
        const kv = await openKv();
        expect(kv.kind).toBe(mode.name);
        const ms = await kv.ping();
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(1000);
        const info = await kv.info();
        if (kv.kind === 'redis') {
          expect(info.version).toMatch(/^\d+\.\d+/);
          expect(info.connectedClients).toBeGreaterThan(0);
          expect(info.usedMemoryBytes).toBeGreaterThan(0);
          expect(kv.connection()).not.toBeNull();
        } else {
          expect(info).toEqual({ usedMemoryBytes: null, connectedClients: null, version: null });
          expect(kv.connection()).toBeNull();
        }
      });
    });

    describe('pubsub', () => {
      it('delivers to every handler, across instances on Redis, until unsubscribed', async () => {
        const prefix = uniquePrefix();
        const subscriberKv = await openKv(prefix);
        // On Redis the publisher is another instance (another gateway); in memory there is only one process.
        const publisherKv = mode.name === 'redis' ? await openKv(prefix) : subscriberKv;
        const first: string[] = [];
        const second: string[] = [];
        const markers: string[] = [];
        const unsubscribeFirst = await subscriberKv.pubsub.subscribe('events', (m) => first.push(m));
        const unsubscribeSecond = await subscriberKv.pubsub.subscribe('events', (m) => second.push(m));
        await subscriberKv.pubsub.subscribe('marker', (m) => markers.push(m));

        await publisherKv.pubsub.publish('events', 'one');
        await waitFor(() => first.length === 1 && second.length === 1, 'first delivery');
        expect(first).toEqual(['one']);

        await unsubscribeFirst();
        await unsubscribeFirst(); // idempotent
        await publisherKv.pubsub.publish('events', 'two');
        await waitFor(() => second.length === 2, 'second delivery');

        await unsubscribeSecond();
        await publisherKv.pubsub.publish('events', 'three');
        // Messages from one publisher arrive in order: once the marker is in, 'three' would have been too.
        await publisherKv.pubsub.publish('marker', 'done');
        await waitFor(() => markers.length === 1, 'marker');
        expect(first).toEqual(['one']);
        expect(second).toEqual(['one', 'two']);
      });

      it('keeps delivering when a handler throws, and stays inside its prefix', async () => {
        const kv = await openKv();
        const stranger = await openKv(uniquePrefix());
        const received: string[] = [];
        const strangers: string[] = [];
        await kv.pubsub.subscribe('ch', () => {
          throw new Error('handler bug');
        });
        await kv.pubsub.subscribe('ch', (m) => received.push(m));
        await stranger.pubsub.subscribe('ch', (m) => strangers.push(m));
        await kv.pubsub.publish('ch', 'hello');
        await waitFor(() => received.length === 1, 'delivery past a failing handler');
        await stranger.pubsub.publish('ch', 'mine');
        await waitFor(() => strangers.length === 1, 'stranger delivery');
        expect(strangers).toEqual(['mine']);
        expect(received).toEqual(['hello']);
      });
    });

    describe('rate limiter', () => {
      it('allows N, then rejects with remaining 0 and a reset in the future', async () => {
        const kv = await openKv();
        const policy = { name: 'api', points: 3, durationSeconds: 60 };
        const limiter = kv.rateLimiter(policy);
        expect(kv.rateLimiter({ ...policy })).toBe(limiter);
        expect(() => kv.rateLimiter({ ...policy, points: 4 })).toThrow(/different/);

        const startedAt = Date.now();
        const results = [];
        for (let i = 0; i < 4; i++) results.push(await limiter.consume('client-a'));
        expect(results.map((r) => [r.allowed, r.limit, r.remaining])).toEqual([
          [true, 3, 2],
          [true, 3, 1],
          [true, 3, 0],
          [false, 3, 0],
        ]);
        const rejected = results[3]!;
        expect(rejected.resetAt.getTime()).toBeGreaterThan(Date.now());
        expect(rejected.resetAt.getTime()).toBeLessThanOrEqual(startedAt + 60_000 + 50);
        // Retry-After and X-RateLimit-Reset are derived from this: whole seconds, at least 1.
        expect(Math.ceil((rejected.resetAt.getTime() - Date.now()) / 1000)).toBeGreaterThanOrEqual(59);

        expect(await limiter.consume('client-b')).toMatchObject({ allowed: true, remaining: 2 });
      });

      it('gives the allowance back when the window resets', async () => {
        const kv = await openKv();
        const limiter = kv.rateLimiter({ name: 'tight', points: 1, durationSeconds: 1 });
        expect((await limiter.consume('k')).allowed).toBe(true);
        const rejected = await limiter.consume('k');
        expect(rejected.allowed).toBe(false);
        // Time is under test: the window ends at resetAt on the limiter's (Redis's) clock.
        await sleep(Math.max(0, rejected.resetAt.getTime() - Date.now()) + 30);
        expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 0 });
      });

      it.skipIf(mode.name !== 'redis')('shares counters between instances', async () => {
        const prefix = uniquePrefix();
        const policy = { name: 'shared', points: 2, durationSeconds: 60 };
        const a = (await openKv(prefix)).rateLimiter(policy);
        const b = (await openKv(prefix)).rateLimiter(policy);
        expect((await a.consume('ip')).remaining).toBe(1);
        expect((await b.consume('ip')).remaining).toBe(0);
        expect((await a.consume('ip')).allowed).toBe(false);
      });
    });

    describe(`jobs (${mode.name === 'redis' ? 'bullmq' : 'memory'})`, () => {
      let queueCounter = 0;
      async function openQueue(definitions: JobDefinition[], concurrency = 2): Promise<JobQueue> {
        const kv = await openKv();
        const queue = createJobQueue({ kv, logger, definitions, queueName: `q${++queueCounter}` });
        toClose.push(() => queue.close());
        await queue.startWorker({ concurrency });
        return queue;
      }

      const finished = (queue: JobQueue, jobId: string) =>
        waitFor(async () => {
          const job = await queue.getJob(jobId);
          return job && (job.state === 'completed' || job.state === 'failed') ? job : null;
        }, `job ${jobId} to finish`);

      it('runs a job with the parsed payload, reporting progress and result', async () => {
        const seen: unknown[] = [];
        const echo = defineJob({
          id: 'test.echo',
          schema: z.object({ name: z.string(), times: z.number().int().default(2) }),
          async handler(payload, ctx) {
            seen.push({ payload, attempt: ctx.attempt, jobId: ctx.jobId });
            await ctx.updateProgress({ step: 'done' });
            return { greeting: `hi ${payload.name}`.repeat(payload.times) };
          },
        });
        const queue = await openQueue([echo]);
        expect(queue.kind).toBe(mode.name === 'redis' ? 'bullmq' : 'memory');

        // Unknown keys are dropped before storage, so a stray field never lands in Redis.
        const { jobId } = await queue.enqueue(echo, { name: 'ann', extra: 'x' } as { name: string });
        const job = await finished(queue, jobId);
        expect(job).toMatchObject({
          id: jobId,
          name: 'test.echo',
          state: 'completed',
          attemptsMade: 1,
          progress: { step: 'done' },
          result: { greeting: 'hi annhi ann' },
        });
        expect(job.failedReason).toBeUndefined();
        expect(job.createdAt).toBeInstanceOf(Date);
        expect(job.finishedAt).toBeInstanceOf(Date);
        expect(seen).toEqual([{ payload: { name: 'ann', times: 2 }, attempt: 1, jobId }]);
        expect(await queue.getJob('no-such-job')).toBeNull();
      });

      it('rejects a bad payload, an unknown job and a bad jobId before enqueueing', async () => {
        const job = defineJob({ id: 'test.strict', schema: z.object({ id: z.uuid() }), handler: async () => null });
        const queue = await openQueue([job]);
        const invalid = await queue.enqueue(job, { id: 'not-a-uuid' }).catch((e: unknown) => e);
        expect(invalid).toBeInstanceOf(AppError);
        expect(invalid).toMatchObject({ code: 'VALIDATION_ERROR', details: { job: 'test.strict' } });
        expect((invalid as AppError).details?.fields).toEqual([{ path: 'id', message: expect.any(String) }]);
        await expect(queue.enqueue('test.nope', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(queue.enqueue(job, { id: crypto.randomUUID() }, { jobId: '42' })).rejects.toMatchObject({
          code: 'VALIDATION_ERROR',
        });
        expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 0 });
      });

      it('retries a failing job with backoff until it succeeds', async () => {
        const attempts: number[] = [];
        const flaky = defineJob({
          id: 'test.flaky',
          schema: z.object({}),
          attempts: 4,
          backoffMs: 20,
          async handler(_payload, ctx) {
            attempts.push(ctx.attempt);
            if (ctx.attempt < 3) throw new Error(`transient ${ctx.attempt}`);
            return 'ok';
          },
        });
        const queue = await openQueue([flaky]);
        const { jobId } = await queue.enqueue(flaky, {});
        const job = await finished(queue, jobId);
        expect(job).toMatchObject({ state: 'completed', attemptsMade: 3, result: 'ok' });
        expect(attempts).toEqual([1, 2, 3]);
      });

      it('fails a job that fails every attempt, with the reason; unrecoverable errors skip retries', async () => {
        let brokenRuns = 0;
        let fatalRuns = 0;
        const broken = defineJob({
          id: 'test.broken',
          schema: z.object({}),
          attempts: 2,
          backoffMs: 10,
          async handler() {
            brokenRuns += 1;
            throw new Error('downstream said no');
          },
        });
        const fatal = defineJob({
          id: 'test.fatal',
          schema: z.object({}),
          attempts: 5,
          async handler() {
            fatalRuns += 1;
            throw new UnrecoverableJobError('tenant is gone');
          },
        });
        const queue = await openQueue([broken, fatal]);
        const a = await queue.enqueue(broken, {});
        const b = await queue.enqueue(fatal, {});
        expect(await finished(queue, a.jobId)).toMatchObject({
          state: 'failed',
          attemptsMade: 2,
          failedReason: 'downstream said no',
        });
        expect(await finished(queue, b.jobId)).toMatchObject({
          state: 'failed',
          attemptsMade: 1,
          failedReason: 'tenant is gone',
        });
        expect(brokenRuns).toBe(2);
        expect(fatalRuns).toBe(1);
        expect(await queue.counts()).toMatchObject({ failed: 2, completed: 0 });
      });

      it('treats a jobId as an idempotency key', async () => {
        const payloads: unknown[] = [];
        const once = defineJob({
          id: 'test.once',
          schema: z.object({ n: z.number() }),
          async handler(payload) {
            payloads.push(payload);
          },
        });
        const queue = await openQueue([once]);
        const first = await queue.enqueue(once, { n: 1 }, { jobId: 'provision-tenant-abc' });
        const second = await queue.enqueue(once, { n: 2 }, { jobId: 'provision-tenant-abc' });
        expect(second.jobId).toBe(first.jobId);
        await finished(queue, first.jobId);
        const third = await queue.enqueue(once, { n: 3 }, { jobId: 'provision-tenant-abc' });
        expect(third.jobId).toBe(first.jobId);
        // Nothing was queued: a second job would be counted as waiting, active or done from here on.
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0, completed: 1, failed: 0, delayed: 0 });
        expect(payloads).toEqual([{ n: 1 }]);
      });

      it('counts jobs by state', async () => {
        const noop = defineJob({ id: 'test.noop', schema: z.object({}), handler: async () => null });
        const kv = await openKv();
        const queue = createJobQueue({ kv, logger, definitions: [noop], queueName: `q${++queueCounter}` });
        toClose.push(() => queue.close());
        await queue.enqueue(noop, {});
        await queue.enqueue(noop, {});
        await queue.enqueue(noop, {}, { delayMs: 60_000 });
        expect(await queue.counts()).toEqual({ waiting: 2, active: 0, completed: 0, failed: 0, delayed: 1 });
        await queue.startWorker();
        await waitFor(async () => (await queue.counts()).completed === 2, 'two completions');
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0, completed: 2, failed: 0, delayed: 1 });
      });

      it('keeps a running total of finished jobs, failed ones included (nexus processed_events)', async () => {
        const noop = defineJob({ id: 'test.noop', schema: z.object({}), handler: async () => null });
        const broken = defineJob({
          id: 'test.broken',
          schema: z.object({}),
          handler: async () => {
            throw new UnrecoverableJobError('broken on purpose');
          },
        });
        const queue = await openQueue([noop, broken]);
        expect(await queue.finishedTotal()).toBe(0);
        const jobs = await Promise.all([queue.enqueue(noop, {}), queue.enqueue(noop, {}), queue.enqueue(broken, {})]);
        for (const { jobId } of jobs) await finished(queue, jobId);
        // BullMQ counts in the worker after the job's state is written: read until it catches up.
        await waitFor(async () => ((await queue.finishedTotal()) === 3 ? true : null), 'three finished jobs counted');
      });

      it('closes gracefully, letting the running job finish', async () => {
        let started = false;
        let done = false;
        const slow = defineJob({
          id: 'test.slow',
          schema: z.object({}),
          async handler() {
            started = true;
            // The job's own work, long enough that close() finds it running.
            await sleep(300);
            done = true;
            return 'finished';
          },
        });
        const kv = await openKv();
        const queueName = `q${++queueCounter}`;
        const queue = createJobQueue({ kv, logger, definitions: [slow], queueName });
        await queue.startWorker();
        const { jobId } = await queue.enqueue(slow, {});
        await waitFor(() => started, 'the slow job to start');
        await queue.close();
        expect(done).toBe(true);
        await queue.close(); // idempotent

        if (mode.name === 'redis') {
          // Another process (a fresh queue on the same Redis) sees the job completed, not stalled.
          const reader = createJobQueue({ kv, logger, definitions: [slow], queueName });
          toClose.push(() => reader.close());
          expect(await reader.getJob(jobId)).toMatchObject({ state: 'completed', result: 'finished' });
        }
      });
    });
  });
}

describe('createKv without a reachable Redis', () => {
  it('fails start-up within the connect timeout', async () => {
    const started = Date.now();
    await expect(
      createKv({ redisUrl: 'redis://127.0.0.1:1', logger, keyPrefix: uniquePrefix(), connectTimeoutMs: 300 }),
    ).rejects.toThrow(/redis:\/\/127\.0\.0\.1:1/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe.skipIf(!REDIS_URL)('Redis going down and coming back', () => {
  it('fails fast while down (so health checks can say so) and recovers', async () => {
    const target = new URL(REDIS_URL!);
    // A proxy we can cut stands in for a Redis outage without touching the shared server.
    const sockets = new Set<Socket>();
    const listen = (port = 0) =>
      new Promise<Server>((resolve) => {
        const server = createServer((client) => {
          const upstream = connect(Number(target.port || 6379), target.hostname);
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('close', () => sockets.delete(s));
            s.on('error', () => undefined);
          }
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    let proxy = await listen();
    const port = (proxy.address() as { port: number }).port;
    const proxied = new URL(REDIS_URL!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(port);

    const kv = await createKv({ redisUrl: proxied.toString(), logger, keyPrefix: uniquePrefix() });
    toClose.push(() => kv.close());
    const queue = createJobQueue({ kv, logger, definitions: [], queueName: 'outage' });
    toClose.push(() => queue.close());
    expect(await kv.ping()).toBeGreaterThanOrEqual(0);
    const limiter = kv.rateLimiter({ name: 'outage', points: 5, durationSeconds: 60 });
    await limiter.consume('k');

    const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
    await waitFor(() => kv.connection()?.status !== 'ready', 'the client to notice');

    const started = Date.now();
    await expect(kv.ping()).rejects.toThrow();
    await expect(kv.cache.get('x')).rejects.toThrow();
    await expect(limiter.consume('k')).rejects.toThrow();
    await expect(queue.counts()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);

    proxy = await listen(port);
    try {
      await waitFor(
        () =>
          kv.ping().then(
            () => true,
            () => false,
          ),
        'recovery',
        8000,
      );
      expect((await limiter.consume('k')).remaining).toBe(3);
    } finally {
      for (const s of sockets) s.destroy();
      proxy.close();
    }
  });
});
