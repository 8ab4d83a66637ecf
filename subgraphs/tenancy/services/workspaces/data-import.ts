import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Logger } from '../../../../lib/logger.js';
import { principalSchema, type Principal } from '../../../../lib/principal.js';
import { publishTenancyProgress } from '../progress.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { DataImport, Tenant, Workspace } from '../../../../prisma/generated/client.js';
import { describeError } from '../operations/backups.js';
import { connectSourceDatabase } from './source-connection.js';
import { databaseUrl, dedicatedServerUrl, inTenantDatabase } from '../tenants/tenant-databases.js';
import { pgSession, type SqlSession } from '../operations/tenant-dump.js';
import { tenantRoleTarget, usesTenantSessions, withTenantSession } from '../sql/tenant-session.js';
import { assertRoleName, assertSchemaName, quoteIdent, quoteLiteral } from '../sql/identifiers.js';
import { createTenant, destroyTenant } from '../tenants/tenants.js';
import { importWorkspaceSchema } from './workspace-schema-import.js';
import { applyAndRecord, loadWorkspace } from './workspaces.js';

export type { DataImport };

/**
 * Data import (tenantsdb `import-data`): reads an external PostgreSQL database whose rows carry a
 * routing column (`tenant_id`, `customer`, ...) and moves each routing value's rows into a tenant
 * of its own: the tenant is created when asked (the ordinary createTenant saga, with the caller's
 * rights), then every table that has the routing column is copied into the tenant's schema.
 *
 * Secrets: the source password is used and dropped. It is never written to `data_imports`, the job
 * payload or a log line. The job (possibly another process) reaches it through the kv store under a
 * random key with a short TTL; the key is all the payload carries, and the handler deletes the
 * entry as soon as it has read it (and again when the job ends). The remaining risk: for up to the
 * TTL the password sits in Redis (or process memory) in clear text, readable by anyone who can read
 * that Redis.
 *
 * The source host is whatever the caller gives, so the platform connects out only through
 * connectSourceDatabase (source-connection.ts): public addresses only unless the operator allows a
 * host, the resolved address pinned, and one answer (SOURCE_UNREACHABLE) for every failure to
 * connect, so the import cannot reach the platform's own database or serve as a port scanner.
 * The check runs again when the job connects, under the allow-list in force then.
 */

export const DATA_IMPORT_JOB = 'tenancy.import-data';
/** statement_timeout of one write into a tenant during an import (a batch insert, a CREATE TABLE). */
const IMPORT_STATEMENT_TIMEOUT_MS = 5 * 60_000;
/** How long the source password may wait in kv for the job to pick it up. */
export const SECRET_TTL_SECONDS = 15 * 60;
/** Routing values listed by analyze, and tenants one import may create. */
export const MAX_ROUTING_VALUES = 1000;
/** Analyze runs inside the request: each source statement is cut off after this. */
const ANALYZE_STATEMENT_TIMEOUT_MS = 30_000;
/** In the job: one FETCH or count may take this long before a hung source fails the import. */
const JOB_STATEMENT_TIMEOUT_MS = 5 * 60_000;
/** Rows fetched from the source cursor at a time. */
const FETCH_SIZE = 1000;
/** Rows per INSERT, bounded further so one INSERT never exceeds PostgreSQL's 65,535 parameters. */
const ROWS_PER_INSERT = 500;
const MAX_PARAMS = 30_000;

const SOURCE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const SECRET_KEY = /^data-import:source:[0-9a-f]{48}$/;

// --- input ------------------------------------------------------------------------------------

const connectionSchema = z.object({
  type: z
    .string()
    .trim()
    .toLowerCase()
    .default('postgresql')
    .refine((t: string): boolean => ['postgresql', 'postgres'].includes(t), {
      message: 'only postgresql sources are supported',
    }),
  host: z
    .string()
    .trim()
    .min(1)
    .max(253)
    .regex(/^[A-Za-z0-9._:[\]-]+$/, 'a host name or IP address'),
  port: z.coerce.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1).max(63),
  user: z.string().min(1).max(63),
  password: z.string().max(1024).default(''),
  ssl: z.boolean().default(false),
});

export type SourceConnectionInput = z.input<typeof connectionSchema>;
type SourceConnection = z.output<typeof connectionSchema>;

const routingFieldSchema = z
  .string()
  .regex(SOURCE_IDENTIFIER, 'a column name: letters, digits, underscores; starts with a letter or underscore');

const analyzeInput = z.object({ connection: connectionSchema, routingField: routingFieldSchema });

const startInput = z.object({
  connection: connectionSchema,
  routingField: routingFieldSchema,
  options: z
    .object({
      dropRoutingColumn: z.boolean().default(false),
      createTenants: z.boolean().default(true),
    })
    .default({ dropRoutingColumn: false, createTenants: true }),
});

export type StartDataImportInput = z.input<typeof startInput>;

/** What `data_imports.options` holds: the caller's choices, never a credential. */
const storedOptionsSchema = z.object({
  drop_routing_column: z.boolean(),
  create_tenants: z.boolean(),
  /** import-full: the changes the schema import added to the workspace's queue. */
  workspace_schema_changes: z.number().int().optional(),
});
const storedSourceSchema = z.object({
  type: z.string(),
  host: z.string(),
  port: z.number(),
  database: z.string(),
  user: z.string(),
  ssl: z.boolean(),
});

// --- workspace --------------------------------------------------------------------------------

/**
 * The workspace an import belongs to: the workspaces service's own loader (by id or name, within
 * the caller's project; a tenant-bound caller has none; another project's is NOT_FOUND).
 */
export function loadWorkspaceFor(
  deps: SubgraphDeps,
  principal: Principal | null,
  workspaceId: string,
  scope: 'read:tenants' | 'write:tenants',
): Promise<Workspace> {
  return loadWorkspace(deps, principal, workspaceId, scope);
}

// --- source database --------------------------------------------------------------------------

/** A pg error's message, with the password removed should the server or driver ever echo it. */
function sourceMessage(error: unknown, password: string): string {
  let message = error instanceof Error ? error.message : String(error);
  if (password) message = message.split(password).join('[redacted]');
  return message.slice(0, 500);
}

/**
 * A failure after the connection is made (the caller already proved they can sign in there):
 * the PostgreSQL message helps and reveals nothing about other hosts. Failures to connect never
 * get here: connectSourceDatabase answers those with one uniform error.
 */
function sourceError(error: unknown, conn: SourceConnection): AppError {
  const code = (error as { code?: string }).code;
  const message = sourceMessage(error, conn.password);
  const where = { host: conn.host, port: conn.port, database: conn.database };
  if (code && /^(28|3D|42|08P01)/.test(code)) {
    return new AppError('VALIDATION_ERROR', `Source database refused the request: ${message}`, {
      ...where,
      pg_code: code,
    });
  }
  return new AppError('SERVICE_UNAVAILABLE', `Source database failed: ${message}`, {
    ...where,
    ...(code ? { pg_code: code } : {}),
  });
}

function connectSource(
  deps: SubgraphDeps,
  conn: SourceConnection,
  statementTimeoutMs: number,
  logger?: Logger,
): Promise<pg.Client> {
  return connectSourceDatabase(deps, conn, { statementTimeoutMs, logger });
}

interface SourceColumn {
  name: string;
  /** format_type of the source column. */
  sourceType: string;
  /** The type the column gets in a tenant: the source's, or text for a type only the source defines (enums, domains). */
  targetType: string;
  notNull: boolean;
  /** An integer column fed by a sequence or an identity: an identity column in the tenant. */
  isSerial: boolean;
}

interface SourceTable {
  oid: string;
  schema: string;
  name: string;
  columns: SourceColumn[];
  primaryKey: string[];
  /** Tables this one references (foreign keys): copied first. */
  references: string[];
}

async function introspectSource(client: pg.ClientBase): Promise<SourceTable[]> {
  const tables = (
    await client.query<{ oid: string; schema: string; name: string }>(
      `SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
          AND has_table_privilege(c.oid, 'SELECT')
        ORDER BY n.nspname, c.relname`,
    )
  ).rows;
  if (tables.length === 0) return [];
  const oids = tables.map((t) => t.oid);
  const columns = (
    await client.query<{
      oid: string;
      name: string;
      type: string;
      not_null: boolean;
      builtin: boolean;
      serial: boolean;
    }>(
      `SELECT a.attrelid::text AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
              a.attnotnull AS not_null,
              coalesce(et.typnamespace, t.typnamespace) = 'pg_catalog'::regnamespace AS builtin,
              (a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%')
                AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) AS serial
         FROM pg_attribute a
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attrelid, a.attnum`,
      [oids],
    )
  ).rows;
  const keys = (
    await client.query<{ oid: string; columns: string[] }>(
      `SELECT c.conrelid::text AS oid, array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_constraint c
         CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
        WHERE c.contype = 'p' AND c.conrelid = ANY($1::oid[])
        GROUP BY c.conrelid`,
      [oids],
    )
  ).rows;
  const fks = (
    await client.query<{ oid: string; ref: string }>(
      `SELECT conrelid::text AS oid, confrelid::text AS ref FROM pg_constraint
        WHERE contype = 'f' AND conrelid = ANY($1::oid[]) AND confrelid <> conrelid`,
      [oids],
    )
  ).rows;
  return tables.map((t) => ({
    ...t,
    columns: columns
      .filter((c) => c.oid === t.oid)
      .map((c) => ({
        name: c.name,
        sourceType: c.type,
        targetType: c.builtin ? c.type : 'text',
        notNull: c.not_null,
        isSerial: c.serial,
      })),
    primaryKey: keys.find((k) => k.oid === t.oid)?.columns ?? [],
    references: fks.filter((f) => f.oid === t.oid).map((f) => f.ref),
  }));
}

/** Parents before children, so rows load even where the tenant's tables carry foreign keys. */
function copyOrder(tables: SourceTable[]): SourceTable[] {
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  const done = new Set<string>();
  const ordered: SourceTable[] = [];
  const visit = (table: SourceTable, path: Set<string>) => {
    if (done.has(table.oid) || path.has(table.oid)) return; // a cycle: keep the catalog order
    path.add(table.oid);
    for (const ref of table.references) {
      const parent = byOid.get(ref);
      if (parent) visit(parent, path);
    }
    done.add(table.oid);
    ordered.push(table);
  };
  for (const table of tables) visit(table, new Set());
  return ordered;
}

function routingColumnOf(table: SourceTable, routingField: string): SourceColumn | undefined {
  return table.columns.find((c) => c.name === routingField);
}

function qualified(table: { schema: string; name: string }): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

interface RoutingValueCount {
  value: string;
  rowCount: number;
}

/** Distinct routing values over every table that has the column, rows summed; nulls counted apart. */
async function routingValues(
  client: pg.ClientBase,
  tables: SourceTable[],
  routingField: string,
): Promise<{ values: RoutingValueCount[]; rowsWithoutValue: number }> {
  const totals = new Map<string, number>();
  let rowsWithoutValue = 0;
  for (const table of tables) {
    if (!routingColumnOf(table, routingField)) continue;
    const col = quoteIdent(routingField);
    const { rows } = await client.query<{ value: string | null; n: string }>(
      `SELECT ${col}::text AS value, count(*) AS n FROM ${qualified(table)} GROUP BY 1`,
    );
    for (const row of rows) {
      if (row.value === null) rowsWithoutValue += Number(row.n);
      else totals.set(row.value, (totals.get(row.value) ?? 0) + Number(row.n));
    }
  }
  const values = [...totals.entries()]
    .map(([value, rowCount]) => ({ value, rowCount }))
    .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  return { values, rowsWithoutValue };
}

// --- analyze ----------------------------------------------------------------------------------

export interface DataImportAnalysis {
  workspaceId: string;
  routingField: string;
  tables: { schema: string; name: string; rowCount: number; hasRoutingColumn: boolean }[];
  routingValues: RoutingValueCount[];
  routingValuesTotal: number;
  routingValuesTruncated: boolean;
  routingValuesLimit: number;
  rowsWithoutRoutingValue: number;
}

/** Requires write:tenants (it opens connections from the platform to a host the caller names). */
export async function analyzeDataImport({
  deps,
  principal,
  workspaceId,
  input,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  logger?: Logger;
  workspaceId: string;
  input: z.input<typeof analyzeInput>;
}): Promise<DataImportAnalysis> {
  await loadWorkspaceFor(deps, principal, workspaceId, 'write:tenants');
  const data = parseInput(analyzeInput, input);
  const client = await connectSource(deps, data.connection, ANALYZE_STATEMENT_TIMEOUT_MS, logger);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables = await introspectSource(client);
    const counted = [];
    for (const table of tables) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(table)}`);
      counted.push({
        schema: table.schema,
        name: table.name,
        rowCount: Number(rows[0]?.n ?? 0),
        hasRoutingColumn: Boolean(routingColumnOf(table, data.routingField)),
      });
    }
    const { values, rowsWithoutValue } = await routingValues(client, tables, data.routingField);
    await client.query('COMMIT');
    return {
      workspaceId,
      routingField: data.routingField,
      tables: counted,
      routingValues: values.slice(0, MAX_ROUTING_VALUES),
      routingValuesTotal: values.length,
      routingValuesTruncated: values.length > MAX_ROUTING_VALUES,
      routingValuesLimit: MAX_ROUTING_VALUES,
      rowsWithoutRoutingValue: rowsWithoutValue,
    };
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw sourceError(error, data.connection);
  } finally {
    await client.end().catch(() => undefined);
  }
}

// --- start, status ----------------------------------------------------------------------------

function secretKey(): string {
  return `data-import:source:${randomBytes(24).toString('hex')}`;
}

export const importJobPayload = z.object({
  importId: z.string().min(1),
  /** The kv key holding the source password: a random reference, not the secret. */
  secretKey: z.string().regex(SECRET_KEY),
  /** Whose rights the job acts with (creating tenants): the caller's, bound to the workspace's project. */
  principal: principalSchema,
});

/**
 * import-full's schema half: the source's `public` schema goes into the workspace through the
 * workspaces service's import from a live database (captured as `import` changes, so it can be
 * deployed as a blueprint later), with the routing column dropped there too when asked. Runs in
 * the request with the password in hand; it fails the request (nothing queued) if the workspace
 * refuses the DDL, e.g. because it already has those tables.
 */
async function importSchemaIntoWorkspace(
  deps: SubgraphDeps,
  principal: Principal | null,
  workspace: Workspace,
  data: z.output<typeof startInput>,
  routedTables: string[],
): Promise<number> {
  const { type, host, port, database, user, password } = data.connection;
  const imported = await importWorkspaceSchema({
    deps,
    principal,
    id: workspace.id,
    input: {
      source: 'database',
      connection: {
        type: type === 'postgres' ? 'postgresql' : type,
        host,
        port,
        database,
        user,
        password,
        schema: 'public',
      },
    },
  });
  let changes = imported.ddlIds.length;
  if (data.options.dropRoutingColumn && routedTables.length > 0) {
    const drops = routedTables.map(
      (table) => `ALTER TABLE ${quoteIdent(table)} DROP COLUMN ${quoteIdent(data.routingField)}`,
    );
    changes += (await applyAndRecord(deps, workspace, drops, 'import')).length;
  }
  return changes;
}

/**
 * Creates the import record and queues its job. The connection is tested first, so a wrong
 * password or host is an immediate error rather than a failed job. Either kind creates a table
 * missing in a tenant from the source's definition (see copyTenantRows); `kind: 'full'` also puts
 * the source schema into the workspace first (importSchemaIntoWorkspace).
 */
export async function startDataImport({
  deps,
  principal,
  workspaceId,
  kind,
  input,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  logger?: Logger;
  workspaceId: string;
  kind: 'data' | 'full';
  input: StartDataImportInput;
}): Promise<DataImport> {
  const workspace = await loadWorkspaceFor(deps, principal, workspaceId, 'write:tenants');
  const caller = principal!; // loadWorkspaceFor required it
  const data = parseInput(startInput, input);
  const probe = await connectSource(deps, data.connection, ANALYZE_STATEMENT_TIMEOUT_MS, logger);
  let routedInPublic: string[];
  try {
    routedInPublic = (await introspectSource(probe))
      .filter((t) => t.schema === 'public' && routingColumnOf(t, data.routingField))
      .map((t) => t.name);
  } catch (error) {
    throw sourceError(error, data.connection);
  } finally {
    await probe.end().catch(() => undefined);
  }
  const workspaceSchemaChanges =
    kind === 'full' ? await importSchemaIntoWorkspace(deps, principal, workspace, data, routedInPublic) : null;

  const { password, ...source } = data.connection;
  const id = newId('imp');
  await deps.db.prisma.dataImport.create({
    data: {
      id,
      workspaceId: workspace.id,
      kind,
      status: 'pending',
      routingField: data.routingField,
      options: {
        drop_routing_column: data.options.dropRoutingColumn,
        create_tenants: data.options.createTenants,
        ...(workspaceSchemaChanges === null ? {} : { workspace_schema_changes: workspaceSchemaChanges }),
      },
      source,
    },
  });
  const key = secretKey();
  await deps.kv.cache.set(key, password, SECRET_TTL_SECONDS);
  try {
    const { jobId } = await deps.jobs.enqueue(
      DATA_IMPORT_JOB,
      {
        importId: id,
        secretKey: key,
        // Bound to the workspace's project, so an operator's import creates the project's tenants.
        principal: { ...caller, projectId: workspace.projectId, tenantId: null },
      },
      { jobId: `data-import-${id}` },
    );
    return await deps.db.prisma.dataImport.update({ where: { id }, data: { jobId } });
  } catch (error) {
    await deps.kv.cache.del(key).catch(() => 0);
    await deps.db.prisma.dataImport.update({
      where: { id },
      data: { status: 'failed', error: 'Could not queue the import job', completedAt: new Date() },
    });
    throw error;
  }
}

export async function getDataImport({
  deps,
  principal,
  workspaceId,
  importId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  workspaceId: string;
  importId: string;
}): Promise<DataImport> {
  const workspace = await loadWorkspaceFor(deps, principal, workspaceId, 'read:tenants');
  const record = await deps.db.prisma.dataImport.findFirst({ where: { id: importId, workspaceId: workspace.id } });
  if (!record) throw new AppError('NOT_FOUND', 'Import not found', { import_id: importId });
  return record;
}

// --- the job ----------------------------------------------------------------------------------

export interface ImportFailure {
  routing_value: string;
  tenant_id: string | null;
  code: string;
  error: string;
}

/** The tenant slug a routing value becomes: lower-cased, spaces and underscores as dashes; createTenant validates the rest. */
export function slugForRoutingValue(value: string): string {
  return value
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');
}

/**
 * Finds or creates the tenant for one routing value. An existing tenant with that slug is used
 * only when it belongs to the import's project (a re-run, or create_tenants off); another
 * project's tenant is a conflict.
 */
async function tenantForValue(
  deps: SubgraphDeps,
  principal: Principal,
  slug: string,
  createTenants: boolean,
  logger: Logger,
): Promise<{ tenant: Tenant; created: boolean }> {
  const existing = await deps.db.prisma.tenant.findUnique({ where: { slug } });
  if (existing && existing.status !== 'deleted') {
    if (existing.projectId !== principal.projectId) {
      throw new AppError('CONFLICT', 'A tenant with this slug belongs to another project', { tenant_id: slug });
    }
    if (existing.status !== 'active') {
      throw new AppError('CONFLICT', `The tenant is ${existing.status}`, { tenant_id: slug });
    }
    return { tenant: existing, created: false };
  }
  if (!createTenants) {
    throw new AppError('NOT_FOUND', 'No tenant with this slug, and create_tenants is off', { tenant_id: slug });
  }
  const { tenant } = await createTenant({ deps, principal, input: { slug, name: slug }, logger });
  return { tenant, created: true };
}

/** The tenant's columns and their types, as the copy casts into them. */
async function targetColumns(session: SqlSession, schema: string, table: string): Promise<Map<string, string>> {
  const rows = await session.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    schema,
    table,
  );
  return new Map(rows.map((r) => [r.name, r.type]));
}

function createTableSql(table: SourceTable, columns: SourceColumn[]): string {
  const names = new Set(columns.map((c) => c.name));
  const defs = columns.map((c) => {
    const identity = c.isSerial ? ' GENERATED BY DEFAULT AS IDENTITY' : '';
    return `${quoteIdent(c.name)} ${c.targetType}${identity}${c.notNull ? ' NOT NULL' : ''}`;
  });
  // Without the routing column a composite key (tenant_id, id) becomes (id): unique within one tenant.
  const key = table.primaryKey.filter((k) => names.has(k));
  if (key.length > 0) defs.push(`PRIMARY KEY (${key.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table.name)} (${defs.join(', ')})`;
}

/**
 * Copies one routing value's rows of every routed table into the tenant's schema, in one
 * transaction on the tenant's database, as the tenant's own role (so its tables are its own and
 * nothing outside its schema is reachable). Values travel as text and are cast to the target
 * column's type, which round-trips every PostgreSQL type through its text form.
 */
async function copyTenantRows(
  deps: SubgraphDeps,
  source: pg.ClientBase,
  tenant: Tenant,
  plan: { tables: SourceTable[]; routingField: string; dropRoutingColumn: boolean; value: string },
): Promise<number> {
  const schema = assertSchemaName(tenant.schemaName);
  const onPostgres = tenant.isolationLevel === 2 || usesTenantSessions(deps);
  if (onPostgres && !tenant.dbRole) {
    throw new AppError('CONFLICT', 'Tenant has no database role', { tenant_id: tenant.id });
  }
  const inTarget = (fn: (session: SqlSession) => Promise<number>): Promise<number> =>
    onPostgres
      ? // Real PostgreSQL: logged in as the tenant's role (tenant-session.ts). The statements are
        // built from the source's catalog (names, type names): nothing in them can reach the
        // platform's identity.
        withTenantSession(
          deps,
          tenantRoleTarget(deps, {
            role: tenant.dbRole!,
            schemaName: schema,
            databaseUrl:
              tenant.isolationLevel === 2 && tenant.databaseName
                ? databaseUrl(dedicatedServerUrl(deps), tenant.databaseName)
                : null,
          }),
          { readOnly: false, timeoutMs: IMPORT_STATEMENT_TIMEOUT_MS },
          (_session, client) => fn(pgSession(client)),
        )
      : inTenantDatabase(deps, tenant, async (session) => {
          await session.execute(`SET LOCAL search_path TO ${quoteIdent(schema)}, pg_temp`);
          if (tenant.dbRole) await session.execute(`SET LOCAL ROLE ${quoteIdent(assertRoleName(tenant.dbRole))}`);
          return fn(session);
        });
  return inTarget(async (session) => {
    let copied = 0;
    for (const table of plan.tables) {
      const routing = routingColumnOf(table, plan.routingField)!;
      const columns = table.columns.filter((c) => !(plan.dropRoutingColumn && c.name === plan.routingField));
      if (columns.length === 0) continue;
      await session.execute(createTableSql(table, columns));
      const target = await targetColumns(session, schema, table.name);
      const missing = columns.filter((c) => !target.has(c.name)).map((c) => c.name);
      if (missing.length > 0) {
        throw new AppError(
          'CONFLICT',
          `Table "${table.name}" exists in the tenant without column(s) ${missing.join(', ')}`,
        );
      }
      const insertHead = `INSERT INTO ${quoteIdent(table.name)} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE VALUES `;
      const casts = columns.map((c) => target.get(c.name)!);
      const perInsert = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(MAX_PARAMS / columns.length)));
      // The routing value is compared in the column's own type, so an index on it is usable.
      const filter = `${quoteIdent(plan.routingField)} = ${quoteLiteral(plan.value)}::${routing.sourceType}`;
      const cursor = `imp_${randomBytes(4).toString('hex')}`;
      await source.query(
        `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ')}
           FROM ${qualified(table)} WHERE ${filter}`,
      );
      try {
        for (;;) {
          const { rows } = await source.query<string[]>({
            text: `FETCH ${FETCH_SIZE} FROM ${cursor}`,
            rowMode: 'array',
          });
          if (rows.length === 0) break;
          for (let start = 0; start < rows.length; start += perInsert) {
            const batch = rows.slice(start, start + perInsert);
            const params: unknown[] = [];
            const tuples = batch.map((row) => {
              const slots = row.map((value, i) => {
                params.push(value);
                return `$${params.length}::text::${casts[i]}`;
              });
              return `(${slots.join(', ')})`;
            });
            await session.query(`${insertHead}${tuples.join(', ')}`, ...params);
            copied += batch.length;
          }
        }
      } finally {
        await source.query(`CLOSE ${cursor}`).catch(() => undefined);
      }
      // Identity columns continue after the copied ids, so the tenant's next insert does not collide.
      for (const column of columns.filter((c) => c.isSerial)) {
        await session.query(
          `SELECT setval(seq, m) FROM (SELECT pg_get_serial_sequence($1, $2) AS seq,
             (SELECT max(${quoteIdent(column.name)}) FROM ${quoteIdent(table.name)}) AS m) s
            WHERE seq IS NOT NULL AND m IS NOT NULL`,
          `${quoteIdent(schema)}.${quoteIdent(table.name)}`,
          column.name,
        );
      }
    }
    return copied;
  });
}

/**
 * The import job's work. Each routing value is one tenant: created (or found), then filled in its
 * own transaction; a failure is recorded for that value (and a tenant this import created is
 * removed again, so a re-run starts clean) while the others go on. Progress and counts are
 * written after each tenant, never inside a tenant's transaction.
 */
export async function runDataImport({
  deps,
  payload,
  logger,
  reportProgress,
}: {
  deps: SubgraphDeps;
  payload: z.output<typeof importJobPayload>;
  logger: Logger;
  reportProgress: (percent: number) => Promise<void>;
}): Promise<Record<string, unknown>> {
  const password = await deps.kv.cache.get(payload.secretKey);
  await deps.kv.cache.del(payload.secretKey).catch(() => 0);
  const record = await deps.db.prisma.dataImport.findUnique({ where: { id: payload.importId } });
  if (!record) throw new AppError('NOT_FOUND', 'Import not found', { import_id: payload.importId });
  if (record.status === 'completed' || record.status === 'failed') return { status: record.status };
  // Progress on the platform bus for subscribers (tenancyJobProgress): the workspace's project owns it.
  const owner = await deps.db.prisma.workspace.findUnique({
    where: { id: record.workspaceId },
    select: { projectId: true },
  });
  const live = (status: 'running' | 'completed' | 'failed', percent: number, error?: string) =>
    publishTenancyProgress(deps, {
      kind: 'data_import',
      id: record.id,
      tenantId: null,
      projectId: owner?.projectId ?? null,
      status,
      progress: percent,
      error,
    });
  const fail = async (message: string) => {
    await live('failed', 0, message);
    await deps.db.prisma.dataImport.update({
      where: { id: record.id },
      data: { status: 'failed', error: message, completedAt: new Date() },
    });
    return { status: 'failed', error: message };
  };
  if (password === null) return fail('The source credentials expired before the job ran: start the import again');

  const options = storedOptionsSchema.parse(record.options);
  const conn: SourceConnection = { ...storedSourceSchema.parse(record.source), password };
  await deps.db.prisma.dataImport.update({ where: { id: record.id }, data: { status: 'running', progress: 1 } });
  await live('running', 1);

  let source: pg.Client;
  try {
    source = await connectSource(deps, conn, JOB_STATEMENT_TIMEOUT_MS, logger);
  } catch (error) {
    return fail(describeError(error));
  }
  try {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const all = await introspectSource(source);
    const routed = copyOrder(all.filter((t) => routingColumnOf(t, record.routingField)));
    if (routed.length === 0) return await fail(`No table has the routing column "${record.routingField}"`);
    const clash = routed.find((t, i) => routed.findIndex((o) => o.name === t.name) !== i);
    if (clash) {
      return await fail(`Tables in several source schemas are named "${clash.name}": a tenant schema holds one`);
    }
    const { values } = await routingValues(source, routed, record.routingField);
    if (values.length > MAX_ROUTING_VALUES) {
      return await fail(`${values.length} routing values: one import creates at most ${MAX_ROUTING_VALUES} tenants`);
    }
    await deps.db.prisma.dataImport.update({ where: { id: record.id }, data: { totalTenants: values.length } });

    const failures: ImportFailure[] = [];
    let completed = 0;
    let rowsCopied = 0n;
    for (const [index, { value }] of values.entries()) {
      const slug = slugForRoutingValue(value);
      let created: Tenant | null = null;
      try {
        const found = await tenantForValue(deps, payload.principal, slug, options.create_tenants, logger);
        if (found.created) created = found.tenant;
        const rows = await copyTenantRows(deps, source, found.tenant, {
          tables: routed,
          routingField: record.routingField,
          dropRoutingColumn: options.drop_routing_column,
          value,
        });
        rowsCopied += BigInt(rows);
        completed += 1;
      } catch (error) {
        failures.push({
          routing_value: value,
          tenant_id: slug,
          code: error instanceof AppError ? error.code : ((error as { code?: string }).code ?? 'INTERNAL_ERROR'),
          error: describeError(error),
        });
        logger.warn({ importId: record.id, tenant: slug, err: error }, 'data import failed for one tenant');
        if (created) {
          await destroyTenant(deps, created).catch((cleanupError: unknown) =>
            logger.error({ err: cleanupError, tenantId: created?.id }, 'could not remove a tenant whose import failed'),
          );
        }
      }
      const progress = Math.min(99, Math.round(((index + 1) / values.length) * 100));
      await deps.db.prisma.dataImport.update({
        where: { id: record.id },
        data: {
          progress,
          completedTenants: completed,
          failedTenants: failures.length,
          rowsCopied,
          failures: failures as object[],
        },
      });
      await reportProgress(progress);
      await live('running', progress);
    }
    await source.query('COMMIT').catch(() => undefined);
    const status = values.length > 0 && completed === 0 ? 'failed' : 'completed';
    await deps.db.prisma.dataImport.update({
      where: { id: record.id },
      data: {
        status,
        progress: 100,
        completedAt: new Date(),
        error: status === 'failed' ? 'Every tenant failed: see failures' : null,
      },
    });
    await reportProgress(100);
    await live(status, 100, status === 'failed' ? 'Every tenant failed: see failures' : undefined);
    logger.info(
      { importId: record.id, tenants: values.length, completed, failed: failures.length, rows: Number(rowsCopied) },
      'data import finished',
    );
    return { status, total: values.length, completed, failed: failures.length, rows_copied: Number(rowsCopied) };
  } catch (error) {
    const message = error instanceof AppError ? error.message : sourceMessage(error, password);
    return await fail(message);
  } finally {
    await source.end().catch(() => undefined);
    await deps.kv.cache.del(payload.secretKey).catch(() => 0);
  }
}
