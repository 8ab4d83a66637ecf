import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp, paginationSchema } from '../schemas.js';

// nexus-core task management (platform): the platform's background jobs. The document's list has
// no paging; it is bounded here with the platform's one pagination (`page`, `limit` ≤ 100, and a
// `pagination` block beside `tasks`). `progress` is 0..1 as documented; `details` holds what the
// job itself reports (tenant, attempts, named steps), `result` a completed job's own answer.

const TaskFields = graphql(`
  fragment TaskFields on Task {
    id
    type
    status
    progress
    tenantId
    attempts
    createdAt
    startedAt
    completedAt
    estimatedCompletion
    error
    result
    cancelRequested
    steps {
      name
      status
      progress
    }
  }
`);

type TaskStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

function toTask(task: ResultOf<typeof TaskFields>) {
  return {
    id: task.id,
    type: task.type,
    status: task.status as TaskStatus,
    progress: task.progress,
    created_at: task.createdAt,
    started_at: task.startedAt,
    estimated_completion: task.estimatedCompletion,
    completed_at: task.completedAt,
    details: {
      tenant_id: task.tenantId,
      attempts: task.attempts,
      cancel_requested: task.cancelRequested,
      steps: task.steps.map((s) => ({
        name: s.name,
        status: s.status,
        ...(s.progress === null ? {} : { progress: s.progress }),
      })),
    },
    ...(task.status === 'completed' ? { result: task.result } : {}),
    ...(task.error === null ? {} : { error: task.error }),
  };
}

const taskSchema = z.object({
  id: z.string(),
  type: z.string().describe('The job definition, e.g. platform.system-backup, tenancy.backup-tenant'),
  status: z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']),
  progress: z.number().describe('0..1'),
  created_at: isoTimestamp,
  started_at: isoTimestamp.nullable(),
  estimated_completion: isoTimestamp
    .nullable()
    .describe('Running tasks: extrapolated from elapsed time and progress; null otherwise'),
  completed_at: isoTimestamp.nullable().describe('Finished tasks (completed, failed, cancelled)'),
  details: z.object({
    tenant_id: z.string().nullable(),
    attempts: z.number().int(),
    cancel_requested: z.boolean(),
    steps: z.array(z.object({ name: z.string(), status: z.string(), progress: z.number().optional() })),
  }),
  result: z.unknown().optional(),
  error: z.string().optional(),
});

const taskParams = z.object({ task_id: z.string().min(1).max(200) });

const list = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/tasks',
  summary: 'Background tasks, newest first (read:system; a tenant admin sees their tenant’s)',
  operation: graphql(
    `
      query Tasks($status: TaskStatus, $type: String, $page: Int, $limit: Int) {
        tasks(status: $status, type: $type, page: $page, limit: $limit) {
          tasks {
            ...TaskFields
          }
          pagination {
            page
            limit
            total
            pages
          }
        }
      }
    `,
    [TaskFields],
  ),
  input: {
    query: z.object({
      status: z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']).optional(),
      type: z.string().min(1).max(100).optional(),
      page: z.coerce.number().int().min(1).max(1_000_000).optional(),
      limit: z.coerce.number().int().min(1).max(100).optional(),
    }),
  },
  variables: ({ query }) => ({
    status: query.status ?? null,
    type: query.type ?? null,
    page: query.page ?? null,
    limit: query.limit ?? null,
  }),
  respond: (data) => ({
    tasks: data.tasks.tasks.map(toTask),
    pagination: data.tasks.pagination,
  }),
  response: z.object({ tasks: z.array(taskSchema), pagination: paginationSchema }),
});

const get = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/tasks/{task_id}',
  summary: 'One task with its steps and newest log lines',
  operation: graphql(
    `
      query Task($id: ID!) {
        task(id: $id) {
          ...TaskFields
          logs(limit: 100) {
            timestamp
            level
            message
          }
        }
      }
    `,
    [TaskFields],
  ),
  input: { params: taskParams },
  variables: ({ params }) => ({ id: params.task_id }),
  respond: (data) => ({
    ...toTask(data.task),
    logs: data.task.logs.map((l) => ({ timestamp: l.timestamp, level: l.level, message: l.message })),
  }),
  response: taskSchema.extend({
    logs: z.array(z.object({ timestamp: isoTimestamp, level: z.enum(['INFO', 'WARN', 'ERROR']), message: z.string() })),
  }),
});

const cancel = defineRoute({
  dialect: 'nexus-core',
  method: 'DELETE',
  path: '/api/v1/tasks/{task_id}',
  summary: 'Cancel a pending or running task (admin:services; a tenant admin for their tenant’s)',
  operation: graphql(`
    mutation CancelTask($id: ID!) {
      cancelTask(id: $id) {
        cancelledAt
        task {
          id
          status
        }
      }
    }
  `),
  input: { params: taskParams },
  variables: ({ params }) => ({ id: params.task_id }),
  respond: (data) => ({
    id: data.cancelTask.task.id,
    // A running task that has not stopped within a few seconds is still `cancelling`; one that
    // finished its work before it saw the request keeps its own outcome.
    status:
      data.cancelTask.cancelledAt !== null
        ? 'cancelled'
        : data.cancelTask.task.status === 'running' || data.cancelTask.task.status === 'pending'
          ? 'cancelling'
          : (data.cancelTask.task.status as 'completed' | 'failed'),
    cancelled_at: data.cancelTask.cancelledAt,
  }),
  response: z.object({
    id: z.string(),
    status: z.enum(['cancelled', 'cancelling', 'completed', 'failed']),
    cancelled_at: isoTimestamp.nullable(),
  }),
});

export const nexusCoreTaskRoutes = [list, get, cancel];
