import { MetricsTime, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Kv } from './kv.js';

/**
 * Background jobs: one definition shape, run by BullMQ on Redis or by an in-process queue on the
 * embedded default, with the same states, retries, backoff, progress and idempotent ids.
 *
 * Payloads must never hold secrets (tokens, passwords, API keys, connection strings): they sit in
 * Redis in clear text, show up in job listings and logs, and outlive the request. Pass ids and let
 * the handler load what it needs. Payloads are stored as parsed by the schema, so unknown keys are
 * dropped rather than persisted, and must survive a JSON round trip (use ISO strings or
 * `z.coerce.date()` for dates): the handler sees the payload re-parsed from its stored JSON.
 */

export interface JobContext {
  /** A child logger carrying job, jobId and attempt. */
  logger: Logger;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  jobId: string;
  /** A percent (0-100), or `{ percent, steps: [{ name, status, progress? }] }` for a job with named steps. */
  updateProgress(progress: number | object): Promise<void>;
  /** Appends a line to the job's log (kept with the job, at most MAX_JOB_LOGS lines; never put secrets in it). */
  log(message: string, level?: JobLogLevel): Promise<void>;
  /**
   * Aborted when someone cancels the running job (`JobQueue.cancel`). Handlers that can stop
   * between steps check it (`signal.throwIfAborted()`); the job then fails as cancelled, without retry.
   */
  signal: AbortSignal;
}

export type JobLogLevel = 'INFO' | 'WARN' | 'ERROR';

export interface JobLog {
  timestamp: Date;
  level: JobLogLevel;
  message: string;
}

/** The failedReason of a job stopped by `JobQueue.cancel`. */
export const CANCELLED_REASON = 'cancelled';
/** Lines of log kept per job. */
export const MAX_JOB_LOGS = 200;
/** How many of the newest jobs per state `list` reads (BullMQ); older ones are beyond a listing. */
export const LIST_SCAN_LIMIT = 1000;

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  readonly id: string;
  readonly schema: S;
  readonly attempts: number;
  /** First retry delay; each further retry doubles it (exponential backoff). */
  readonly backoffMs: number;
  /** Whether its state changes reach `CreateJobQueueOptions.onChange` (false for high-volume plumbing jobs). */
  readonly announce: boolean;
  // Method syntax on purpose: lets definitions with different payloads share one JobDefinition[].
  handler(payload: z.output<S>, ctx: JobContext): Promise<unknown>;
}

export interface DefineJobOptions<S extends z.ZodType> {
  id: string;
  schema: S;
  handler: (payload: z.output<S>, ctx: JobContext) => Promise<unknown>;
  /** Total runs including the first. Default 3. */
  attempts?: number;
  /** Default 1000. */
  backoffMs?: number;
  /**
   * Default true: every state change and progress report goes to the queue's `onChange` (the
   * platform publishes it as task progress). False for frequent internal jobs nobody watches.
   */
  announce?: boolean;
}

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed';

export interface JobInfo {
  id: string;
  name: string;
  state: JobState;
  /** Finished runs (successful or not); the run in progress is not counted yet. */
  attemptsMade: number;
  progress: number | object;
  result?: unknown;
  /** The last failure, while the job waits to retry and once it has failed for good. */
  failedReason?: string;
  createdAt: Date;
  /** When the current or last run started. */
  startedAt?: Date;
  finishedAt?: Date;
  /** The tenant the job works for (EnqueueOptions.tenantId); null for platform-wide jobs. */
  tenantId: string | null;
  /** Cancelled through `cancel` (state failed, failedReason CANCELLED_REASON), or asked to stop while it runs. */
  cancelRequested: boolean;
}

export interface ListJobsOptions {
  states?: readonly JobState[];
  /** A job definition id. */
  name?: string;
  /** Only this tenant's jobs. */
  tenantId?: string;
  /** true: only cancelled jobs; false: none of them. */
  cancelled?: boolean;
  offset: number;
  limit: number;
}

export type JobCounts = Record<JobState, number>;

export interface EnqueueOptions {
  /** Idempotency key: enqueueing an id that still exists returns that job instead of adding one. */
  jobId?: string;
  delayMs?: number;
  /** The tenant this job works for: tenant-scoped task listings show it to that tenant's admins. */
  tenantId?: string;
}

export interface JobQueue {
  kind: 'bullmq' | 'memory';
  enqueue<S extends z.ZodType>(
    job: JobDefinition<S>,
    payload: z.input<S>,
    opts?: EnqueueOptions,
  ): Promise<{ jobId: string }>;
  enqueue(job: string, payload: unknown, opts?: EnqueueOptions): Promise<{ jobId: string }>;
  getJob(jobId: string): Promise<JobInfo | null>;
  counts(): Promise<JobCounts>;
  /**
   * Jobs finished (completed or failed) in total: on BullMQ the workers' metrics counters in Redis
   * (every worker counts, whatever process it runs in; kept across restarts), in memory since start.
   */
  finishedTotal(): Promise<number>;
  /** Newest first; `total` counts every match (within LIST_SCAN_LIMIT newest jobs per state on BullMQ). */
  list(options: ListJobsOptions): Promise<{ jobs: JobInfo[]; total: number }>;
  /** The job's log lines, oldest first, at most `limit` of the newest. */
  logs(jobId: string, limit?: number): Promise<JobLog[]>;
  /**
   * Cancels a job: one still waiting or delayed fails at once as cancelled (never runs); a running
   * one has its `signal` aborted (in whichever worker process runs it). Finished jobs are left as
   * they are. Returns the job as it is right after the request, null when there is none.
   */
  cancel(jobId: string): Promise<JobInfo | null>;
  /** Starts processing in this process. Without it the queue only enqueues (a subgraph's role in production). */
  startWorker(opts?: { concurrency?: number }): Promise<void>;
  /**
   * Restarts this process's worker in place (POST /api/v1/services/worker/restart): it stops
   * taking jobs, lets the running ones finish (a job that fails meanwhile is retried as usual),
   * then starts a new worker with the same concurrency. Jobs enqueued meanwhile wait for it.
   * Returns how many jobs were running when it stopped; throws when no worker runs here.
   */
  restartWorker(): Promise<{ finishedJobs: number }>;
  /** Stops taking jobs, waits for the running ones, then closes what this queue opened (not the Kv). */
  close(): Promise<void>;
}

export interface CreateJobQueueOptions {
  kv: Kv;
  logger: Logger;
  definitions: JobDefinition[];
  /** Default `jobs`. Keys live under `<kv.keyPrefix>bull:<queueName>:`. */
  queueName?: string;
  /**
   * Told the job as it is after each change seen by this process: enqueued, started, progress,
   * retry scheduled, completed, failed, cancelled. The process that runs a job reports its run
   * (the worker, on BullMQ), the one that enqueues or cancels reports that. In order per queue;
   * an error is logged, never fails the job. Jobs defined with `announce: false` are left out.
   */
  onChange?: (job: JobInfo) => void | Promise<void>;
}

/** Thrown by a handler when retrying cannot help (the tenant is gone, the input is wrong): fails the job at once. */
export class UnrecoverableJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableJobError';
  }
}

export function defineJob<S extends z.ZodType>(options: DefineJobOptions<S>): JobDefinition<S> {
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  if (!options.id) throw new Error('A job needs an id');
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`Job "${options.id}": attempts must be >= 1`);
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new Error(`Job "${options.id}": backoffMs must be >= 0`);
  return {
    id: options.id,
    schema: options.schema,
    attempts,
    backoffMs,
    announce: options.announce ?? true,
    handler: options.handler,
  };
}

/** How long finished jobs stay readable through getJob; bounded so Redis does not grow forever. */
const KEEP_COMPLETED = { age: 24 * 3600, count: 1000 };
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 5000 };
const DEFAULT_CONCURRENCY = 2;

export function createJobQueue(options: CreateJobQueueOptions): JobQueue {
  const definitions = new Map<string, JobDefinition>();
  for (const def of options.definitions) {
    if (definitions.has(def.id)) throw new Error(`Job "${def.id}" is defined twice`);
    definitions.set(def.id, def);
  }
  const logger = options.logger.child({ component: 'jobs' });
  const queueName = options.queueName ?? 'jobs';
  const connection = options.kv.connection();
  // Changes are read and reported one after the other, so a subscriber never sees them out of order.
  let reporting: Promise<void> = Promise.resolve();
  const onChange = options.onChange;
  // `snapshot`: the job as it is right now, when the backend has it at hand (in memory).
  const changed = (name: string, jobId: string, snapshot?: JobInfo): void => {
    if (!onChange || definitions.get(name)?.announce === false) return;
    reporting = reporting
      .then(async () => {
        const info = snapshot ?? (await backend.getJob(jobId));
        if (info) await onChange(info);
      })
      .catch((error: unknown) => logger.warn({ err: error, jobId }, 'job change not reported'));
  };
  const backend: Backend = connection
    ? createBullBackend({
        connection,
        prefix: `${options.kv.keyPrefix}bull`,
        queueName,
        definitions,
        logger,
        changed,
      })
    : createMemoryBackend({ definitions, logger, changed });

  const enqueue = async (job: JobDefinition | string, payload: unknown, opts: EnqueueOptions = {}) => {
    const id = typeof job === 'string' ? job : job.id;
    const def = definitions.get(id);
    // A definition this queue does not know would sit in Redis forever with no worker to run it.
    if (!def) throw new AppError('NOT_FOUND', `Unknown job "${id}"`, { job: id });
    const parsed = def.schema.safeParse(payload);
    if (!parsed.success) {
      throw new AppError('VALIDATION_ERROR', `Invalid payload for job "${id}"`, {
        job: id,
        fields: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      });
    }
    if (opts.jobId !== undefined) validateJobId(opts.jobId);
    const delayMs = opts.delayMs ?? 0;
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new AppError('VALIDATION_ERROR', 'delayMs must be >= 0');
    return backend.add(def, withTenant(toJson(parsed.data), opts.tenantId), { jobId: opts.jobId, delayMs });
  };

  return {
    kind: backend.kind,
    enqueue: enqueue as JobQueue['enqueue'],
    getJob: (jobId) => backend.getJob(jobId),
    counts: () => backend.counts(),
    finishedTotal: () => backend.finishedTotal(),
    list: (listOptions) => backend.list(listOptions),
    logs: (jobId, limit = MAX_JOB_LOGS) => backend.logs(jobId, Math.max(1, Math.min(limit, MAX_JOB_LOGS))),
    cancel: async (jobId) => {
      const info = await backend.cancel(jobId);
      if (info) changed(info.name, info.id);
      return info;
    },
    startWorker: (opts) => backend.startWorker(opts?.concurrency ?? DEFAULT_CONCURRENCY),
    restartWorker: () => backend.restartWorker(),
    close: async () => {
      await backend.close();
      await reporting;
    },
  };
}

interface Backend {
  kind: JobQueue['kind'];
  add(def: JobDefinition, payload: unknown, opts: { jobId?: string; delayMs: number }): Promise<{ jobId: string }>;
  getJob(jobId: string): Promise<JobInfo | null>;
  counts(): Promise<JobCounts>;
  finishedTotal(): Promise<number>;
  list(options: ListJobsOptions): Promise<{ jobs: JobInfo[]; total: number }>;
  logs(jobId: string, limit: number): Promise<JobLog[]>;
  cancel(jobId: string): Promise<JobInfo | null>;
  startWorker(concurrency: number): Promise<void>;
  restartWorker(): Promise<{ finishedJobs: number }>;
  close(): Promise<void>;
}

/** BullMQ's own rules, applied in both modes so an id that works on the laptop works in production. */
function validateJobId(jobId: string): void {
  if (jobId === '' || jobId === '0' || jobId.includes(':') || `${Number.parseInt(jobId, 10)}` === jobId) {
    throw new AppError('VALIDATION_ERROR', 'jobId must be a non-empty, non-integer string without ":"', { jobId });
  }
}

/**
 * Runs one attempt: re-validates the stored payload, calls the handler, logs the outcome.
 * Shared by both backends so logging and failure classification cannot drift apart.
 */
async function runAttempt(
  def: JobDefinition,
  payload: unknown,
  meta: {
    jobId: string;
    attempt: number;
    logger: Logger;
    updateProgress: JobContext['updateProgress'];
    log: JobContext['log'];
    signal: AbortSignal;
  },
): Promise<unknown> {
  const log = meta.logger.child({ job: def.id, jobId: meta.jobId, attempt: meta.attempt });
  const started = performance.now();
  try {
    meta.signal.throwIfAborted();
    const parsed = def.schema.safeParse(withoutTenant(payload));
    if (!parsed.success) {
      // Stored by an older version of the schema, or written by hand: no retry will fix it.
      throw new UnrecoverableJobError(`Stored payload no longer matches the schema of "${def.id}"`);
    }
    const result = await def.handler(parsed.data, {
      logger: log,
      attempt: meta.attempt,
      jobId: meta.jobId,
      updateProgress: meta.updateProgress,
      log: meta.log,
      signal: meta.signal,
    });
    log.info({ ms: Math.round(performance.now() - started) }, 'job completed');
    return result;
  } catch (caught) {
    // A cancelled job stops for good, whatever the handler threw on its way out.
    const error = meta.signal.aborted ? new UnrecoverableJobError(CANCELLED_REASON, { cause: caught }) : caught;
    const willRetry = !(error instanceof UnrecoverableJobError) && meta.attempt < def.attempts;
    log[willRetry ? 'warn' : 'error'](
      { err: error, ms: Math.round(performance.now() - started), willRetry },
      willRetry ? 'job attempt failed' : 'job failed',
    );
    throw error;
  }
}

/** Where the owning tenant rides along in the stored payload; stripped before the handler's schema sees it. */
const TENANT_KEY = '__tenantId';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withTenant(payload: unknown, tenantId: string | undefined): unknown {
  if (tenantId === undefined) return payload;
  if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > 200) {
    throw new AppError('VALIDATION_ERROR', 'tenantId must be a non-empty string of at most 200 characters');
  }
  if (!isPlainObject(payload)) throw new AppError('VALIDATION_ERROR', 'Only object payloads can carry a tenant');
  return { ...payload, [TENANT_KEY]: tenantId };
}

function withoutTenant(payload: unknown): unknown {
  if (!isPlainObject(payload) || !(TENANT_KEY in payload)) return payload;
  const { [TENANT_KEY]: _tenant, ...rest } = payload;
  return rest;
}

function tenantOf(payload: unknown): string | null {
  return isPlainObject(payload) && typeof payload[TENANT_KEY] === 'string' ? payload[TENANT_KEY] : null;
}

function formatLog(level: JobLogLevel, message: string): string {
  return JSON.stringify({ t: Date.now(), l: level, m: message.slice(0, 2000) });
}

function parseLog(line: string): JobLog {
  try {
    const parsed = JSON.parse(line) as { t?: unknown; l?: unknown; m?: unknown };
    const level = parsed.l === 'WARN' || parsed.l === 'ERROR' ? parsed.l : 'INFO';
    return { timestamp: new Date(Number(parsed.t)), level, message: String(parsed.m ?? '') };
  } catch {
    // A line written by other BullMQ code (job.log with plain text).
    return { timestamp: new Date(0), level: 'INFO', message: line };
  }
}

function matches(info: JobInfo, options: ListJobsOptions): boolean {
  return (
    (options.name === undefined || info.name === options.name) &&
    (options.tenantId === undefined || info.tenantId === options.tenantId) &&
    (options.cancelled === undefined || isCancelled(info) === options.cancelled)
  );
}

export function isCancelled(info: JobInfo): boolean {
  return info.state === 'failed' && info.failedReason === CANCELLED_REASON;
}

function page(infos: JobInfo[], options: ListJobsOptions): { jobs: JobInfo[]; total: number } {
  infos.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id));
  return { jobs: infos.slice(options.offset, options.offset + options.limit), total: infos.length };
}

const ALL_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'failed', 'delayed'];
/** How often a worker looks for a cancel request of a job it runs (any process may ask). */
const CANCEL_POLL_MS = 250;

function toJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// BullMQ

function createBullBackend(opts: {
  connection: Redis;
  prefix: string;
  queueName: string;
  definitions: Map<string, JobDefinition>;
  logger: Logger;
  changed: (name: string, jobId: string, snapshot?: JobInfo) => void;
}): Backend {
  const { connection, prefix, queueName, definitions, logger, changed } = opts;
  // The Kv's fail-fast connection suits the queue: an enqueue during an outage errors instead of hanging.
  const queue = new Queue(queueName, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
  });
  queue.on('error', (error: Error) => logger.warn({ err: error }, 'job queue error'));

  let worker: Worker | undefined;
  let workerConnection: Redis | undefined;
  let workerConcurrency = 0;
  /** Jobs this process's worker is running now. */
  let activeJobs = 0;
  let closing: Promise<void> | undefined;
  // Beside BullMQ's own keys, so a queue obliteration takes it too.
  const cancelKey = (jobId: string) => `${prefix}:${queueName}:cancel:${jobId}`;

  const toInfo = (job: Job, state: JobState, cancelFlag = false): JobInfo | null => {
    if (job.id === undefined) return null;
    return {
      id: job.id,
      name: job.name,
      state,
      attemptsMade: job.attemptsMade,
      progress: toProgress(job.progress),
      ...(state === 'completed' ? { result: job.returnvalue ?? null } : {}),
      ...(state !== 'completed' && job.failedReason ? { failedReason: job.failedReason } : {}),
      createdAt: new Date(job.timestamp),
      ...(job.processedOn ? { startedAt: new Date(job.processedOn) } : {}),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn) } : {}),
      tenantId: tenantOf(job.data),
      cancelRequested: cancelFlag || (state === 'failed' && job.failedReason === CANCELLED_REASON),
    };
  };

  const readJob = async (jobId: string): Promise<JobInfo | null> => {
    // The state first, then the data: read the other way round, a job that finishes in between
    // shows as completed with the data it had while running (no result, attempts 0).
    const state = mapBullState(await queue.getJobState(jobId));
    if (!state) return null;
    const [job, flag] = await Promise.all([queue.getJob(jobId), connection.exists(cancelKey(jobId))]);
    return job ? toInfo(job, state, flag === 1) : null;
  };

  return {
    kind: 'bullmq',
    async add(def, payload, { jobId, delayMs }) {
      const job = await queue.add(def.id, payload, {
        jobId,
        delay: delayMs > 0 ? delayMs : undefined,
        attempts: def.attempts,
        backoff: { type: 'exponential', delay: def.backoffMs },
        keepLogs: MAX_JOB_LOGS,
      });
      if (job.id === undefined) throw new Error('BullMQ returned a job without an id');
      // As added: a worker may have taken it already, and its own reports follow this one.
      const added = toInfo(job, delayMs > 0 ? 'delayed' : 'waiting');
      if (added) changed(def.id, job.id, added);
      return { jobId: job.id };
    },
    getJob: readJob,
    async list(options) {
      const bullTypes: Record<JobState, string[]> = {
        waiting: ['waiting', 'prioritized', 'waiting-children'],
        active: ['active'],
        completed: ['completed'],
        failed: ['failed'],
        delayed: ['delayed'],
      };
      const infos: JobInfo[] = [];
      for (const state of options.states ?? ALL_STATES) {
        for (const type of bullTypes[state]) {
          // Each type on its own: BullMQ pages several types together only as one merged range.
          const jobs = await queue.getJobs([type as 'waiting'], 0, LIST_SCAN_LIMIT - 1, false);
          for (const job of jobs) {
            const info = job ? toInfo(job, state) : null;
            if (info && matches(info, options)) infos.push(info);
          }
        }
      }
      return page(infos, options);
    },
    async logs(jobId, limit) {
      const { logs } = await queue.getJobLogs(jobId, -limit, -1, true);
      return logs.map(parseLog);
    },
    async cancel(jobId) {
      const state = mapBullState(await queue.getJobState(jobId));
      if (!state) return null;
      if (state === 'completed' || state === 'failed') return readJob(jobId);
      // A flag every worker reads: before it starts the job, and every CANCEL_POLL_MS while it runs.
      await connection.set(cancelKey(jobId), '1', 'EX', KEEP_FAILED.age);
      if (state === 'delayed') {
        // Run it now, so it fails as cancelled at once instead of at its scheduled time.
        const job = await queue.getJob(jobId);
        await job?.promote().catch(() => undefined);
      }
      return readJob(jobId);
    },
    async counts() {
      const c = await queue.getJobCounts(
        'waiting',
        'prioritized',
        'waiting-children',
        'active',
        'completed',
        'failed',
        'delayed',
      );
      return {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
        active: c.active ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
        delayed: c.delayed ?? 0,
      };
    },
    async finishedTotal() {
      const [completed, failed] = await Promise.all([
        queue.getMetrics('completed', 0, 0),
        queue.getMetrics('failed', 0, 0),
      ]);
      return completed.meta.count + failed.meta.count;
    },
    async startWorker(concurrency) {
      if (worker) return;
      if (closing) throw new Error('Job queue is closed');
      workerConcurrency = concurrency;
      // Workers block on BZPOPMIN and must wait out outages rather than fail the command
      // (maxRetriesPerRequest: null). BullMQ duplicates this client for its two connections, so the
      // template itself stays lazy and never opens a socket.
      workerConnection = connection.duplicate({
        maxRetriesPerRequest: null,
        enableOfflineQueue: true,
        commandTimeout: undefined,
        lazyConnect: true,
        connectionName: 'platform-worker',
      });
      worker = new Worker(
        queueName,
        async (job: Job) => {
          const def = definitions.get(job.name);
          if (!def) throw new UnrecoverableError(`No definition for job "${job.name}" in this worker`);
          const jobId = job.id ?? '';
          const controller = new AbortController();
          const checkCancel = async () => {
            if (!controller.signal.aborted && (await connection.exists(cancelKey(jobId))) === 1) controller.abort();
          };
          await checkCancel();
          const poll = setInterval(() => void checkCancel().catch(() => undefined), CANCEL_POLL_MS);
          poll.unref();
          activeJobs += 1;
          try {
            return await runAttempt(def, job.data, {
              jobId,
              attempt: job.attemptsMade + 1,
              logger,
              updateProgress: (progress) => job.updateProgress(progress),
              log: async (message, level = 'INFO') => {
                await job.log(formatLog(level, message));
              },
              signal: controller.signal,
            });
          } catch (error) {
            if (error instanceof UnrecoverableJobError) throw new UnrecoverableError(error.message);
            throw error;
          } finally {
            activeJobs -= 1;
            clearInterval(poll);
          }
        },
        // metrics: per-minute finished counts and a running total in Redis (finishedTotal); an hour
        // of points is 60 list entries per state: the total is what is read, not the series.
        { connection: workerConnection, prefix, concurrency, metrics: { maxDataPoints: MetricsTime.ONE_HOUR } },
      );
      worker.on('error', (error: Error) => logger.warn({ err: error }, 'job worker error'));
      // This worker's own runs: started, progress, retried or failed, completed.
      const report = (job: Job | undefined) => {
        if (job?.id !== undefined) changed(job.name, job.id);
      };
      worker.on('active', report);
      worker.on('progress', report);
      worker.on('completed', report);
      worker.on('failed', report);
      await worker.waitUntilReady();
      logger.info({ queue: queueName, concurrency, definitions: [...definitions.keys()] }, 'job worker started');
    },
    async restartWorker() {
      const old = worker;
      if (!old || closing) throw new Error('No job worker runs in this process');
      const oldConnection = workerConnection;
      const finishedJobs = activeJobs;
      worker = undefined;
      // BullMQ's close() stops fetching and waits for the active jobs; one whose lock is lost
      // meanwhile is moved back by the stalled-job check and retried by the new worker.
      await old.close();
      oldConnection?.disconnect();
      await this.startWorker(workerConcurrency);
      return { finishedJobs };
    },
    close() {
      closing ??= (async () => {
        // Worker first: close() lets active jobs finish, and they still need the queue's keys.
        if (worker) await worker.close();
        await queue.close();
        workerConnection?.disconnect();
      })();
      return closing;
    },
  };
}

function toProgress(value: unknown): number | object {
  return typeof value === 'number' || (typeof value === 'object' && value !== null) ? value : 0;
}

function mapBullState(state: string): JobState | null {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'active':
    case 'completed':
    case 'failed':
    case 'delayed':
      return state;
    default:
      // 'unknown': removed between getJob and getState.
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Memory: the embedded default. Jobs live in this process, so a restart loses waiting and delayed ones.

interface MemoryJob {
  id: string;
  def: JobDefinition;
  payload: unknown;
  state: JobState;
  attemptsMade: number;
  progress: number | object;
  result?: unknown;
  failedReason?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  timer?: NodeJS.Timeout;
  tenantId: string | null;
  logs: string[];
  /** Set while a run is in progress. */
  controller?: AbortController;
  cancelRequested: boolean;
}

function createMemoryBackend(opts: {
  definitions: Map<string, JobDefinition>;
  logger: Logger;
  changed: (name: string, jobId: string, snapshot?: JobInfo) => void;
}): Backend {
  const { logger } = opts;
  const changed = (job: MemoryJob) => opts.changed(job.def.id, job.id, toInfo(job));
  const jobs = new Map<string, MemoryJob>();
  const waiting: string[] = [];
  const finished = { completed: [] as string[], failed: [] as string[] };
  const running = new Set<Promise<void>>();
  let nextId = 1;
  let concurrency = 0;
  let closed = false;

  const makeWaiting = (job: MemoryJob) => {
    job.state = 'waiting';
    job.timer = undefined;
    waiting.push(job.id);
    pump();
  };

  const schedule = (job: MemoryJob, delayMs: number) => {
    if (delayMs <= 0) return makeWaiting(job);
    job.state = 'delayed';
    job.timer = setTimeout(() => makeWaiting(job), delayMs);
    // A pending retry must not keep a process alive that is otherwise done.
    job.timer.unref();
  };

  const prune = (state: 'completed' | 'failed') => {
    const keep = state === 'completed' ? KEEP_COMPLETED : KEEP_FAILED;
    const ids = finished[state];
    const oldest = Date.now() - keep.age * 1000;
    while (ids.length > 0) {
      const job = jobs.get(ids[0]!);
      if (job && ids.length <= keep.count && (job.finishedAt ?? 0) >= oldest) break;
      ids.shift();
      if (job?.state === state) jobs.delete(job.id);
    }
  };

  let finishedTotal = 0;
  const finish = (job: MemoryJob, state: 'completed' | 'failed') => {
    finishedTotal += 1;
    job.state = state;
    job.finishedAt = Date.now();
    finished[state].push(job.id);
    prune(state);
  };

  const run = async (job: MemoryJob) => {
    const attempt = job.attemptsMade + 1;
    job.startedAt = Date.now();
    job.controller = new AbortController();
    changed(job);
    try {
      const result = await runAttempt(job.def, job.payload, {
        jobId: job.id,
        attempt,
        logger,
        updateProgress: async (progress) => {
          job.progress = toJson(progress) as number | object;
          changed(job);
        },
        log: async (message, level = 'INFO') => {
          job.logs.push(formatLog(level, message));
          if (job.logs.length > MAX_JOB_LOGS) job.logs.splice(0, job.logs.length - MAX_JOB_LOGS);
        },
        signal: job.controller.signal,
      });
      job.attemptsMade = attempt;
      job.result = toJson(result) ?? null;
      job.failedReason = undefined;
      finish(job, 'completed');
    } catch (error) {
      job.attemptsMade = attempt;
      job.failedReason = errorMessage(error);
      if (error instanceof UnrecoverableJobError || attempt >= job.def.attempts) {
        if (job.controller.signal.aborted) job.failedReason = CANCELLED_REASON;
        finish(job, 'failed');
      } else if (closed) {
        // Shutting down: the retry would have nowhere to run.
        job.state = 'delayed';
      } else {
        schedule(job, job.def.backoffMs * 2 ** (attempt - 1));
      }
    } finally {
      job.controller = undefined;
      changed(job);
    }
  };

  const toInfo = (job: MemoryJob): JobInfo => ({
    id: job.id,
    name: job.def.id,
    state: job.state,
    attemptsMade: job.attemptsMade,
    progress: toJson(job.progress) as number | object,
    ...(job.state === 'completed' ? { result: toJson(job.result) } : {}),
    ...(job.state !== 'completed' && job.failedReason ? { failedReason: job.failedReason } : {}),
    createdAt: new Date(job.createdAt),
    ...(job.startedAt ? { startedAt: new Date(job.startedAt) } : {}),
    ...(job.finishedAt ? { finishedAt: new Date(job.finishedAt) } : {}),
    tenantId: job.tenantId,
    cancelRequested: job.cancelRequested,
  });

  const pump = () => {
    while (!closed && running.size < concurrency && waiting.length > 0) {
      const job = jobs.get(waiting.shift()!);
      if (!job || job.state !== 'waiting') continue;
      job.state = 'active';
      const task = run(job).finally(() => {
        running.delete(task);
        pump();
      });
      running.add(task);
    }
  };

  return {
    kind: 'memory',
    async add(def, payload, { jobId, delayMs }) {
      if (closed) throw new Error('Job queue is closed');
      if (jobId !== undefined && jobs.has(jobId)) return { jobId };
      const id = jobId ?? String(nextId++);
      const job: MemoryJob = {
        id,
        def,
        payload,
        state: 'waiting',
        attemptsMade: 0,
        progress: 0,
        createdAt: Date.now(),
        tenantId: tenantOf(payload),
        logs: [],
        cancelRequested: false,
      };
      jobs.set(id, job);
      // Before it may start (schedule runs it at once when a slot is free): pending comes first.
      if (delayMs > 0) job.state = 'delayed';
      changed(job);
      schedule(job, delayMs);
      return { jobId: id };
    },
    async getJob(jobId) {
      const job = jobs.get(jobId);
      return job ? toInfo(job) : null;
    },
    async list(options) {
      const states = new Set(options.states ?? ALL_STATES);
      const infos = [...jobs.values()].filter((job) => states.has(job.state)).map(toInfo);
      return page(
        infos.filter((info) => matches(info, options)),
        options,
      );
    },
    async logs(jobId, limit) {
      return (jobs.get(jobId)?.logs ?? []).slice(-limit).map(parseLog);
    },
    async cancel(jobId) {
      const job = jobs.get(jobId);
      if (!job) return null;
      if (job.state === 'waiting' || job.state === 'delayed') {
        if (job.timer) clearTimeout(job.timer);
        job.timer = undefined;
        const index = waiting.indexOf(job.id);
        if (index >= 0) waiting.splice(index, 1);
        job.cancelRequested = true;
        job.failedReason = CANCELLED_REASON;
        finish(job, 'failed');
      } else if (job.state === 'active') {
        job.cancelRequested = true;
        job.controller?.abort();
      }
      return toInfo(job);
    },
    async finishedTotal() {
      return finishedTotal;
    },
    async counts() {
      const counts: JobCounts = { waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0 };
      for (const job of jobs.values()) counts[job.state] += 1;
      return counts;
    },
    async startWorker(n) {
      if (closed) throw new Error('Job queue is closed');
      if (concurrency > 0) return;
      concurrency = Math.max(1, n);
      logger.info({ queue: 'memory', concurrency, definitions: [...opts.definitions.keys()] }, 'job worker started');
      pump();
    },
    async restartWorker() {
      if (concurrency === 0 || closed) throw new Error('No job worker runs in this process');
      const n = concurrency;
      // Stops taking jobs (pump checks the concurrency), lets the running ones finish, starts again.
      concurrency = 0;
      const finishedJobs = running.size;
      await Promise.allSettled([...running]);
      concurrency = n;
      logger.info({ queue: 'memory', concurrency: n, finishedJobs }, 'job worker restarted');
      pump();
      return { finishedJobs };
    },
    async close() {
      closed = true;
      for (const job of jobs.values()) if (job.timer) clearTimeout(job.timer);
      await Promise.allSettled([...running]);
    },
  };
}
