import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import { sha256Hex } from '../../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { BASELINE_MIGRATIONS, BASELINE_VERSION_CEILING } from '../../tenant-migrations/index.js';
import { parseSql } from '../sql/sql-guard.js';
import { tenantRoleTarget, usesTenantSessions, withTenantSession } from '../sql/tenant-session.js';
import { resolveSqlTenant, type SqlTenant } from '../sql/tenant-sql.js';
import { currentSearchPath, enterTenantContext, leaveTenantContext } from './tenant-roles.js';
import type { Tx } from '../sql/identifiers.js';

/**
 * Tenant schema migrations: the platform baseline (code) followed by the tenant's own registered
 * scripts, applied in version order. Each step runs in its own transaction as the tenant's role
 * (on PostgreSQL a session logged in as that role, tenant-session.ts) with its schema as the
 * search path, so a script can no more reach another tenant than a query can; the step's
 * bookkeeping row commits with it (see runInTenantSession), so history agrees with the schema.
 * The baseline at tenant creation is platform code and runs in the creation transaction.
 */

interface Migration {
  version: string;
  name: string;
  up: string;
  down: string | null;
  checksum: string;
  source: 'platform' | 'tenant';
}

export interface ExecutedMigration {
  version: string;
  name: string;
  execution_time_ms: number;
  status: 'success' | 'failed' | 'planned';
  error?: string;
}

export interface MigrationResult {
  migration_id: string;
  executed_migrations: ExecutedMigration[];
  total_execution_time_ms: number;
  schema_version: string | null;
  schema: string;
  dry_run: boolean;
  direction: 'up' | 'down';
}

/** statement_timeout of one migration step; Prisma's transaction around it gets 10 s more. */
const MIGRATION_TIMEOUT_MS = 110_000;

const VERSION = z.string().regex(/^\d{1,20}$/, 'digits only, 1 to 20 (e.g. 20251124000101)');

function compareVersions(a: string, b: string): number {
  const diff = BigInt(a) - BigInt(b);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

/** What a script's checksum covers: its up and down text, so an edited script is noticed. */
function checksumOf(up: string, down: string | null): string {
  return sha256Hex(`${up}\u0000${down ?? ''}`);
}

const BASELINE: Migration[] = BASELINE_MIGRATIONS.map((m) => ({
  ...m,
  checksum: checksumOf(m.up, m.down),
  source: 'platform',
}));

/** Runs one script's statements one by one (drivers take one statement per call) in the sandbox. */
async function runScript(tx: Tx, tenant: { role: string; schemaName: string }, sql: string): Promise<void> {
  const statements = await parseSql(sql);
  const previous = await currentSearchPath(tx);
  await enterTenantContext(tx, { role: tenant.role, schemaName: tenant.schemaName });
  for (const statement of statements) await tx.$executeRawUnsafe(statement.text);
  await leaveTenantContext(tx, previous);
}

/**
 * For tenant creation (I4-A): applies the platform baseline inside the creation transaction, so a
 * failure later in creation leaves no tables behind. The tenant row and its role must exist in
 * `tx` already (provisionTenantRole). Leaves the transaction's role and search path as it found them.
 */
export async function applyBaseline(
  tx: Tx,
  tenant: { id: string; schemaName: string; dbRole: string | null },
): Promise<{ migrationId: string; schemaVersion: string | null; applied: string[] }> {
  if (!tenant.dbRole) throw new AppError('INTERNAL_ERROR', 'Tenant has no database role yet', { tenant_id: tenant.id });
  const migrationId = newId('mig', 8);
  const done = new Set(
    (await tx.tenantAppliedMigration.findMany({ where: { tenantId: tenant.id }, select: { version: true } })).map(
      (row) => row.version,
    ),
  );
  const applied: string[] = [];
  for (const migration of BASELINE) {
    if (done.has(migration.version)) continue;
    const started = performance.now();
    await runScript(tx, { role: tenant.dbRole, schemaName: tenant.schemaName }, migration.up);
    const executionMs = round(performance.now() - started);
    await tx.tenantAppliedMigration.create({
      data: {
        tenantId: tenant.id,
        version: migration.version,
        name: migration.name,
        checksum: migration.checksum,
        executionMs,
      },
    });
    await tx.tenantMigrationRun.create({
      data: {
        id: newId('mrun'),
        migrationId,
        tenantId: tenant.id,
        schemaName: tenant.schemaName,
        version: migration.version,
        name: migration.name,
        direction: 'up',
        status: 'success',
        executionMs,
      },
    });
    applied.push(migration.version);
  }
  return { migrationId, schemaVersion: BASELINE.at(-1)?.version ?? null, applied };
}

const registerInput = z.object({
  tenantId: z.string().min(1).optional(),
  schema: z.string().min(1).optional(),
  version: VERSION.refine((v) => BigInt(v) >= BASELINE_VERSION_CEILING, {
    message: `versions below ${BASELINE_VERSION_CEILING} are reserved for the platform baseline`,
  }),
  name: z.string().trim().min(1).max(200),
  upSql: z.string().min(1).max(200_000),
  downSql: z.string().min(1).max(200_000).nullable().optional(),
});

export interface TenantMigrationScriptView {
  id: string;
  tenantId: string;
  version: string;
  name: string;
  checksum: string;
  createdAt: Date;
}

/**
 * Registers a tenant's own migration. The scripts are parsed now with the same rules as tenant
 * SQL (several statements allowed), so a script that could never run is refused at the door.
 * A version is immutable once registered; registering the same text again is a no-op.
 */
export async function registerTenantMigration({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof registerInput>;
}): Promise<TenantMigrationScriptView> {
  requireScope(principal, 'write:tenants');
  const data = parseInput(registerInput, input);
  const tenant = await resolveSqlTenant({ deps, principal, tenantId: data.tenantId, schema: data.schema });
  await parseSql(data.upSql);
  if (data.downSql) await parseSql(data.downSql);
  const checksum = checksumOf(data.upSql, data.downSql ?? null);
  const existing = await deps.db.prisma.tenantMigrationScript.findUnique({
    where: { tenantId_version: { tenantId: tenant.id, version: data.version } },
  });
  if (existing) {
    if (existing.checksum !== checksum) {
      throw new AppError('CONFLICT', 'This migration version is already registered with different SQL', {
        version: data.version,
      });
    }
    return existing;
  }
  return deps.db.prisma.tenantMigrationScript.create({
    data: {
      id: newId('tms'),
      tenantId: tenant.id,
      version: data.version,
      name: data.name,
      upSql: data.upSql,
      downSql: data.downSql ?? null,
      checksum,
    },
  });
}

const migrateInput = z.object({
  tenantId: z.string().min(1).optional(),
  schema: z.string().min(1).optional(),
  direction: z.enum(['up', 'down']).default('up'),
  version: VERSION.optional(),
  dryRun: z.boolean().default(false),
});

/**
 * `up`: applies every pending migration up to `version` (all when absent). `down`: rolls back the
 * applied ones above `version` (only the latest when absent), newest first. The platform baseline
 * is never rolled back through this API: the platform's own tables depend on it.
 * Stops at the first failure; the failed step's transaction is rolled back and reported.
 */
export async function migrateTenantSchema({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof migrateInput>;
}): Promise<MigrationResult> {
  requireScope(principal, 'write:tenants');
  const data = parseInput(migrateInput, input);
  const tenant = await resolveSqlTenant({ deps, principal, tenantId: data.tenantId, schema: data.schema });
  const migrationId = newId('mig', 8);
  const scripts = await deps.db.prisma.tenantMigrationScript.findMany({ where: { tenantId: tenant.id } });
  const all: Migration[] = [
    ...BASELINE,
    ...scripts.map((s) => ({
      version: s.version,
      name: s.name,
      up: s.upSql,
      down: s.downSql,
      checksum: s.checksum,
      source: 'tenant' as const,
    })),
  ].sort((a, b) => compareVersions(a.version, b.version));
  const appliedRows = await deps.db.prisma.tenantAppliedMigration.findMany({ where: { tenantId: tenant.id } });
  const applied = new Map(appliedRows.map((row) => [row.version, row]));

  // Checksums: a script edited after it was applied would make history lie about the schema.
  for (const migration of all) {
    const row = applied.get(migration.version);
    if (row && row.checksum !== migration.checksum) {
      throw new AppError('CONFLICT', 'An applied migration changed since it ran (checksum mismatch)', {
        version: migration.version,
        name: migration.name,
      });
    }
  }
  if (data.version && data.direction === 'up' && !all.some((m) => m.version === data.version)) {
    throw new AppError('NOT_FOUND', 'No migration with this version', { version: data.version });
  }

  let plan: Migration[];
  if (data.direction === 'up') {
    plan = all.filter(
      (m) => !applied.has(m.version) && (!data.version || compareVersions(m.version, data.version) <= 0),
    );
  } else {
    const appliedDesc = all.filter((m) => applied.has(m.version)).reverse();
    plan = data.version
      ? appliedDesc.filter((m) => compareVersions(m.version, data.version!) > 0)
      : appliedDesc.slice(0, 1);
    const platform = plan.find((m) => m.source === 'platform');
    if (platform) {
      throw new AppError('VALIDATION_ERROR', 'The platform baseline cannot be rolled back', {
        version: platform.version,
      });
    }
    const irreversible = plan.find((m) => !m.down);
    if (irreversible) {
      throw new AppError('VALIDATION_ERROR', 'This migration has no down script', { version: irreversible.version });
    }
  }

  const executed: ExecutedMigration[] = [];
  const startedAll = performance.now();
  for (const migration of plan) {
    if (data.dryRun) {
      executed.push({ version: migration.version, name: migration.name, execution_time_ms: 0, status: 'planned' });
      continue;
    }
    const started = performance.now();
    try {
      const script = data.direction === 'up' ? migration.up : migration.down!;
      /** The bookkeeping for this step, on the platform's database (`tx`: the same transaction). */
      const record = async (tx: Tx, executionMs: number) => {
        if (data.direction === 'up') {
          await tx.tenantAppliedMigration.create({
            data: {
              tenantId: tenant.id,
              version: migration.version,
              name: migration.name,
              checksum: migration.checksum,
              executionMs,
            },
          });
        } else {
          await tx.tenantAppliedMigration.delete({
            where: { tenantId_version: { tenantId: tenant.id, version: migration.version } },
          });
        }
        await tx.tenantMigrationRun.create({
          data: runRow(migrationId, tenant, migration, data.direction, 'success', executionMs, null, false),
        });
      };
      await deps.db.prisma.$transaction(
        async (tx) => {
          // Two migrate requests for one tenant at once: the second waits here, then sees the
          // step already done (or undone) and stops instead of running it twice.
          await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext($1))`, `tenant-migrate:${tenant.id}`);
          const current = await tx.tenantAppliedMigration.findUnique({
            where: { tenantId_version: { tenantId: tenant.id, version: migration.version } },
          });
          if ((current !== null) !== (data.direction === 'down')) {
            throw new AppError('CONFLICT', 'A concurrent migration already ran this step', {
              version: migration.version,
            });
          }
          if (tenant.databaseUrl === null && !usesTenantSessions(deps)) {
            // Embedded PGlite (one session): the script and its bookkeeping commit together.
            await runScript(tx, tenant, script);
            await record(tx, round(performance.now() - started));
            return;
          }
          await runInTenantSession(deps, tenant, script, () => record(tx, round(performance.now() - started)));
        },
        { timeout: MIGRATION_TIMEOUT_MS + 10_000, maxWait: 10_000 },
      );
      executed.push({
        version: migration.version,
        name: migration.name,
        execution_time_ms: round(performance.now() - started),
        status: 'success',
      });
    } catch (error) {
      const executionMs = round(performance.now() - started);
      const message = error instanceof AppError ? error.message : databaseMessage(error);
      // Recorded outside the rolled-back transaction, so the failure stays in the history.
      await deps.db.prisma.tenantMigrationRun.create({
        data: runRow(migrationId, tenant, migration, data.direction, 'failed', executionMs, message, false),
      });
      executed.push({
        version: migration.version,
        name: migration.name,
        execution_time_ms: executionMs,
        status: 'failed',
        error: message,
      });
      break;
    }
  }
  if (data.dryRun && plan.length > 0) {
    await deps.db.prisma.tenantMigrationRun.createMany({
      data: plan.map((m) => runRow(migrationId, tenant, m, data.direction, 'planned', null, null, true)),
    });
  }

  const nowApplied = await deps.db.prisma.tenantAppliedMigration.findMany({
    where: { tenantId: tenant.id },
    select: { version: true },
  });
  const schemaVersion =
    nowApplied
      .map((r) => r.version)
      .sort(compareVersions)
      .at(-1) ?? null;
  return {
    migration_id: migrationId,
    executed_migrations: executed,
    total_execution_time_ms: round(performance.now() - startedAll),
    schema_version: schemaVersion,
    schema: tenant.schemaName,
    dry_run: data.dryRun,
    direction: data.direction,
  };
}

/**
 * Real PostgreSQL: the script runs in a session of the tenant's own role (tenant-session.ts), its
 * bookkeeping in the platform's transaction. Two sessions cannot share a transaction: the
 * bookkeeping is written (not yet committed) before the script's transaction commits, so a script
 * that fails, or whose commit fails, rolls the bookkeeping back with it. Only a platform commit
 * failing after the script committed could leave history behind the schema.
 */
async function runInTenantSession(
  deps: SubgraphDeps,
  tenant: SqlTenant,
  sql: string,
  record: () => Promise<unknown>,
): Promise<void> {
  const statements = await parseSql(sql);
  await withTenantSession(
    deps,
    tenantRoleTarget(deps, tenant),
    { readOnly: false, timeoutMs: MIGRATION_TIMEOUT_MS },
    async (session) => {
      for (const statement of statements) await session.query(statement.text);
      await record();
    },
  );
}

function runRow(
  migrationId: string,
  tenant: SqlTenant,
  migration: Migration,
  direction: 'up' | 'down',
  status: 'success' | 'failed' | 'planned',
  executionMs: number | null,
  error: string | null,
  dryRun: boolean,
) {
  return {
    id: newId('mrun'),
    migrationId,
    tenantId: tenant.id,
    schemaName: tenant.schemaName,
    version: migration.version,
    name: migration.name,
    direction,
    dryRun,
    status,
    error,
    executionMs,
  };
}

/** The database's own message (e.g. permission denied for schema t_other), without driver noise. */
export function databaseMessage(error: unknown): string {
  const e = error as { message?: string; meta?: { driverAdapterError?: { cause?: { message?: string } } } };
  const cause = e.meta?.driverAdapterError?.cause?.message;
  const message = cause ?? e.message ?? 'migration failed';
  // Prisma wraps raw-query failures as "Raw query failed. Code: `42501`. Message: `…`".
  const wrapped = /Message: `([\s\S]*)`/.exec(message)?.[1];
  return (wrapped ?? message).split('\n').at(-1)!.slice(0, 500);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
