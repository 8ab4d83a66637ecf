import pg from 'pg';
import { z } from 'zod';
import { getDriverHandle, type Database } from '../../../../lib/db.js';
import type { PgliteWorkerClient, PgliteWorkerTransaction } from '../../../../lib/pglite-worker-client.js';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { assertTenantAccess, requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { parseSingleStatement, type ParsedStatement } from './sql-guard.js';
import { databaseUrl, dedicatedServerUrl } from '../tenants/tenant-databases.js';
import { assertRoleName, assertSchemaName, quoteIdent } from './identifiers.js';
import { findTenant } from '../tenants/tenant-access.js';
import { blueprintSqlTarget, tenantIdsWithBlueprint } from '../blueprints/tenant-databases-blueprint.js';
import { tenantRoleTarget, usesTenantSessions, withTenantSession } from './tenant-session.js';

/**
 * Tenant SQL: one parsed statement, run in a transaction that is sandboxed by the database
 * itself. On real PostgreSQL the session is logged in as the tenant's own unprivileged role
 * (tenant-session.ts: no identity to step back to); on the embedded PGlite, which has one session,
 * `SET LOCAL ROLE <tenant role>`. Both: the tenant's schema first on the search path, `READ ONLY`
 * when asked, and `SET LOCAL statement_timeout`.
 *
 * It goes to the driver directly rather than through Prisma, because the documented answer
 * gives rows as arrays with their column names (Prisma returns objects, which lose duplicate
 * column names and re-type values) and because the row cap needs a cursor.
 */

/** The most rows an answer carries; `truncated: true` says more were there. */
export const MAX_ROWS = 1000;
export const DEFAULT_TIMEOUT_MS = 5000;
export const MAX_TIMEOUT_MS = 30_000;
/** At or above this a query is flagged slow in the query logs. */
export const SLOW_QUERY_MS = 1000;
/** Statement text kept in query logs; parameters are never stored (they may hold personal data). */
const LOGGED_STATEMENT_MAX = 2000;

export interface SqlTenant {
  id: string;
  slug: string;
  projectId: string | null;
  schemaName: string;
  role: string;
  /** Isolation level 2: the tenant's dedicated database. null: the platform's own database. */
  databaseUrl: string | null;
  /**
   * Set when `role` is a LOGIN role with a password of its own (a database from a blueprint,
   * whose connection string the owner holds): sealed. A session logging in as the role must use
   * this one and never set another.
   */
  sealedPassword?: string;
}

export interface TenantQueryResult {
  query_id: string;
  execution_time_ms: number;
  row_count: number;
  rows: unknown[][];
  columns: string[];
  schema: string;
  /** More rows than MAX_ROWS existed; only the first MAX_ROWS are returned. */
  truncated: boolean;
  /**
   * true on both backends: PostgreSQL's statement_timeout, or on the embedded PGlite the worker
   * thread that runs it being stopped at the deadline (lib/pglite-worker-client.ts).
   */
  timeout_enforced: boolean;
  tenant_id: string;
}

/**
 * The tenant a SQL request acts on, decided from the principal: a tenant-bound caller gets its
 * own tenant (and TENANT_MISMATCH for any other, existing or not, so schemas cannot be probed);
 * others name it by schema (core-platform) or id/slug (tenantsdb) and must be allowed to see it.
 */
export async function resolveSqlTenant({
  deps,
  principal,
  tenantId,
  schema,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId?: string | null | undefined;
  schema?: string | null | undefined;
}): Promise<SqlTenant> {
  let tenant;
  if (schema) {
    tenant = await deps.db.prisma.tenant.findFirst({
      where: { OR: [{ schemaName: schema }, { slug: schema }], status: { not: 'deleted' } },
      orderBy: { createdAt: 'asc' },
    });
  } else if (tenantId) {
    tenant = await findTenant(deps, tenantId);
  } else if (principal.tenantId !== null) {
    tenant = await deps.db.prisma.tenant.findUnique({ where: { id: principal.tenantId } });
  } else {
    throw new AppError('VALIDATION_ERROR', 'schema (or tenant_id) is required for a caller not bound to a tenant');
  }
  const named = schema ?? tenantId;
  if (!tenant || tenant.status === 'deleted') {
    if (principal.tenantId !== null) {
      throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { schema: named });
    }
    throw new AppError('NOT_FOUND', 'Tenant not found', { schema: named });
  }
  assertTenantAccess(principal, tenant);
  return sqlTenantOf(deps, tenant);
}

/** Checks that the tenant can take SQL now and says where its data lives. */
export function sqlTenantOf(
  deps: SubgraphDeps,
  tenant: {
    id: string;
    slug: string;
    projectId: string | null;
    schemaName: string;
    dbRole: string | null;
    status: string;
    isolationLevel: number;
    databaseName: string | null;
    databaseStatus: string;
  },
): SqlTenant {
  if (tenant.status === 'suspended') {
    throw new AppError('TENANT_SUSPENDED', 'Tenant is suspended', { tenant_id: tenant.id });
  }
  if (tenant.status !== 'active') {
    throw new AppError('CONFLICT', `Tenant is ${tenant.status}`, { tenant_id: tenant.id, status: tenant.status });
  }
  if (!tenant.dbRole) {
    throw new AppError('CONFLICT', 'Tenant has no database role: it was not provisioned for tenant SQL', {
      tenant_id: tenant.id,
    });
  }
  let url: string | null = null;
  if (tenant.isolationLevel === 2) {
    if (!tenant.databaseName || tenant.databaseStatus !== 'ready') {
      throw new AppError('SERVICE_UNAVAILABLE', 'The tenant’s dedicated database is not ready', {
        tenant_id: tenant.id,
        database_status: tenant.databaseStatus,
      });
    }
    // Same server credentials, the tenant's own database; the role sandbox applies there too.
    url = databaseUrl(dedicatedServerUrl(deps), tenant.databaseName);
  }
  return {
    id: tenant.id,
    slug: tenant.slug,
    projectId: tenant.projectId,
    schemaName: tenant.schemaName,
    role: tenant.dbRole,
    databaseUrl: url,
  };
}

// ---------------------------------------------------------------------------------------------
// The sandboxed executor

interface SandboxOptions {
  role: string;
  schemaName: string;
  readOnly: boolean;
  timeoutMs: number;
}

interface RawResult {
  columns: string[];
  rows: unknown[][];
  rowCount: number;
  truncated: boolean;
  durationMs: number;
}

/** What the executor needs from a driver session inside an open transaction. */
export interface Session {
  query(sql: string, params?: unknown[]): Promise<{ columns: string[]; rows: unknown[][]; rowCount: number }>;
}

/** bigint as a JSON number when exact (COUNT(*) reads as 1234, as documented), else a string. */
function parseInt8(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

const pools = new Map<string, pg.Pool>();

/**
 * A small pool of its own for tenant SQL on PostgreSQL: Prisma's pool hides the driver. It lets
 * the process exit when idle, so it needs no shutdown hook.
 */
function tenantPool(connectionString: string, max: number): pg.Pool {
  let pool = pools.get(connectionString);
  if (!pool) {
    pool = new pg.Pool({
      connectionString,
      max,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      connectionTimeoutMillis: 5_000,
    });
    pool.on('error', () => undefined);
    pools.set(connectionString, pool);
  }
  return pool;
}

const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * One transaction on the tenant's database: its dedicated one (level 2) when `url` is set, else
 * the platform's own (a pool of our own on PostgreSQL, the one instance on PGlite).
 * `timeoutMs` is for PGlite, which ignores statement_timeout: past it the transaction is cut
 * (PostgreSQL callers set statement_timeout in the transaction, as the server enforces it).
 */
export async function withSession<T>(
  db: Database,
  url: string | null,
  fn: (session: Session) => Promise<T>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const handle = getDriverHandle(db);
  const connectionString = url ?? (handle.kind === 'postgres' ? handle.connectionString : null);
  if (connectionString !== null) {
    const client = await tenantPool(connectionString, db.poolStats()?.max ?? 4).connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const session: Session = {
        query: async (sql, params = []) => {
          const result = await client.query({ text: sql, values: params, rowMode: 'array', types: PG_TYPES });
          return {
            columns: (result.fields ?? []).map((f) => f.name),
            rows: (result.rows ?? []) as unknown[][],
            rowCount: result.rowCount ?? result.rows?.length ?? 0,
          };
        },
      };
      const value = await fn(session);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
  if (handle.kind !== 'pglite') throw new Error('unreachable: a postgres handle always has a connection string');
  return pgliteTransaction(handle.pglite, fn, options.timeoutMs);
}

function pgliteTransaction<T>(
  pglite: PgliteWorkerClient,
  fn: (session: Session) => Promise<T>,
  timeoutMs: number | undefined,
): Promise<T> {
  // transaction() takes the instance's lock, so Prisma's queries wait instead of interleaving.
  return pglite.transaction(async (tx: PgliteWorkerTransaction) => {
    // One deadline for the whole transaction (the tenant's statement and its cursor fetches): a
    // statement still running then is cut by stopping the worker, which answers SQLSTATE 57014.
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    const session: Session = {
      query: async (sql, params = []) => {
        const result = await tx.query<unknown[]>(sql, params, {
          rowMode: 'array',
          parsers: { 20: (value: string) => parseInt8(value) },
          ...(deadline === undefined ? {} : { timeoutMs: Math.max(1, Math.ceil(deadline - performance.now())) }),
        });
        return {
          columns: result.fields.map((f) => f.name),
          rows: result.rows,
          rowCount: result.affectedRows ?? result.rows.length,
        };
      },
    };
    return fn(session);
  });
}

async function runSandboxed(
  deps: SubgraphDeps,
  tenant: SqlTenant,
  options: SandboxOptions,
  statement: ParsedStatement,
  sql: string,
  params: unknown[],
): Promise<RawResult> {
  const role = assertRoleName(options.role);
  const schema = assertSchemaName(options.schemaName);
  const run = async (session: Session): Promise<RawResult> => {
    const started = performance.now();
    if (statement.cursorable) {
      // A cursor fetches at most MAX_ROWS + 1 rows: a huge table never lands in memory.
      await session.query(`DECLARE tenant_query NO SCROLL CURSOR FOR ${sql}`, params);
      const fetched = await session.query(`FETCH FORWARD ${MAX_ROWS + 1} FROM tenant_query`);
      await session.query('CLOSE tenant_query');
      return capRows(fetched.columns, fetched.rows, fetched.rows.length, performance.now() - started);
    }
    const out = await session.query(sql, params);
    return capRows(out.columns, out.rows, out.rowCount, performance.now() - started);
  };
  if (tenant.databaseUrl !== null || usesTenantSessions(deps)) {
    // Real PostgreSQL: logged in as the tenant role itself (tenant-session.ts), so no statement
    // can step back to the platform's identity; the session checks its identity before COMMIT.
    return withTenantSession(deps, tenantRoleTarget(deps, tenant), options, run);
  }
  return withSession(
    deps.db,
    null,
    async (session) => {
      // Must be the transaction's first statement: PostgreSQL refuses to change read-only mode
      // after any query, which is also what stops `SET TRANSACTION READ WRITE` later on.
      if (options.readOnly) await session.query('SET TRANSACTION READ ONLY');
      await session.query(`SET LOCAL statement_timeout = ${Math.trunc(options.timeoutMs)}`);
      await session.query(`SET LOCAL search_path TO ${quoteIdent(schema)}, pg_temp`);
      await session.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
      const result = await run(session);
      // Belt and braces: had anything slipped past the parser and changed the role or lifted
      // read-only mode, the whole transaction is rolled back instead of committed.
      const check = await session.query(`SELECT current_user::text, current_setting('transaction_read_only')`);
      const [user, readOnly] = (check.rows[0] ?? []) as string[];
      if (user !== role || (options.readOnly && readOnly !== 'on')) {
        throw new AppError('FORBIDDEN', 'invalid_query: the statement tried to leave its tenant sandbox', {
          reason: 'sandbox_escape',
        });
      }
      return result;
    },
    { timeoutMs: options.timeoutMs },
  );
}

function capRows(columns: string[], rows: unknown[][], rowCount: number, durationMs: number): RawResult {
  const truncated = rows.length > MAX_ROWS;
  const kept = truncated ? rows.slice(0, MAX_ROWS) : rows;
  return {
    columns,
    rows: kept.map((row) => row.map(toJsonValue)),
    rowCount: truncated ? MAX_ROWS : Math.max(rowCount, kept.length),
    truncated,
    durationMs,
  };
}

function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  return value;
}

/** PostgreSQL errors as the platform's codes; the database's own message stays in the details. */
export function sqlErrorToAppError(error: unknown, tenant: SqlTenant): AppError {
  if (error instanceof AppError) return error;
  const e = error as { code?: string; message?: string; position?: string };
  const sqlstate = typeof e.code === 'string' ? e.code : undefined;
  const message = (e.message ?? 'query failed').split('\n')[0]!.slice(0, 500);
  const details = { sqlstate, database_message: message };
  switch (sqlstate) {
    case '42501': {
      // The tenant role was refused: naming another tenant's schema lands here, at the database.
      const deniedSchema = /^permission denied for schema (.+)$/.exec(message)?.[1];
      if (deniedSchema !== undefined && deniedSchema !== tenant.schemaName) {
        return new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt refused by the database', details);
      }
      return new AppError('FORBIDDEN', `Permission denied: ${message}`, details);
    }
    case '25006':
      return new AppError('FORBIDDEN', `read_only: ${message}`, { ...details, reason: 'read_only' });
    case '57014':
      return new AppError('TIMEOUT', 'Query exceeded timeout_ms and was cancelled (statement_timeout)', details);
    case '23505':
      return new AppError('CONFLICT', message, details);
    default:
      if (!sqlstate) return new AppError('INTERNAL_ERROR', 'Query failed');
      // The server's own trouble (connection, resources, shutdown, I/O), not the statement's.
      if (/^(08|53|57|58)/.test(sqlstate)) {
        return new AppError('SERVICE_UNAVAILABLE', 'The database could not run the query', details);
      }
      if (sqlstate.startsWith('XX')) return new AppError('INTERNAL_ERROR', 'Query failed', details);
      return new AppError('BAD_REQUEST', `query_failed: ${message}`, details);
  }
}

// ---------------------------------------------------------------------------------------------
// Query logs

async function recordQuery(
  deps: SubgraphDeps,
  entry: {
    id: string;
    tenantId: string;
    source: 'api' | 'admin';
    statement: string;
    statementKind: string | null;
    readOnly: boolean;
    error: AppError | null;
    durationMs: number;
    rowCount: number | null;
    actorId: string;
  },
): Promise<void> {
  try {
    await deps.db.prisma.queryLog.create({
      data: {
        id: entry.id,
        tenantId: entry.tenantId,
        source: entry.source,
        statement: entry.statement.slice(0, LOGGED_STATEMENT_MAX),
        statementKind: entry.statementKind,
        readOnly: entry.readOnly,
        status: entry.error ? 'error' : 'success',
        errorCode: entry.error ? String(entry.error.details?.sqlstate ?? entry.error.code) : null,
        errorMessage: entry.error ? entry.error.message.slice(0, 500) : null,
        durationMs: entry.durationMs,
        rowCount: entry.rowCount,
        slow: entry.durationMs >= SLOW_QUERY_MS,
        actorId: entry.actorId,
      },
    });
  } catch {
    // A query log that cannot be written must not turn a successful query into a failure.
  }
}

// ---------------------------------------------------------------------------------------------
// Services

const jsonParameter: z.ZodType<unknown> = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.any()),
  z.record(z.string(), z.any()),
]);

const queryInput = z.object({
  query: z.string().min(1).max(100_000),
  parameters: z.array(jsonParameter).max(1000).default([]),
  schema: z.string().min(1).max(100).nullish(),
  tenantId: z.string().min(1).max(100).nullish(),
  readOnly: z.boolean().default(true),
  timeoutMs: z.number().int().min(1).max(MAX_TIMEOUT_MS).default(DEFAULT_TIMEOUT_MS),
});

export type TenantQueryInput = z.input<typeof queryInput>;

/** Parameters are bound, never interpolated; JSON objects and arrays travel as json text. */
function bindParameters(values: unknown[]): unknown[] {
  return values.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v));
}

/** Runs one statement for one tenant; every attempt, failed or not, lands in the query logs. */
async function runForTenant(
  deps: SubgraphDeps,
  principal: Principal,
  tenant: SqlTenant,
  input: z.output<typeof queryInput>,
  source: 'api' | 'admin',
): Promise<TenantQueryResult> {
  const queryId = newId('q', 8);
  let statement: ParsedStatement | null = null;
  const started = performance.now();
  try {
    statement = await parseSingleStatement(input.query, { door: input.readOnly ? 'read' : 'write' });
    const raw = await runSandboxed(
      deps,
      tenant,
      { role: tenant.role, schemaName: tenant.schemaName, readOnly: input.readOnly, timeoutMs: input.timeoutMs },
      statement,
      input.query,
      bindParameters(input.parameters),
    );
    const executionMs = round(raw.durationMs);
    await recordQuery(deps, {
      id: queryId,
      tenantId: tenant.id,
      source,
      statement: input.query,
      statementKind: statement.kind,
      readOnly: input.readOnly,
      error: null,
      durationMs: executionMs,
      rowCount: raw.rowCount,
      actorId: principal.id,
    });
    return {
      query_id: queryId,
      execution_time_ms: executionMs,
      row_count: raw.rowCount,
      rows: raw.rows,
      columns: raw.columns,
      schema: tenant.schemaName,
      truncated: raw.truncated,
      timeout_enforced: true,
      tenant_id: tenant.id,
    };
  } catch (error) {
    const appError = sqlErrorToAppError(error, tenant);
    // After the rollback, on the platform's own connection: the failure is logged even though
    // the tenant's transaction is gone.
    await recordQuery(deps, {
      id: queryId,
      tenantId: tenant.id,
      source,
      statement: input.query,
      statementKind: statement?.kind ?? null,
      readOnly: input.readOnly,
      error: appError,
      durationMs: round(performance.now() - started),
      rowCount: null,
      actorId: principal.id,
    });
    throw Object.assign(appError, {
      details: { ...appError.details, query_id: queryId },
    });
  }
}

/**
 * core-platform `POST /api/database/query`. Tenant SQL is raw access to the tenant's data, so it
 * needs write:tenants even when read-only (a `viewer` holds read:tenants only).
 */
export async function executeTenantQuery({
  deps,
  principal,
  input,
  source = 'api',
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: TenantQueryInput;
  source?: 'api' | 'admin';
}): Promise<TenantQueryResult> {
  requireScope(principal, 'write:tenants');
  const data = parseInput(queryInput, input);
  const tenant = await resolveSqlTenant({ deps, principal, tenantId: data.tenantId, schema: data.schema });
  return runForTenant(deps, principal, tenant, data, source);
}

const adminInput = z.object({
  tenantId: z.string().min(1).max(100).nullish(),
  query: z.string().min(1).max(100_000),
  parameters: z.array(jsonParameter).max(1000).default([]),
  databaseType: z
    .string()
    .nullish()
    .refine((v) => !v || v.toLowerCase() === 'postgresql', { message: 'only PostgreSQL is supported' }),
  blueprint: z.string().min(1).max(100).nullish(),
  allTenants: z.boolean().default(false),
  readOnly: z.boolean().default(false),
  timeoutMs: z.number().int().min(1).max(MAX_TIMEOUT_MS).default(DEFAULT_TIMEOUT_MS),
});

export type AdminQueryInput = z.input<typeof adminInput>;

export interface AdminTenantResult {
  tenant_id: string;
  schema: string;
  status: 'success' | 'error';
  result: TenantQueryResult | null;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
}

export interface AdminQueryResult {
  all_tenants: boolean;
  tenant_count: number;
  succeeded: number;
  failed: number;
  results: AdminTenantResult[];
}

/** The most tenants one all_tenants request fans out to. */
const ALL_TENANTS_LIMIT = 500;
/**
 * Tenants are queried one after another; past this much time the rest are reported as not run
 * (TIMEOUT) rather than holding the request open until the gateway gives up on it.
 */
const ALL_TENANTS_BUDGET_MS = 20_000;

/**
 * tenantsdb `POST /admin/query`: one tenant, or (all_tenants) every tenant the caller may see,
 * each in its own sandbox, one result per tenant. all_tenants is for the operator or a project
 * owner's scope; a tenant-bound caller cannot fan out. With `blueprint` the statement runs on each
 * tenant's database from that blueprint (`<blueprint>__<tenant>`), through the same executor, as
 * that database's own role; all_tenants then means every tenant with such a database.
 */
export async function executeAdminQuery({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: AdminQueryInput;
}): Promise<AdminQueryResult> {
  requireScope(principal, 'write:tenants');
  const data = parseInput(adminInput, input);
  const blueprint = data.blueprint ?? null;
  const targetOf = (tenant: SqlTenant) => (blueprint ? blueprintSqlTarget(deps, tenant, blueprint) : tenant);
  const queryInputs = {
    query: data.query,
    parameters: data.parameters,
    readOnly: data.readOnly,
    timeoutMs: data.timeoutMs,
  };
  if (!data.allTenants) {
    const tenant = await targetOf(await resolveSqlTenant({ deps, principal, tenantId: data.tenantId }));
    const result = await runForTenant(deps, principal, tenant, queryInputs, 'admin');
    return {
      all_tenants: false,
      tenant_count: 1,
      succeeded: 1,
      failed: 0,
      results: [{ tenant_id: tenant.slug, schema: tenant.schemaName, status: 'success', result, error: null }],
    };
  }
  if (principal.tenantId !== null) {
    throw new AppError('FORBIDDEN', 'all_tenants needs an operator or project scope, not a tenant-bound caller');
  }
  // Parse once before fanning out: an invalid query fails the request, not each tenant.
  await parseSingleStatement(data.query, { door: data.readOnly ? 'read' : 'write' });
  const deadline = performance.now() + ALL_TENANTS_BUDGET_MS;
  const tenants = await deps.db.prisma.tenant.findMany({
    where: {
      status: 'active',
      dbRole: { not: null },
      ...(principal.projectId !== null ? { projectId: principal.projectId } : {}),
      ...(blueprint ? { id: { in: await tenantIdsWithBlueprint(deps, principal.projectId, blueprint) } } : {}),
    },
    orderBy: { createdAt: 'asc' },
    take: ALL_TENANTS_LIMIT,
  });
  const results: AdminTenantResult[] = [];
  // One at a time: a fan-out must not take every pooled connection from everyone else.
  for (const t of tenants) {
    try {
      if (performance.now() > deadline) {
        throw new AppError('TIMEOUT', 'Not run: the request’s time budget for all_tenants was spent', {
          budget_ms: ALL_TENANTS_BUDGET_MS,
        });
      }
      const tenant = await targetOf(sqlTenantOf(deps, t));
      const result = await runForTenant(deps, principal, tenant, queryInputs, 'admin');
      results.push({ tenant_id: t.slug, schema: tenant.schemaName, status: 'success', result, error: null });
    } catch (error) {
      const e = error instanceof AppError ? error : new AppError('INTERNAL_ERROR', 'Query failed');
      results.push({
        tenant_id: t.slug,
        schema: t.schemaName,
        status: 'error',
        result: null,
        error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) },
      });
    }
  }
  const succeeded = results.filter((r) => r.status === 'success').length;
  return {
    all_tenants: true,
    tenant_count: results.length,
    succeeded,
    failed: results.length - succeeded,
    results,
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
