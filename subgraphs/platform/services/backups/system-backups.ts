import type { Readable } from 'node:stream';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Logger } from '../../../../lib/logger.js';
import { paginationOf, pageInput, pageWindow, type Pagination } from '../../../../lib/pagination.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { JobContext } from '../../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { SystemBackup, SystemRestore } from '../../../../prisma/generated/client.js';
import { MAX_ARCHIVE_BYTES, packArchive, sha256, unpackArchive } from './archive.js';

export type { SystemBackup, SystemRestore };

/**
 * System backups: the platform subgraph's own tables (schema `platform`: configuration, incidents,
 * maintenance, scans, and whatever platform tables exist when the backup runs), packed as JSON,
 * gzip-compressed and AES-256-GCM encrypted (archive.ts), kept in the platform object store
 * (deps.blobs). A restore verifies both checksums, then replaces the chosen components' tables in
 * one transaction and checks every table's row count before committing: all or nothing.
 * Other subgraphs' data is theirs to back up (tenant backups live in tenancy).
 */

export const BACKUP_COMPONENTS = ['configuration', 'database'] as const;
export type BackupComponent = (typeof BACKUP_COMPONENTS)[number];

export const SYSTEM_BACKUP_JOB = 'platform.system-backup';
export const SYSTEM_RESTORE_JOB = 'platform.system-restore';

const SCHEMA = 'platform';
/** The backups' own bookkeeping: never captured, never replaced (a restore must not erase its own record). */
const EXCLUDED_TABLES = new Set(['system_backups', 'system_restores']);
/** Tables holding configuration, by name; every other platform table is "database". */
const CONFIGURATION_TABLE = /^(config|setting|secret|feature)/;

const ARCHIVE_FORMAT = 'platform-system-backup';
const ARCHIVE_VERSION = 1;

interface ArchiveTable {
  component: BackupComponent;
  rows: unknown[];
}

interface Archive {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  createdAt: string;
  platformVersion: string;
  includes: BackupComponent[];
  /** The running configuration that lives outside the database (informational; env-bound, not restored). */
  runtime?: Record<string, unknown>;
  tables: Record<string, ArchiveTable>;
}

function componentOf(table: string): BackupComponent {
  return CONFIGURATION_TABLE.test(table) ? 'configuration' : 'database';
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function platformTables(deps: SubgraphDeps): Promise<string[]> {
  const rows = await deps.db.prisma.$queryRawUnsafe<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    SCHEMA,
  );
  return rows.map((r) => r.table_name).filter((name) => !EXCLUDED_TABLES.has(name));
}

function blobKeyOf(id: string): string {
  return `system-backups/${id}.psb`;
}

const createInput = z.object({
  include: z
    .array(z.enum(BACKUP_COMPONENTS, { message: `include lists ${BACKUP_COMPONENTS.join(' and ')}` }))
    .min(1)
    .max(BACKUP_COMPONENTS.length)
    .nullish(),
  compression: z.boolean().nullish(),
  encryption: z.boolean().nullish(),
});

export async function createSystemBackup(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof createInput>;
}): Promise<SystemBackup> {
  const principal = requireScope(options.principal, 'admin:backup');
  const input = parseInput(createInput, options.input);
  const { deps } = options;
  const id = newId('backup');
  const backup = await deps.db.prisma.systemBackup.create({
    data: {
      id,
      includes: [...new Set(input.include ?? BACKUP_COMPONENTS)],
      compression: input.compression === false ? null : 'gzip',
      encrypted: input.encryption !== false,
      jobId: `system-backup-${id}`,
      createdBy: principal.id,
    },
  });
  try {
    await deps.jobs.enqueue(SYSTEM_BACKUP_JOB, { backupId: id }, { jobId: backup.jobId! });
  } catch (error) {
    await deps.db.prisma.systemBackup.update({ where: { id }, data: { status: 'failed', error: 'Could not queue' } });
    throw error;
  }
  return backup;
}

type Progress = Pick<JobContext, 'updateProgress' | 'log' | 'signal'>;

function stepsReporter(names: string[], progress: Progress) {
  const status = Object.fromEntries(names.map((n) => [n, 'pending'])) as Record<string, string>;
  return async (name: string, state: 'running' | 'completed') => {
    status[name] = state;
    const done = names.filter((n) => status[n] === 'completed').length;
    await progress.updateProgress({
      percent: Math.round((done / names.length) * 100),
      steps: names.map((n) => ({ name: n, status: status[n] })),
    });
    if (state === 'running') await progress.log(`${name} started`);
  };
}

/** The job: captures the tables, packs, stores, re-reads and verifies. Idempotent per backup id. */
export async function runSystemBackup(options: {
  deps: SubgraphDeps;
  backupId: string;
  logger: Logger;
  progress: Progress;
}): Promise<{ backupId: string; sizeBytes: number; checksum: string; tables: Record<string, number> }> {
  const { deps, backupId, progress } = options;
  const backup = await deps.db.prisma.systemBackup.findUnique({ where: { id: backupId } });
  if (!backup) throw new AppError('NOT_FOUND', 'Backup not found', { backup_id: backupId });
  if (backup.status === 'completed') {
    return {
      backupId,
      sizeBytes: Number(backup.sizeBytes ?? 0),
      checksum: backup.checksum ?? '',
      tables: (backup.tables ?? {}) as Record<string, number>,
    };
  }
  const step = stepsReporter(['collect', 'compress_encrypt', 'store', 'verify'], progress);
  await deps.db.prisma.systemBackup.update({ where: { id: backupId }, data: { status: 'running', error: null } });
  try {
    await step('collect', 'running');
    const includes = backup.includes as BackupComponent[];
    const archive: Archive = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      createdAt: new Date().toISOString(),
      platformVersion: deps.version,
      includes,
      tables: {},
    };
    if (includes.includes('configuration')) {
      archive.runtime = {
        environment: deps.environment,
        database: deps.db.kind,
        kv: deps.kv.kind,
        jobs: deps.jobs.kind,
        blobs: deps.blobs.backend,
        smtp_configured: deps.mailer !== undefined,
        stripe_configured: deps.stripe !== undefined,
      };
    }
    const counts: Record<string, number> = {};
    let bytes = 0;
    for (const table of await platformTables(deps)) {
      const component = componentOf(table);
      if (!includes.includes(component)) continue;
      progress.signal.throwIfAborted();
      const [row] = await deps.db.prisma.$queryRawUnsafe<{ rows: string }[]>(
        `SELECT coalesce(json_agg(t), '[]'::json)::text AS rows FROM ${quoteIdent(SCHEMA)}.${quoteIdent(table)} t`,
      );
      const text = row?.rows ?? '[]';
      bytes += text.length;
      if (bytes > MAX_ARCHIVE_BYTES) {
        throw new AppError('PAYLOAD_TOO_LARGE', `Platform data exceeds the backup limit of ${MAX_ARCHIVE_BYTES} bytes`);
      }
      const rows = JSON.parse(text) as unknown[];
      archive.tables[table] = { component, rows };
      counts[table] = rows.length;
    }
    await step('collect', 'completed');
    await progress.log(
      `captured ${Object.keys(counts).length} tables, ${Object.values(counts).reduce((a, b) => a + b, 0)} rows`,
    );

    await step('compress_encrypt', 'running');
    const plain = Buffer.from(JSON.stringify(archive), 'utf8');
    const contentChecksum = sha256(plain);
    const packed = await packArchive(plain, {
      compress: backup.compression === 'gzip',
      encrypt: backup.encrypted,
      secretBox: deps.secretBox,
    });
    await step('compress_encrypt', 'completed');

    progress.signal.throwIfAborted();
    await step('store', 'running');
    const key = blobKeyOf(backupId);
    const stored = await deps.blobs.put(key, packed);
    await step('store', 'completed');

    await step('verify', 'running');
    const reread = await readBlob(deps, key);
    if (sha256(reread) !== stored.sha256 || sha256(await unpackArchive(reread, deps.secretBox)) !== contentChecksum) {
      throw new Error('The stored backup does not read back as written');
    }
    await step('verify', 'completed');

    await deps.db.prisma.systemBackup.update({
      where: { id: backupId },
      data: {
        status: 'completed',
        storageKey: key,
        sizeBytes: BigInt(stored.size),
        checksum: stored.sha256,
        contentChecksum,
        tables: counts,
        completedAt: new Date(),
      },
    });
    await progress.log(`stored ${stored.size} bytes, sha256 ${stored.sha256}`);
    return { backupId, sizeBytes: stored.size, checksum: stored.sha256, tables: counts };
  } catch (error) {
    const message = progress.signal.aborted ? 'cancelled' : error instanceof Error ? error.message : String(error);
    await deps.db.prisma.systemBackup.update({ where: { id: backupId }, data: { status: 'failed', error: message } });
    await progress.log(`backup failed: ${message}`, 'ERROR');
    throw error;
  }
}

async function readBlob(deps: SubgraphDeps, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of (await deps.blobs.get(key)) as Readable) {
    size += (chunk as Buffer).length;
    if (size > MAX_ARCHIVE_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'The stored backup is over the size limit');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const listInput = z.object({ ...pageInput({ defaultLimit: 20, maxLimit: 100 }) });

export async function listSystemBackups(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: { page?: number | null; limit?: number | null };
}): Promise<{ backups: SystemBackup[]; pagination: Pagination }> {
  requireScope(options.principal, 'admin:backup');
  const input = parseInput(listInput, options.input);
  const [backups, total] = await Promise.all([
    options.deps.db.prisma.systemBackup.findMany({
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      ...pageWindow(input),
    }),
    options.deps.db.prisma.systemBackup.count(),
  ]);
  return { backups, pagination: paginationOf(input, total) };
}

export async function getSystemBackup(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<SystemBackup> {
  requireScope(options.principal, 'admin:backup');
  const backup = await options.deps.db.prisma.systemBackup.findUnique({ where: { id: options.id.slice(0, 100) } });
  if (!backup) throw new AppError('NOT_FOUND', 'Backup not found', { backup_id: options.id.slice(0, 100) });
  return backup;
}

const restoreInput = z.object({
  backupId: z.string().min(1).max(100),
  components: z.array(z.enum(BACKUP_COMPONENTS)).min(1).max(BACKUP_COMPONENTS.length).nullish(),
  confirm: z.literal(true, { message: 'confirm must be true: a restore replaces the platform’s current data' }),
});

export async function restoreSystemBackup(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof restoreInput> | { backupId: string; components?: string[] | null; confirm?: boolean | null };
}): Promise<{ restore: SystemRestore; backup: SystemBackup }> {
  const principal = requireScope(options.principal, 'admin:backup');
  const input = parseInput(restoreInput, options.input);
  const { deps } = options;
  const backup = await deps.db.prisma.systemBackup.findUnique({ where: { id: input.backupId } });
  if (!backup) throw new AppError('NOT_FOUND', 'Backup not found', { backup_id: input.backupId });
  if (backup.status !== 'completed') {
    throw new AppError('CONFLICT', `Backup is ${backup.status}, not completed`, { backup_id: backup.id });
  }
  const components = [...new Set(input.components ?? (backup.includes as BackupComponent[]))];
  const missing = components.filter((c) => !backup.includes.includes(c));
  if (missing.length > 0) {
    throw new AppError('VALIDATION_ERROR', `The backup does not include ${missing.join(', ')}`, {
      includes: backup.includes,
    });
  }
  const id = newId('restore');
  const restore = await deps.db.prisma.systemRestore.create({
    data: { id, backupId: backup.id, components, jobId: `system-restore-${id}`, createdBy: principal.id },
  });
  await deps.jobs.enqueue(SYSTEM_RESTORE_JOB, { restoreId: id }, { jobId: restore.jobId! });
  return { restore, backup };
}

/** The job: verify, then replace the components' tables in one transaction. */
export async function runSystemRestore(options: {
  deps: SubgraphDeps;
  restoreId: string;
  logger: Logger;
  progress: Progress;
}): Promise<{ restoreId: string; tables: Record<string, number> }> {
  const { deps, restoreId, progress } = options;
  const restore = await deps.db.prisma.systemRestore.findUnique({ where: { id: restoreId } });
  if (!restore) throw new AppError('NOT_FOUND', 'Restore not found', { restore_id: restoreId });
  if (restore.status === 'completed') return { restoreId, tables: (restore.tables ?? {}) as Record<string, number> };
  const backup = await deps.db.prisma.systemBackup.findUnique({ where: { id: restore.backupId } });
  const step = stepsReporter(['verify', 'restore'], progress);
  await deps.db.prisma.systemRestore.update({ where: { id: restoreId }, data: { status: 'running', error: null } });
  try {
    if (!backup?.storageKey || !backup.checksum || !backup.contentChecksum) {
      throw new AppError('NOT_FOUND', 'The backup has no stored archive', { backup_id: restore.backupId });
    }
    await step('verify', 'running');
    const stored = await readBlob(deps, backup.storageKey);
    if (sha256(stored) !== backup.checksum) {
      throw new AppError('VALIDATION_ERROR', 'Checksum mismatch: the stored backup was altered or damaged');
    }
    const plain = await unpackArchive(stored, deps.secretBox);
    if (sha256(plain) !== backup.contentChecksum) {
      throw new AppError('VALIDATION_ERROR', 'Checksum mismatch: the backup content does not match its record');
    }
    const archive = JSON.parse(plain.toString('utf8')) as Archive;
    if (archive.format !== ARCHIVE_FORMAT || archive.version !== ARCHIVE_VERSION) {
      throw new AppError('VALIDATION_ERROR', 'Unknown backup format');
    }
    await step('verify', 'completed');
    progress.signal.throwIfAborted();

    await step('restore', 'running');
    const components = restore.components as BackupComponent[];
    const existing = new Set(await platformTables(deps));
    const targets = Object.entries(archive.tables).filter(([, t]) => components.includes(t.component));
    const unknown = targets.filter(([name]) => !existing.has(name)).map(([name]) => name);
    if (unknown.length > 0) {
      throw new AppError(
        'VALIDATION_ERROR',
        `The backup holds tables this platform does not have: ${unknown.join(', ')}`,
      );
    }
    const counts: Record<string, number> = {};
    await deps.db.prisma.$transaction(
      async (tx) => {
        for (const [name, table] of targets) {
          const qualified = `${quoteIdent(SCHEMA)}.${quoteIdent(name)}`;
          await tx.$executeRawUnsafe(`DELETE FROM ${qualified}`);
          if (table.rows.length > 0) {
            await tx.$executeRawUnsafe(
              `INSERT INTO ${qualified} SELECT * FROM json_populate_recordset(NULL::${qualified}, $1::json)`,
              JSON.stringify(table.rows),
            );
          }
          const [row] = await tx.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${qualified}`);
          if (row?.n !== table.rows.length) {
            throw new Error(`Row count check failed for ${name}: ${row?.n} instead of ${table.rows.length}`);
          }
          counts[name] = table.rows.length;
        }
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    await step('restore', 'completed');
    await deps.db.prisma.systemRestore.update({
      where: { id: restoreId },
      data: { status: 'completed', tables: counts, completedAt: new Date() },
    });
    await progress.log(`restored ${targets.length} tables from ${backup.id}`);
    return { restoreId, tables: counts };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await deps.db.prisma.systemRestore.update({ where: { id: restoreId }, data: { status: 'failed', error: message } });
    await progress.log(`restore failed, nothing changed: ${message}`, 'ERROR');
    throw error;
  }
}

export async function getSystemRestore(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<SystemRestore> {
  requireScope(options.principal, 'admin:backup');
  const restore = await options.deps.db.prisma.systemRestore.findUnique({ where: { id: options.id.slice(0, 100) } });
  if (!restore) throw new AppError('NOT_FOUND', 'Restore not found', { restore_id: options.id.slice(0, 100) });
  return restore;
}
