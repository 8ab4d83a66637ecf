import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Logger } from '../../../../lib/logger.js';
import type { Principal } from '../../../../lib/principal.js';
import { publishTenancyProgress, type TenancyJobKind } from '../progress.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Tenant, TenantBackup, TenantOperation } from '../../../../prisma/generated/client.js';
import { inTenantDatabase } from '../tenants/tenant-databases.js';
import { loadTenantFor } from '../tenants/tenant-access.js';
import { readSchemaDump, restoreSchemaDump, writeSchemaDump, type DumpResult, type SqlSession } from './tenant-dump.js';
import { schemaGrantStatements } from '../tenants/tenant-roles.js';
import { assertSchemaName, quoteIdent } from '../sql/identifiers.js';
import { backupRelativePath, prepareStoredFile, resolveTenantBackupPath } from '../tenants/tenant-storage.js';

export type { TenantBackup, TenantOperation };

export const BACKUP_JOB = 'tenancy.backup-tenant';
export const RESTORE_JOB = 'tenancy.restore-tenant';

/** Progress reported while a job runs: the operation row (between phases) and the job itself. */
export type ProgressFn = (percent: number) => Promise<void>;

// ---------------------------------------------------------------------------------------------
// Backups

/** Queues a backup of the tenant's schema; the job writes the dump and completes the record. */
export async function requestTenantBackup({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
}): Promise<TenantBackup> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'admin:backup');
  if (tenant.status !== 'active' && tenant.status !== 'suspended') {
    throw new AppError('CONFLICT', `A ${tenant.status} tenant cannot be backed up`, { status: tenant.status });
  }
  const backup = await deps.db.prisma.tenantBackup.create({
    data: {
      id: newId('bak'),
      tenantId: tenant.id,
      status: 'pending',
      schemas: [tenant.schemaName],
      requestedBy: principal?.id ?? null,
    },
  });
  try {
    await deps.jobs.enqueue(BACKUP_JOB, { backupId: backup.id }, { jobId: `backup-${backup.id}`, tenantId: tenant.id });
  } catch (error) {
    await deps.db.prisma.tenantBackup.update({
      where: { id: backup.id },
      data: { status: 'failed', error: 'Could not queue the backup job' },
    });
    throw error;
  }
  return backup;
}

export async function listTenantBackups({
  deps,
  principal,
  tenantId,
  limit = 50,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
  limit?: number;
}): Promise<TenantBackup[]> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'admin:backup');
  const take = parseInput(z.number().int().min(1).max(500), limit);
  return deps.db.prisma.tenantBackup.findMany({
    where: { tenantId: tenant.id },
    orderBy: { createdAt: 'desc' },
    take,
  });
}

export async function getTenantBackup({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<TenantBackup> {
  const backup = await deps.db.prisma.tenantBackup.findUnique({ where: { id } });
  if (!backup) throw new AppError('NOT_FOUND', 'Backup not found', { backup_id: id });
  await loadTenantFor(deps, principal, backup.tenantId, 'admin:backup');
  return backup;
}

/** Dumps the tenant's schema (from whichever database holds it) into `relativePath` in storage. */
export async function dumpTenant(
  deps: SubgraphDeps,
  tenant: Tenant,
  relativePath: string,
  onProgress?: (fraction: number) => Promise<void>,
): Promise<DumpResult> {
  const file = await prepareStoredFile(deps, relativePath);
  // The migration history describes the schema: it travels with the dump and comes back with it.
  const applied = await deps.db.prisma.tenantAppliedMigration.findMany({
    where: { tenantId: tenant.id },
    orderBy: { version: 'asc' },
  });
  const metadata = {
    applied_migrations: applied.map((m) => ({
      version: m.version,
      name: m.name,
      checksum: m.checksum,
      execution_ms: m.executionMs,
      applied_at: m.appliedAt.toISOString(),
    })),
  };
  return inTenantDatabase(deps, tenant, (session) =>
    writeSchemaDump(session, { schema: tenant.schemaName, tenantId: tenant.id, file, metadata, onProgress }),
  );
}

const appliedMigrationsSchema = z.array(
  z.object({
    version: z.string(),
    name: z.string(),
    checksum: z.string(),
    execution_ms: z.number(),
    applied_at: z.string(),
  }),
);

/** Puts the tenant's applied-migration rows back as they were when the dump was taken. */
async function restoreMigrationHistory(
  deps: SubgraphDeps,
  tenantId: string,
  metadata: Record<string, unknown>,
): Promise<void> {
  const parsed = appliedMigrationsSchema.safeParse(metadata.applied_migrations);
  if (!parsed.success) return; // a dump without history leaves the current one
  await deps.db.prisma.$transaction([
    deps.db.prisma.tenantAppliedMigration.deleteMany({ where: { tenantId } }),
    deps.db.prisma.tenantAppliedMigration.createMany({
      data: parsed.data.map((m) => ({
        tenantId,
        version: m.version,
        name: m.name,
        checksum: m.checksum,
        executionMs: m.execution_ms,
        appliedAt: new Date(m.applied_at),
      })),
    }),
  ]);
}

/** The backup job's work: idempotent, a retry writes a new file over the same path. */
export async function runTenantBackup({
  deps,
  backupId,
  logger,
  progress,
}: {
  deps: SubgraphDeps;
  backupId: string;
  logger: Logger;
  progress: ProgressFn;
}): Promise<{ backupId: string; sizeBytes: number; tables: number; rows: number }> {
  const backup = await deps.db.prisma.tenantBackup.findUnique({ where: { id: backupId }, include: { tenant: true } });
  if (!backup) throw new AppError('NOT_FOUND', 'Backup not found', { backup_id: backupId });
  if (backup.status === 'completed') {
    return {
      backupId,
      sizeBytes: Number(backup.sizeBytes ?? 0),
      tables: backup.tables ?? 0,
      rows: Number(backup.rows),
    };
  }
  await deps.db.prisma.tenantBackup.update({ where: { id: backupId }, data: { status: 'running', error: null } });
  const live = (status: 'running' | 'completed' | 'failed', percent: number, error?: string) =>
    publishTenancyProgress(deps, {
      kind: 'backup',
      id: backupId,
      tenantId: backup.tenantId,
      projectId: backup.tenant.projectId,
      status,
      progress: percent,
      error,
    });
  await live('running', 0);
  const relativePath = backupRelativePath(backup.tenantId, `${backup.id}.sql`);
  try {
    const result = await dumpTenant(deps, backup.tenant, relativePath, async (fraction) => {
      await progress(Math.round(fraction * 95));
      await live('running', Math.round(fraction * 95));
    });
    await deps.db.prisma.tenantBackup.update({
      where: { id: backupId },
      data: {
        status: 'completed',
        storagePath: relativePath,
        sizeBytes: BigInt(result.sizeBytes),
        checksum: result.checksum,
        tables: result.tables,
        rows: BigInt(result.rows),
        schemas: [backup.tenant.schemaName],
        completedAt: new Date(),
      },
    });
    await progress(100);
    await live('completed', 100);
    logger.info(
      { backupId, tenantId: backup.tenantId, bytes: result.sizeBytes, rows: result.rows },
      'tenant backup written',
    );
    return { backupId, sizeBytes: result.sizeBytes, tables: result.tables, rows: result.rows };
  } catch (error) {
    await deps.db.prisma.tenantBackup.update({
      where: { id: backupId },
      data: { status: 'failed', error: describeError(error) },
    });
    await live('failed', 0, describeError(error));
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Rollback (restore)

const rollbackInput = z
  .object({
    /** `YYYY-MM-DD` (the whole day, UTC) or an ISO timestamp: the latest completed backup on or before it. */
    date: z
      .string()
      .trim()
      .refine((v) => !Number.isNaN(Date.parse(v)), 'must be a date (YYYY-MM-DD) or an ISO timestamp')
      .optional(),
    storagePath: z.string().trim().min(1).max(1000).optional(),
  })
  .refine((v) => (v.date === undefined) !== (v.storagePath === undefined), {
    message: 'Give exactly one of date or storage_path',
  });

/** The end of the given day (UTC) for a bare date; the instant itself for a timestamp. */
function upperBound(date: string): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(date)) return new Date(Date.parse(`${date}T00:00:00.000Z`) + 24 * 3600_000);
  return new Date(Date.parse(date) + 1);
}

/** A tenant runs one restore or isolation change at a time. */
async function assertNoOperationRunning(deps: SubgraphDeps, tenantId: string): Promise<void> {
  const running = await deps.db.prisma.tenantOperation.findFirst({
    where: { tenantId, status: { in: ['pending', 'running'] } },
  });
  if (running) {
    throw new AppError('CONFLICT', `The tenant already has a ${running.kind} operation in progress`, {
      operation_id: running.id,
    });
  }
}

/** Creates the operation row and queues its job; a failed enqueue fails the row. */
export async function startTenantOperation(
  deps: SubgraphDeps,
  data: {
    tenantId: string;
    kind: 'restore' | 'isolation_change';
    input: Record<string, unknown>;
    requestedBy: string | null;
  },
  job: string,
): Promise<TenantOperation> {
  await assertNoOperationRunning(deps, data.tenantId);
  const operation = await deps.db.prisma.tenantOperation.create({
    data: { id: newId('op'), status: 'pending', ...data, input: data.input as object },
  });
  try {
    const { jobId } = await deps.jobs.enqueue(
      job,
      { operationId: operation.id },
      { jobId: `${data.kind}-${operation.id}`, tenantId: data.tenantId },
    );
    return await deps.db.prisma.tenantOperation.update({ where: { id: operation.id }, data: { jobId } });
  } catch (error) {
    await deps.db.prisma.tenantOperation.update({
      where: { id: operation.id },
      data: { status: 'failed', error: 'Could not queue the job' },
    });
    throw error;
  }
}

/** Rolls the tenant back to a backup: a job restores it into a fresh schema and swaps it in. */
export async function requestTenantRollback({
  deps,
  principal,
  tenantId,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
  input: z.input<typeof rollbackInput>;
}): Promise<TenantOperation> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'admin:backup');
  const data = parseInput(rollbackInput, input);
  let backup: TenantBackup | null = null;
  let storagePath: string;
  if (data.date !== undefined) {
    backup = await deps.db.prisma.tenantBackup.findFirst({
      where: { tenantId: tenant.id, status: 'completed', createdAt: { lt: upperBound(data.date) } },
      orderBy: { createdAt: 'desc' },
    });
    if (!backup?.storagePath) {
      throw new AppError('NOT_FOUND', `No completed backup on or before ${data.date}`, { date: data.date });
    }
    storagePath = backup.storagePath;
  } else {
    storagePath = (await resolveTenantBackupPath(deps, tenant.id, data.storagePath!)).relative;
    // Only a file the platform wrote and recorded is replayed: its recorded checksum proves the
    // bytes are the catalog dump, since the replay runs with the platform's own privileges.
    backup = await deps.db.prisma.tenantBackup.findFirst({
      where: { tenantId: tenant.id, storagePath, status: 'completed' },
    });
    if (!backup) {
      throw new AppError('NOT_FOUND', 'No completed backup of this tenant is recorded at storage_path', {
        storage_path: data.storagePath,
      });
    }
  }
  return startTenantOperation(
    deps,
    {
      tenantId: tenant.id,
      kind: 'restore',
      input: { backup_id: backup.id, storage_path: storagePath },
      requestedBy: principal?.id ?? null,
    },
    RESTORE_JOB,
  );
}

export async function getTenantOperation({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<TenantOperation> {
  const operation = await deps.db.prisma.tenantOperation.findUnique({ where: { id } });
  if (!operation) throw new AppError('NOT_FOUND', 'Operation not found', { operation_id: id });
  await loadTenantFor(deps, principal, operation.tenantId, 'read:tenants');
  return operation;
}

/** Gives the tenant's role a swapped-in schema (the grants provisionTenantRole made belong to the old one). */
export async function grantTenantSchema(
  session: SqlSession,
  input: { role: string; schemaName: string },
): Promise<void> {
  for (const statement of schemaGrantStatements(input)) await session.execute(statement);
}

async function schemaExists(session: SqlSession, schema: string): Promise<boolean> {
  const [row] = await session.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1',
    schema,
  );
  return (row?.n ?? 0) > 0;
}

/**
 * Restores a dump as the tenant's schema without ever leaving it half-restored: the dump is loaded
 * and verified in a fresh schema (one transaction: a failure leaves nothing), then one more
 * transaction renames the live schema away, renames the fresh one in, re-grants the tenant's
 * role and drops the old one. Until that commits, the tenant sees its data as it was.
 */
export async function restoreIntoTenantSchema(
  deps: SubgraphDeps,
  tenant: Tenant,
  file: string,
  options: {
    /** The checksum recorded when the platform wrote the file: nothing else is replayed. */
    expectedChecksum: string;
    /** Between phases: the operation row and the job. */
    progress: ProgressFn;
    /** Inside the load transaction: the job only (a row update would wait on that transaction on PGlite). */
    liveProgress: ProgressFn;
    logger: Logger;
  },
): Promise<{ tables: number; rows: number }> {
  const dump = await readSchemaDump(file);
  if (options.expectedChecksum !== dump.checksum) {
    throw new AppError('VALIDATION_ERROR', 'Backup file does not match the checksum recorded when it was written');
  }
  if (dump.tenantId !== tenant.id) {
    throw new AppError('TENANT_MISMATCH', 'The backup belongs to another tenant');
  }
  await options.progress(15);
  const suffix = randomBytes(6).toString('hex');
  const fresh = `rst_${suffix}`;
  const old = `rso_${suffix}`;
  const live = tenant.schemaName;
  try {
    await inTenantDatabase(deps, tenant, (session) =>
      restoreSchemaDump(session, dump, {
        target: fresh,
        onProgress: (fraction) => options.liveProgress(15 + Math.round(fraction * 65)),
      }),
    );
    await options.progress(85);
    await inTenantDatabase(deps, tenant, async (session) => {
      if (await schemaExists(session, live)) {
        await session.execute(`ALTER SCHEMA ${quoteIdent(live)} RENAME TO ${quoteIdent(old)}`);
      }
      await session.execute(`ALTER SCHEMA ${quoteIdent(fresh)} RENAME TO ${quoteIdent(assertSchemaName(live))}`);
      if (tenant.dbRole) await grantTenantSchema(session, { role: tenant.dbRole, schemaName: live });
      await session.execute(`DROP SCHEMA IF EXISTS ${quoteIdent(old)} CASCADE`);
    });
    // After the swap (a separate transaction: at level 2 the history lives in another database).
    await restoreMigrationHistory(deps, tenant.id, dump.metadata).catch((error: unknown) =>
      options.logger.error({ err: error, tenantId: tenant.id }, 'could not restore the migration history'),
    );
  } catch (error) {
    // The fresh schema is committed once loaded; if verification or the swap failed, remove it.
    await inTenantDatabase(deps, tenant, (session) =>
      session.execute(`DROP SCHEMA IF EXISTS ${quoteIdent(fresh)} CASCADE`),
    ).catch((cleanupError: unknown) =>
      options.logger.error({ err: cleanupError, schema: fresh }, 'could not drop a failed restore schema'),
    );
    throw error;
  }
  return { tables: dump.stats.tables, rows: dump.stats.rows };
}

/** The rollback job's work. */
export async function runTenantRestore({
  deps,
  operationId,
  logger,
  reportProgress,
}: {
  deps: SubgraphDeps;
  operationId: string;
  logger: Logger;
  reportProgress: ProgressFn;
}): Promise<Record<string, unknown>> {
  return runOperation(deps, operationId, 'restore', reportProgress, async (operation, tenant, progress) => {
    const input = z.object({ backup_id: z.string(), storage_path: z.string() }).parse(operation.input);
    const backup = await deps.db.prisma.tenantBackup.findUnique({ where: { id: input.backup_id } });
    if (!backup?.checksum || backup.tenantId !== tenant.id) {
      throw new AppError('NOT_FOUND', 'The backup to restore is no longer recorded', { backup_id: input.backup_id });
    }
    const { absolute } = await resolveTenantBackupPath(deps, tenant.id, input.storage_path);
    await progress(10);
    const restored = await restoreIntoTenantSchema(deps, tenant, absolute, {
      expectedChecksum: backup.checksum,
      progress,
      liveProgress: reportProgress,
      logger,
    });
    logger.info({ operationId, tenantId: tenant.id, ...restored }, 'tenant restored from backup');
    return { backup_id: input.backup_id, storage_path: input.storage_path, ...restored };
  });
}

/**
 * Runs one tenant operation: marks it running, reports progress on the row (between phases: never
 * inside the data transactions, which on the embedded database would wait on each other) and on
 * the job, records the result or the error. Failures are final: an operation is not retried.
 */
export async function runOperation(
  deps: SubgraphDeps,
  operationId: string,
  kind: TenantOperation['kind'],
  reportProgress: ProgressFn,
  work: (operation: TenantOperation, tenant: Tenant, progress: ProgressFn) => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const operation = await deps.db.prisma.tenantOperation.findUnique({
    where: { id: operationId },
    include: { tenant: true },
  });
  if (!operation || operation.kind !== kind) {
    throw new AppError('NOT_FOUND', 'Operation not found', { operation_id: operationId });
  }
  if (operation.status === 'completed' || operation.status === 'failed')
    return operation.result as Record<string, unknown>;
  await deps.db.prisma.tenantOperation.update({ where: { id: operationId }, data: { status: 'running', progress: 1 } });
  const live = (status: 'running' | 'completed' | 'failed', percent: number, error?: string) =>
    publishTenancyProgress(deps, {
      kind: kind as TenancyJobKind,
      id: operationId,
      tenantId: operation.tenantId,
      projectId: operation.tenant.projectId,
      status,
      progress: percent,
      error,
    });
  await live('running', 1);
  const progress: ProgressFn = async (percent) => {
    await reportProgress(percent);
    await deps.db.prisma.tenantOperation.update({ where: { id: operationId }, data: { progress: percent } });
    await live('running', percent);
  };
  try {
    const result = await work(operation, operation.tenant, progress);
    await deps.db.prisma.tenantOperation.update({
      where: { id: operationId },
      data: { status: 'completed', progress: 100, result: result as object, completedAt: new Date() },
    });
    await reportProgress(100);
    await live('completed', 100);
    return result;
  } catch (error) {
    await deps.db.prisma.tenantOperation.update({
      where: { id: operationId },
      data: { status: 'failed', error: describeError(error), completedAt: new Date() },
    });
    await live('failed', operation.progress, describeError(error));
    throw error;
  }
}

/** What an operator needs to read in the row: an AppError's message, a database error's text. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 2000);
}
