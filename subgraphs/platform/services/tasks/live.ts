import type { Principal } from '../../../../lib/principal.js';
import type { BoundedQueue } from '../../../../lib/realtime/bounded-queue.js';
import { publishTopic, subscribeTopic, type RealtimeEnvelope } from '../../../../lib/realtime/topics.js';
import type { JobInfo } from '../../../../lib/runtime/jobs.js';
import type { Kv } from '../../../../lib/runtime/kv.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { toTask, visibleTenant, type Task } from './tasks.js';

/**
 * Tasks as they change, on the platform bus (topic `platform.tasks`): every process's job queue
 * reports each enqueue, start, progress report, retry, completion, failure and cancel of the jobs
 * it sees (app/deps.ts), as the Task the tasks query answers. Scoped by the job's tenant, so a
 * tenant's admin never receives another tenant's (or a platform-wide) task.
 */

/** The Task as it travels: dates as ISO strings. */
type TaskMessage = Omit<Task, 'createdAt' | 'startedAt' | 'completedAt' | 'estimatedCompletion'> & {
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  estimatedCompletion: string | null;
};

/** A result larger than this travels as null: subscribers read it with the `task` query. */
const MAX_RESULT_BYTES = 16_384;

export async function publishTaskChange(kv: Kv, job: JobInfo): Promise<void> {
  const task = toTask(job);
  const result = task.result === null ? null : JSON.stringify(task.result);
  const message: TaskMessage = {
    ...task,
    result: result !== null && result.length <= MAX_RESULT_BYTES ? task.result : null,
    createdAt: task.createdAt.toISOString(),
    startedAt: task.startedAt?.toISOString() ?? null,
    completedAt: task.completedAt?.toISOString() ?? null,
    estimatedCompletion: task.estimatedCompletion?.toISOString() ?? null,
  };
  await publishTopic(kv, 'platform.tasks', task.tenantId, message);
}

export function taskOfMessage(message: TaskMessage): Task {
  const date = (value: string | null) => (value === null ? null : new Date(value));
  return {
    ...message,
    createdAt: new Date(message.createdAt),
    startedAt: date(message.startedAt),
    completedAt: date(message.completedAt),
    estimatedCompletion: date(message.estimatedCompletion),
  };
}

/**
 * The tasks query's rule: read:system receives every task, a tenant's read:tenants that tenant's.
 * `id`: one task only; `type`: one job definition only.
 */
export async function subscribeTasks(options: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string | null;
  type: string | null;
}): Promise<BoundedQueue<RealtimeEnvelope<TaskMessage>>> {
  const { id, type } = options;
  const tenantId = visibleTenant(options.principal);
  return subscribeTopic<TaskMessage>({
    kv: options.deps.kv,
    topic: 'platform.tasks',
    tenantId,
    accept: (task) => (id === null || task.id === id) && (type === null || task.type === type),
  });
}
