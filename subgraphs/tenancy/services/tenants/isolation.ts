import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import type { Logger } from '../../../../lib/logger.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Tenant, TenantOperation } from '../../../../prisma/generated/client.js';
import {
  describeError,
  dumpTenant,
  grantTenantSchema,
  restoreIntoTenantSchema,
  runOperation,
  startTenantOperation,
  type ProgressFn,
} from '../operations/backups.js';
import { loadTenantFor } from './tenant-access.js';
import {
  databaseUrl,
  dedicatedServerUrl,
  dropDatabase,
  inClientTransaction,
  inTenantDatabase,
  withClient,
} from './tenant-databases.js';
import { prismaSession, readSchemaDump, restoreSchemaDump } from '../operations/tenant-dump.js';
import { assertRoleName, assertSchemaName, quoteIdent } from '../sql/identifiers.js';
import { backupRelativePath, prepareStoredFile } from './tenant-storage.js';
import { newId } from '../../../../lib/ids.js';

export const ISOLATION_JOB = 'tenancy.change-isolation';

const isolationInput = z.object({ isolationLevel: z.union([z.literal(1), z.literal(2)]) });

/** A dedicated database is named after the tenant's schema: unique, and already a safe identifier. */
export function dedicatedDatabaseName(tenant: Pick<Tenant, 'schemaName'>): string {
  return assertSchemaName(tenant.schemaName);
}

/**
 * Moves a tenant between isolation levels as a job with progress (tenant_operations kind
 * `isolation_change`): 1 → 2 copies its schema into a new dedicated database (CREATE DATABASE on
 * the platform's server or TENANT_DATABASE_URL); 2 → 1 copies it back and drops that database.
 */
export async function requestIsolationChange({
  deps,
  principal,
  tenantId,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId: string;
  input: z.input<typeof isolationInput>;
}): Promise<TenantOperation> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'write:tenants');
  const { isolationLevel } = parseInput(isolationInput, input);
  if (tenant.status !== 'active') {
    throw new AppError('CONFLICT', `A ${tenant.status} tenant cannot change isolation level`, {
      status: tenant.status,
    });
  }
  if (tenant.isolationLevel === isolationLevel) {
    throw new AppError('CONFLICT', `The tenant is already at isolation level ${isolationLevel}`, {
      isolation_level: isolationLevel,
    });
  }
  // Refused before anything is queued: the embedded default has no second database to give.
  dedicatedServerUrl(deps);
  // Marked before the job is queued: a fast job must not finish before the mark and be overwritten.
  if (isolationLevel === 2) {
    await deps.db.prisma.tenant.update({
      where: { id: tenant.id },
      data: { databaseName: dedicatedDatabaseName(tenant), databaseStatus: 'provisioning' },
    });
  }
  try {
    return await startTenantOperation(
      deps,
      {
        tenantId: tenant.id,
        kind: 'isolation_change',
        input: { from: tenant.isolationLevel, to: isolationLevel },
        requestedBy: principal?.id ?? null,
      },
      ISOLATION_JOB,
    );
  } catch (error) {
    if (isolationLevel === 2) {
      await deps.db.prisma.tenant.update({
        where: { id: tenant.id },
        data: { databaseName: tenant.databaseName, databaseStatus: tenant.databaseStatus },
      });
    }
    throw error;
  }
}

export async function runIsolationChange({
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
  return runOperation(deps, operationId, 'isolation_change', reportProgress, async (operation, tenant, progress) => {
    const { to } = z.object({ to: z.union([z.literal(1), z.literal(2)]) }).parse(operation.input);
    return to === 2
      ? moveToDedicated(deps, tenant, operationId, progress, reportProgress, logger)
      : moveToShared(deps, tenant, operationId, progress, reportProgress, logger);
  });
}

async function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  return withClient(serverUrl, async (client) => {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rows.length > 0;
  });
}

/** Level 1 → 2: a dump of the shared schema (kept as a backup) replayed into a new database. */
async function moveToDedicated(
  deps: SubgraphDeps,
  tenant: Tenant,
  operationId: string,
  progress: ProgressFn,
  liveProgress: ProgressFn,
  logger: Logger,
): Promise<Record<string, unknown>> {
  if (tenant.isolationLevel === 2) throw new AppError('CONFLICT', 'The tenant is already at isolation level 2');
  const serverUrl = dedicatedServerUrl(deps);
  const name = dedicatedDatabaseName(tenant);
  let created = false;
  let frozen = false;
  try {
    // A leftover from an earlier failed move holds no live data (the tenant is still at level 1).
    if (await databaseExists(serverUrl, name)) await dropDatabase(serverUrl, name);
    await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
    created = true;
    await progress(15);

    const backupId = newId('bak');
    const relativePath = backupRelativePath(tenant.id, `${backupId}.sql`);
    await freezeTenantWrites(deps, tenant);
    frozen = true;
    const dump = await dumpTenant(deps, tenant, relativePath, (f) => liveProgress(15 + Math.round(f * 35)));
    // The copy doubles as a backup taken just before the move: listed, and usable for a rollback.
    await deps.db.prisma.tenantBackup.create({
      data: {
        id: backupId,
        tenantId: tenant.id,
        status: 'completed',
        storagePath: relativePath,
        sizeBytes: BigInt(dump.sizeBytes),
        checksum: dump.checksum,
        tables: dump.tables,
        rows: BigInt(dump.rows),
        schemas: [tenant.schemaName],
        requestedBy: `operation:${operationId}`,
        completedAt: new Date(),
      },
    });
    await progress(50);

    const parsed = await readSchemaDump(await prepareStoredFile(deps, relativePath));
    await withClient(databaseUrl(serverUrl, name), async (client) => {
      await inClientTransaction(client, async (session) => {
        for (const extension of tenant.extensions) {
          await session.execute(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(extension)}`);
        }
        await restoreSchemaDump(session, parsed, {
          target: tenant.schemaName,
          onProgress: (f) => liveProgress(50 + Math.round(f * 40)),
        });
        if (tenant.dbRole) {
          const role = quoteIdent(assertRoleName(tenant.dbRole));
          await grantTenantSchema(session, { role: tenant.dbRole, schemaName: tenant.schemaName });
          await session.execute(`REVOKE ALL ON DATABASE ${quoteIdent(name)} FROM PUBLIC`);
          await session.execute(`GRANT CONNECT ON DATABASE ${quoteIdent(name)} TO ${role}`);
        }
      });
    });
    await progress(95);
    await deps.db.prisma.tenant.update({
      where: { id: tenant.id },
      data: { isolationLevel: 2, databaseName: name, databaseStatus: 'ready' },
    });
    created = false; // from here on the dedicated database is the tenant's live data
    frozen = false;
    await clearSharedSchema(deps, tenant).catch((error: unknown) =>
      logger.error({ err: error, tenantId: tenant.id }, 'could not clear the shared schema after the move'),
    );
    logger.info({ tenantId: tenant.id, database: name }, 'tenant moved to a dedicated database');
    return { isolation_level: 2, database_name: name, tables: dump.tables, rows: dump.rows, backup_id: backupId };
  } catch (error) {
    if (frozen) await thawTenantWrites(deps, tenant, logger);
    if (created) {
      await dropDatabase(serverUrl, name).catch((dropError: unknown) =>
        logger.error({ err: dropError, database: name }, 'could not drop a failed dedicated database'),
      );
    }
    await deps.db.prisma.tenant.update({
      where: { id: tenant.id },
      data: { databaseName: null, databaseStatus: 'ready' },
    });
    logger.warn({ tenantId: tenant.id, error: describeError(error) }, 'move to a dedicated database failed');
    throw error;
  }
}

/**
 * Writes made after the copy's snapshot would be lost by the move, so the tenant's role loses its
 * write privileges on the schema while the copy runs: its writes fail in PostgreSQL (permission
 * denied) instead of vanishing; reads go on. Undone by re-granting (thaw) if the move fails; on
 * success the schema the role writes to next is a new one, granted afresh.
 */
async function freezeTenantWrites(deps: SubgraphDeps, tenant: Tenant): Promise<void> {
  if (!tenant.dbRole) return;
  const schema = quoteIdent(assertSchemaName(tenant.schemaName));
  const role = quoteIdent(assertRoleName(tenant.dbRole));
  await inTenantDatabase(deps, tenant, async (session) => {
    await session.execute(`REVOKE CREATE ON SCHEMA ${schema} FROM ${role}`);
    await session.execute(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ${schema} FROM ${role}`);
  });
}

async function thawTenantWrites(deps: SubgraphDeps, tenant: Tenant, logger: Logger): Promise<void> {
  if (!tenant.dbRole) return;
  const role = tenant.dbRole;
  await inTenantDatabase(deps, tenant, (session) =>
    grantTenantSchema(session, { role, schemaName: tenant.schemaName }),
  ).catch((error: unknown) =>
    logger.error({ err: error, tenantId: tenant.id }, 'could not give the tenant its write privileges back'),
  );
}

/**
 * Once the dedicated database is live, the copy left in the shared cluster is stale: it is emptied
 * (the pre-move backup keeps it), so no query or backup can read old data by mistake. The empty
 * schema stays, with its grants, for the way back to level 1 and for hard deletion.
 */
async function clearSharedSchema(deps: SubgraphDeps, tenant: Tenant): Promise<void> {
  const schema = quoteIdent(assertSchemaName(tenant.schemaName));
  await deps.db.prisma.$transaction(async (tx) => {
    const session = prismaSession(tx);
    await session.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await session.execute(`CREATE SCHEMA ${schema}`);
    if (tenant.dbRole) await grantTenantSchema(session, { role: tenant.dbRole, schemaName: tenant.schemaName });
  });
}

/** Level 2 → 1: the dedicated database's schema swapped into the shared cluster, then the database dropped. */
async function moveToShared(
  deps: SubgraphDeps,
  tenant: Tenant,
  operationId: string,
  progress: ProgressFn,
  liveProgress: ProgressFn,
  logger: Logger,
): Promise<Record<string, unknown>> {
  if (tenant.isolationLevel !== 2 || !tenant.databaseName) {
    throw new AppError('CONFLICT', 'The tenant is not at isolation level 2');
  }
  const serverUrl = dedicatedServerUrl(deps);
  const dedicated = { ...tenant, databaseName: tenant.databaseName };
  await freezeTenantWrites(deps, dedicated);
  try {
    return await copyBackToShared(deps, dedicated, operationId, progress, liveProgress, logger, serverUrl);
  } catch (error) {
    await thawTenantWrites(deps, dedicated, logger);
    throw error;
  }
}

async function copyBackToShared(
  deps: SubgraphDeps,
  tenant: Tenant & { databaseName: string },
  operationId: string,
  progress: ProgressFn,
  liveProgress: ProgressFn,
  logger: Logger,
  serverUrl: string,
): Promise<Record<string, unknown>> {
  const backupId = newId('bak');
  const relativePath = backupRelativePath(tenant.id, `${backupId}.sql`);
  const dump = await dumpTenant(deps, tenant, relativePath, (f) => liveProgress(Math.round(f * 40)));
  await deps.db.prisma.tenantBackup.create({
    data: {
      id: backupId,
      tenantId: tenant.id,
      status: 'completed',
      storagePath: relativePath,
      sizeBytes: BigInt(dump.sizeBytes),
      checksum: dump.checksum,
      tables: dump.tables,
      rows: BigInt(dump.rows),
      schemas: [tenant.schemaName],
      requestedBy: `operation:${operationId}`,
      completedAt: new Date(),
    },
  });
  await progress(40);
  const shared = { ...tenant, isolationLevel: 1, databaseName: null };
  await restoreIntoTenantSchema(deps, shared, await prepareStoredFile(deps, relativePath), {
    expectedChecksum: dump.checksum,
    progress: (p) => progress(40 + Math.round(p * 0.5)),
    liveProgress: (p) => liveProgress(40 + Math.round(p * 0.5)),
    logger,
  });
  await deps.db.prisma.tenant.update({
    where: { id: tenant.id },
    data: { isolationLevel: 1, databaseName: null, databaseStatus: 'ready' },
  });
  await dropDatabase(serverUrl, tenant.databaseName).catch((error: unknown) =>
    logger.error({ err: error, database: tenant.databaseName }, 'could not drop the former dedicated database'),
  );
  return { isolation_level: 1, database_name: null, tables: dump.tables, rows: dump.rows, backup_id: backupId };
}
