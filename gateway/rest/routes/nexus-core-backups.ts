import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp, paginationSchema } from '../schemas.js';

// nexus-core backup and recovery (platform): the platform's own configuration and data, gzip and
// AES-256-GCM, in the object store. Creating and restoring run as tasks, so both answer 202 with
// the record to follow (`task_id` on GET /api/v1/tasks/{id}). `include` takes `configuration` and
// `database` (the document's `plugins` does not exist here: VALIDATION_ERROR). There is no download
// endpoint, so `download_url` is null.

const COMPONENTS = ['configuration', 'database'] as const;
const BackupFields = graphql(`
  fragment BackupFields on SystemBackup {
    id
    status
    type
    includes
    compression
    encrypted
    sizeBytes
    checksum
    contentChecksum
    tables
    taskId
    error
    createdAt
    completedAt
  }
`);

function sizeMb(bytes: number | null): number | null {
  return bytes === null ? null : Math.round((bytes / (1024 * 1024)) * 100) / 100;
}

function toBackup(b: ResultOf<typeof BackupFields>) {
  return {
    id: b.id,
    created_at: b.createdAt,
    completed_at: b.completedAt,
    size_mb: sizeMb(b.sizeBytes),
    size_bytes: b.sizeBytes,
    type: b.type,
    includes: b.includes,
    status: b.status,
    compression: b.compression,
    encrypted: b.encrypted,
    checksum: b.checksum,
    tables: b.tables as Record<string, number> | null,
    task_id: b.taskId,
    error: b.error,
  };
}

const backupSchema = z.object({
  id: z.string(),
  created_at: isoTimestamp,
  completed_at: isoTimestamp.nullable(),
  size_mb: z.number().nullable().describe('Of the stored (compressed, encrypted) archive; null until completed'),
  size_bytes: z.number().nullable(),
  type: z.string().describe('manual'),
  includes: z.array(z.string()),
  status: z.enum(['pending', 'running', 'completed', 'failed']),
  compression: z.string().nullable().describe('gzip, or null'),
  encrypted: z.boolean(),
  checksum: z.string().nullable().describe('sha256 of the stored archive'),
  tables: z.record(z.string(), z.number()).nullable().describe('Rows captured per platform table'),
  task_id: z.string().nullable(),
  error: z.string().nullable(),
});

const create = defineRoute({
  dialect: 'nexus-core',
  method: 'POST',
  path: '/api/v1/backup',
  summary: 'Back up the platform configuration and data (admin:backup); runs as a task',
  operation: graphql(
    `
      mutation CreateSystemBackup($include: [SystemBackupComponent!], $compression: Boolean, $encryption: Boolean) {
        createSystemBackup(include: $include, compression: $compression, encryption: $encryption) {
          ...BackupFields
        }
      }
    `,
    [BackupFields],
  ),
  input: {
    body: z
      .object({
        include: z.array(z.enum(COMPONENTS)).min(1).max(COMPONENTS.length).optional(),
        compression: z.boolean().optional(),
        encryption: z.boolean().optional(),
      })
      .strict(),
  },
  variables: ({ body }) => ({
    include: body.include ?? null,
    compression: body.compression ?? null,
    encryption: body.encryption ?? null,
  }),
  status: 202,
  respond: ({ createSystemBackup: b }) => ({
    backup_id: b.id,
    status: b.status,
    size_mb: sizeMb(b.sizeBytes),
    created_at: b.createdAt,
    includes: b.includes,
    compression: b.compression,
    encrypted: b.encrypted,
    task_id: b.taskId,
    download_url: null,
  }),
  response: z.object({
    backup_id: z.string(),
    status: z.enum(['pending', 'running', 'completed', 'failed']),
    size_mb: z.number().nullable().describe('Null until the task has stored the archive'),
    created_at: isoTimestamp,
    includes: z.array(z.string()),
    compression: z.string().nullable(),
    encrypted: z.boolean(),
    task_id: z.string().nullable().describe('Follow it at GET /api/v1/tasks/{task_id}'),
    download_url: z.null().describe('No download endpoint is served'),
  }),
});

const list = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/backup',
  summary: 'System backups, newest first (admin:backup)',
  operation: graphql(
    `
      query SystemBackups($page: Int, $limit: Int) {
        systemBackups(page: $page, limit: $limit) {
          backups {
            ...BackupFields
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
    [BackupFields],
  ),
  input: {
    query: z.object({
      page: z.coerce.number().int().min(1).max(1_000_000).optional(),
      limit: z.coerce.number().int().min(1).max(100).optional(),
    }),
  },
  variables: ({ query }) => ({ page: query.page ?? null, limit: query.limit ?? null }),
  respond: ({ systemBackups }) => ({
    backups: systemBackups.backups.map(toBackup),
    pagination: systemBackups.pagination,
  }),
  response: z.object({ backups: z.array(backupSchema), pagination: paginationSchema }),
});

const restore = defineRoute({
  dialect: 'nexus-core',
  method: 'POST',
  path: '/api/v1/backup/{backup_id}/restore',
  summary: 'Restore platform configuration and data from a backup (admin:backup, confirm: true); runs as a task',
  operation: graphql(`
    mutation RestoreSystemBackup($backupId: ID!, $components: [SystemBackupComponent!], $confirm: Boolean) {
      restoreSystemBackup(backupId: $backupId, components: $components, confirm: $confirm) {
        restore {
          id
          status
          components
          taskId
          createdAt
        }
        backup {
          id
          createdAt
          completedAt
        }
      }
    }
  `),
  input: {
    params: z.object({ backup_id: z.string().min(1).max(100) }),
    body: z
      .object({
        components: z.array(z.enum(COMPONENTS)).min(1).max(COMPONENTS.length).optional(),
        confirm: z.boolean().optional(),
      })
      .strict(),
  },
  variables: ({ params, body }) => ({
    backupId: params.backup_id,
    components: body.components ?? null,
    confirm: body.confirm ?? null,
  }),
  status: 202,
  respond: ({ restoreSystemBackup: { restore: r, backup: b } }) => ({
    restore_id: r.id,
    status: 'started' as const,
    backup_id: b.id,
    components: r.components,
    // What the backup itself took, measured: the closest real figure for reading it back.
    estimated_duration_ms: b.completedAt ? Date.parse(b.completedAt) - Date.parse(b.createdAt) : null,
    task_id: r.taskId,
  }),
  response: z.object({
    restore_id: z.string(),
    status: z.literal('started'),
    backup_id: z.string(),
    components: z.array(z.string()),
    estimated_duration_ms: z.number().nullable().describe('How long creating this backup took'),
    task_id: z.string().nullable().describe('Follow it at GET /api/v1/tasks/{task_id}'),
  }),
});

export const nexusCoreBackupRoutes = [create, list, restore];
