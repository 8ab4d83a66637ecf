import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { paginationOf, pageInput, pageWindow, type Pagination } from '../../../../lib/pagination.js';
import { hasScope, requirePrincipal, type Principal } from '../../../../lib/principal.js';
import { isCancelled, type JobInfo, type JobLog, type JobState } from '../../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';

/**
 * Tasks are the platform's background jobs (lib/runtime/jobs.ts, BullMQ or in-memory) as an
 * operator or a tenant's admin sees them: status, progress (0..1), named steps, log lines, cancel.
 * `read:system` sees every job; a caller bound to a tenant with `read:tenants` sees that tenant's.
 */

export const TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface TaskStep {
  name: string;
  status: string;
  progress: number | null;
}

export interface Task {
  id: string;
  type: string;
  status: TaskStatus;
  /** 0..1; jobs report a percent. */
  progress: number;
  tenantId: string | null;
  attempts: number;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** From elapsed time and progress, while it runs and has made some; null otherwise. */
  estimatedCompletion: Date | null;
  error: string | null;
  result: unknown;
  steps: TaskStep[];
  cancelRequested: boolean;
}

export interface TaskPage {
  tasks: Task[];
  pagination: Pagination;
}

const STATES_FOR: Record<TaskStatus, JobState[]> = {
  pending: ['waiting', 'delayed'],
  running: ['active'],
  completed: ['completed'],
  failed: ['failed'],
  cancelled: ['failed'],
};

function statusOf(job: JobInfo): TaskStatus {
  switch (job.state) {
    case 'waiting':
    case 'delayed':
      return 'pending';
    case 'active':
      return 'running';
    case 'completed':
      return 'completed';
    case 'failed':
      return isCancelled(job) ? 'cancelled' : 'failed';
  }
}

function clampRatio(value: number): number {
  return Math.min(1, Math.max(0, value));
}

function toSteps(progress: unknown): TaskStep[] {
  if (typeof progress !== 'object' || progress === null || !Array.isArray((progress as { steps?: unknown }).steps)) {
    return [];
  }
  return ((progress as { steps: unknown[] }).steps ?? []).slice(0, 50).flatMap((step) => {
    if (typeof step !== 'object' || step === null) return [];
    const { name, status, progress: stepProgress } = step as Record<string, unknown>;
    if (typeof name !== 'string' || typeof status !== 'string') return [];
    return [{ name, status, progress: typeof stepProgress === 'number' ? clampRatio(stepProgress / 100) : null }];
  });
}

function ratioOf(job: JobInfo): number {
  if (job.state === 'completed') return 1;
  const raw = job.progress;
  const percent =
    typeof raw === 'number'
      ? raw
      : typeof (raw as { percent?: unknown }).percent === 'number'
        ? (raw as { percent: number }).percent
        : 0;
  return clampRatio(percent / 100);
}

export function toTask(job: JobInfo): Task {
  const status = statusOf(job);
  const progress = ratioOf(job);
  const startedAt = job.startedAt ?? null;
  const estimatedCompletion =
    status === 'running' && startedAt && progress > 0 && progress < 1
      ? new Date(startedAt.getTime() + (Date.now() - startedAt.getTime()) / progress)
      : null;
  return {
    id: job.id,
    type: job.name,
    status,
    progress,
    tenantId: job.tenantId,
    attempts: job.attemptsMade,
    createdAt: job.createdAt,
    startedAt,
    completedAt: job.finishedAt ?? null,
    estimatedCompletion,
    error: status === 'failed' || status === 'pending' ? (job.failedReason ?? null) : null,
    result: job.state === 'completed' ? (job.result ?? null) : null,
    steps: toSteps(job.progress),
    cancelRequested: job.cancelRequested,
  };
}

/** The tenant whose tasks the caller may see; null: every task (the operator's view). */
export function visibleTenant(principal: Principal): string | null {
  if (hasScope(principal, 'read:system')) return null;
  if (principal.tenantId !== null && hasScope(principal, 'read:tenants')) return principal.tenantId;
  throw new AppError('FORBIDDEN', 'Missing required scope read:system', { required_scope: 'read:system' });
}

const listSchema = z.object({
  status: z.enum(TASK_STATUSES).nullish(),
  type: z.string().min(1).max(100).nullish(),
  ...pageInput({ defaultLimit: 20, maxLimit: 100 }),
});

export async function listTasks(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: { status?: string | null; type?: string | null; page?: number | null; limit?: number | null };
}): Promise<TaskPage> {
  const principal = requirePrincipal(options.principal);
  const tenantId = visibleTenant(principal);
  const input = parseInput(listSchema, options.input);
  const { skip, take } = pageWindow(input);
  const { jobs, total } = await options.deps.jobs.list({
    states: input.status ? STATES_FOR[input.status] : undefined,
    cancelled: input.status === 'cancelled' ? true : input.status === 'failed' ? false : undefined,
    name: input.type ?? undefined,
    tenantId: tenantId ?? undefined,
    offset: skip,
    limit: take,
  });
  return { tasks: jobs.map(toTask), pagination: paginationOf(input, total) };
}

const idSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^:\s]+$/, 'A task id has no ":" or spaces');

async function loadVisible(deps: SubgraphDeps, principal: Principal, id: string, tenantId: string | null) {
  const job = await deps.jobs.getJob(parseInput(idSchema, id));
  // Another tenant's task is as absent as a task that never existed.
  if (!job || (tenantId !== null && job.tenantId !== tenantId)) {
    throw new AppError('NOT_FOUND', 'Task not found', { task_id: id });
  }
  return job;
}

export async function getTask(options: { deps: SubgraphDeps; principal: Principal | null; id: string }): Promise<Task> {
  const principal = requirePrincipal(options.principal);
  return toTask(await loadVisible(options.deps, principal, options.id, visibleTenant(principal)));
}

export async function listTaskLogs(options: { deps: SubgraphDeps; id: string; limit: number }): Promise<JobLog[]> {
  return options.deps.jobs.logs(options.id, Math.max(1, Math.min(options.limit, 200)));
}

/** How long a cancel waits for a running job to stop before answering with it still stopping. */
const CANCEL_WAIT_MS = 3_000;

export interface CancelledTask {
  task: Task;
  cancelledAt: Date | null;
}

/**
 * Cancels a task: `admin:services` for any, `write:tenants` for the caller's own tenant's. A task
 * already finished is a CONFLICT; a running one is asked to stop and awaited for a moment.
 */
export async function cancelTask(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<CancelledTask> {
  const principal = requirePrincipal(options.principal);
  let tenantId: string | null;
  if (hasScope(principal, 'admin:services')) tenantId = null;
  else if (principal.tenantId !== null && hasScope(principal, 'write:tenants')) tenantId = principal.tenantId;
  else throw new AppError('FORBIDDEN', 'Missing required scope admin:services', { required_scope: 'admin:services' });

  const { deps } = options;
  const job = await loadVisible(deps, principal, options.id, tenantId);
  if (job.state === 'completed' || job.state === 'failed') {
    throw new AppError('CONFLICT', `Task is already ${statusOf(job)}`, { task_id: job.id, status: statusOf(job) });
  }
  let current = (await deps.jobs.cancel(job.id)) ?? job;
  const deadline = Date.now() + CANCEL_WAIT_MS;
  while (current.state !== 'completed' && current.state !== 'failed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    current = (await deps.jobs.getJob(job.id)) ?? current;
  }
  const task = toTask(current);
  return { task, cancelledAt: task.status === 'cancelled' ? (current.finishedAt ?? new Date()) : null };
}
