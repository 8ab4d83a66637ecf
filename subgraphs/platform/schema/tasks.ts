import type { JobLog } from '../../../lib/runtime/jobs.js';
import { builder } from '../builder.js';
import {
  cancelTask,
  getTask,
  listTaskLogs,
  listTasks,
  TASK_STATUSES,
  type CancelledTask,
  type Task,
  type TaskPage,
  type TaskStep,
} from '../services/tasks/tasks.js';
import { subscribeTasks, taskOfMessage } from '../services/tasks/live.js';
import { requirePrincipal } from '../../../lib/principal.js';
import { PlatformPaginationRef } from './ops-pagination.js';

export const TaskStatusEnum = builder.enumType('TaskStatus', { values: TASK_STATUSES });

const TaskStepRef = builder.objectRef<TaskStep>('TaskStep').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.exposeString('status'),
    progress: t.exposeFloat('progress', { nullable: true, description: '0..1 when the step reports it' }),
  }),
});

const TaskLogRef = builder.objectRef<JobLog>('TaskLog').implement({
  fields: (t) => ({
    timestamp: t.field({ type: 'DateTime', resolve: (l) => l.timestamp }),
    level: t.exposeString('level'),
    message: t.exposeString('message'),
  }),
});

export const TaskRef = builder.objectRef<Task>('Task').implement({
  description: 'A background job of the platform.',
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type', { description: 'The job definition, e.g. platform.system-backup' }),
    status: t.field({ type: TaskStatusEnum, resolve: (task) => task.status }),
    progress: t.exposeFloat('progress', { description: '0..1' }),
    tenantId: t.exposeString('tenantId', { nullable: true }),
    attempts: t.exposeInt('attempts', { description: 'Finished runs, failed ones included' }),
    createdAt: t.field({ type: 'DateTime', resolve: (task) => task.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (task) => task.startedAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (task) => task.completedAt }),
    estimatedCompletion: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Extrapolated from elapsed time and progress while running',
      resolve: (task) => task.estimatedCompletion,
    }),
    error: t.exposeString('error', { nullable: true }),
    result: t.field({ type: 'JSON', nullable: true, resolve: (task) => task.result }),
    steps: t.field({ type: [TaskStepRef], resolve: (task) => task.steps }),
    cancelRequested: t.exposeBoolean('cancelRequested'),
    logs: t.field({
      type: [TaskLogRef],
      description: 'The newest log lines, oldest first (at most 200).',
      args: { limit: t.arg.int({ defaultValue: 50 }) },
      resolve: (task, args, ctx) => listTaskLogs({ deps: ctx.deps, id: task.id, limit: args.limit ?? 50 }),
    }),
  }),
});

const TaskPageRef = builder.objectRef<TaskPage>('TaskPage').implement({
  fields: (t) => ({
    tasks: t.field({ type: [TaskRef], resolve: (p) => p.tasks }),
    pagination: t.field({ type: PlatformPaginationRef, resolve: (p) => p.pagination }),
  }),
});

const CancelledTaskRef = builder.objectRef<CancelledTask>('CancelledTask').implement({
  fields: (t) => ({
    task: t.field({ type: TaskRef, resolve: (c) => c.task }),
    cancelledAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Null while a running task is still stopping',
      resolve: (c) => c.cancelledAt,
    }),
  }),
});

builder.queryFields((t) => ({
  tasks: t.field({
    type: TaskPageRef,
    description: "Background jobs, newest first. read:system for all; a tenant's read:tenants for that tenant's.",
    args: {
      status: t.arg({ type: TaskStatusEnum }),
      type: t.arg.string(),
      page: t.arg.int(),
      limit: t.arg.int(),
    },
    resolve: (_root, args, ctx) => listTasks({ deps: ctx.deps, principal: ctx.principal, input: args }),
  }),
  task: t.field({
    type: TaskRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getTask({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
}));

builder.mutationField('cancelTask', (t) =>
  t.field({
    type: CancelledTaskRef,
    description: "admin:services for any task; a tenant's write:tenants for that tenant's.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => cancelTask({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
);

builder.subscriptionType({});

builder.subscriptionField('taskProgress', (t) =>
  t.field({
    type: TaskRef,
    description:
      'Tasks as they change: enqueued, started, progress, retried, completed, failed, cancelled (system backups, ' +
      "security scans, exports, blueprint deployments...). read:system for all; a tenant's read:tenants for that " +
      "tenant's. `id`: one task; `type`: one job definition (e.g. platform.system-backup).",
    args: { id: t.arg.id(), type: t.arg.string() },
    subscribe: (_root, args, ctx) =>
      subscribeTasks({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        id: args.id === null || args.id === undefined ? null : String(args.id),
        type: args.type ?? null,
      }),
    resolve: (envelope) => taskOfMessage(envelope.data),
  }),
);
