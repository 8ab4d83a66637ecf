import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { getDriverHandle } from '../../../../lib/db.js';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Prisma, Workspace, WorkspaceChange } from '../../../../prisma/generated/client.js';
import { MASKED_PASSWORD, MASKED_PASSWORD_MESSAGE, maySeeConnectionSecrets } from '../tenants/connection-secrets.js';
import { describeSchemaOn, type SchemaInfo } from '../sql/introspection.js';
import { parseSingleStatement } from '../sql/sql-guard.js';
import {
  databaseUrl,
  dedicatedServerUrl,
  dropDatabase,
  inClientTransaction,
  inPlatformDatabase,
  withClient,
} from '../tenants/tenant-databases.js';
import { readSchemaDump, writeSchemaDump, type SqlSession } from '../operations/tenant-dump.js';
import { dropTenantRole, provisionTenantRole, schemaGrantStatements } from '../tenants/tenant-roles.js';
import { assertRoleName, assertSchemaName, quoteIdent, quoteLiteral } from '../sql/identifiers.js';
import {
  DEFAULT_TIMEOUT_MS,
  MAX_ROWS,
  MAX_TIMEOUT_MS,
  sqlErrorToAppError,
  withSession,
  type Session,
} from '../sql/tenant-sql.js';
import { ddlStatementsOf, type DdlChange } from './workspace-ddl.js';
import { withTenantSession } from '../sql/tenant-session.js';

/**
 * tenantsdb workspaces: a development database per workspace where a project designs a schema,
 * with every DDL statement captured, in order, into `workspace_changes` (the deploy queue that
 * blueprints snapshot).
 *
 * Where a workspace lives:
 * - real PostgreSQL: a database of its own (`<name>_<hex>_dev`) on the dedicated server, reached by
 *   a LOGIN role of its own with a random password. PUBLIC loses CONNECT on that database and
 *   CREATE on its `public` schema, so only that role (and the platform) can use it. DDL is
 *   captured by an event trigger (`ddl_command_end`) installed in that database: it writes one row
 *   per statement into `_workspace.ddl_log` (a schema PUBLIC cannot reach; the trigger function is
 *   SECURITY DEFINER, owned by the platform user), and the platform ingests that log into
 *   `workspace_changes` (parsing each statement) before anything reads the queue. API queries go
 *   through the same trigger, labelled `api` by a transaction-local setting, so both paths land in
 *   one queue in one order.
 * - the embedded default (PGlite): a schema in the one database, sandboxed by a NOLOGIN role like
 *   a tenant's; no direct connection exists, and API DDL is recorded as it runs.
 */

export type { Workspace, WorkspaceChange };

type Tx = Prisma.TransactionClient;

export const WORKSPACE_DATABASES = ['PostgreSQL', 'MySQL', 'MongoDB', 'Redis'] as const;
const NAME = /^[a-z][a-z0-9_-]{0,39}$/;
const CAPTURE_SCHEMA = '_workspace';
const DIRECT_CONNECTION_MESSAGE =
  'Direct connections need PostgreSQL: this platform runs on the embedded database, so run SQL through POST /workspaces/{id}/queries.';

// ---------------------------------------------------------------------------------------------
// Settings

export const workspaceSettingsSchema = z
  .object({
    /** Free text shown with the workspace. */
    description: z.string().max(500),
    /** The isolation level tenant databases made from this workspace's blueprint default to. */
    default_isolation_level: z.union([z.literal(1), z.literal(2)]),
    /** statement_timeout for POST /queries, in ms. */
    query_timeout_ms: z.number().int().min(1).max(MAX_TIMEOUT_MS),
    /** When false, POST /queries runs in a READ ONLY transaction: the schema is frozen for the API. */
    allow_api_ddl: z.boolean(),
  })
  .strict();
export type WorkspaceSettings = z.infer<typeof workspaceSettingsSchema>;
const DEFAULT_SETTINGS: WorkspaceSettings = {
  description: '',
  default_isolation_level: 1,
  query_timeout_ms: DEFAULT_TIMEOUT_MS,
  allow_api_ddl: true,
};

export function settingsOf(workspace: Pick<Workspace, 'settings'>): WorkspaceSettings {
  // Not strict here: the stored object also holds platform facts (direct_capture).
  const stored = z
    .object(workspaceSettingsSchema.shape)
    .partial()
    .safeParse(workspace.settings ?? {});
  return { ...DEFAULT_SETTINGS, ...(stored.success ? stored.data : {}) };
}

// ---------------------------------------------------------------------------------------------
// Loading and location

/** A workspace is named by its `name` within the caller's project (tenantsdb's `{id}`). */
export async function loadWorkspace(
  deps: SubgraphDeps,
  principal: Principal | null,
  idOrName: string,
  scope: 'read:tenants' | 'write:tenants',
): Promise<Workspace> {
  const caller = requireScope(principal, scope);
  if (caller.tenantId !== null) {
    throw new AppError('FORBIDDEN', 'Workspaces belong to a project: a tenant-bound caller cannot use them');
  }
  const workspace = await deps.db.prisma.workspace.findFirst({
    where: { projectId: caller.projectId, OR: [{ name: idOrName }, { id: idOrName }], deletedAt: null },
  });
  // Another project's workspace is indistinguishable from a missing one.
  if (!workspace) throw new AppError('NOT_FOUND', 'Workspace not found', { id: idOrName });
  return workspace;
}

function usesDedicatedServer(deps: SubgraphDeps): boolean {
  return Boolean(deps.tenantDatabaseUrl) || getDriverHandle(deps.db).kind === 'postgres';
}

/** The workspace database's URL as the platform user; null: the schema lives in the platform database. */
function platformUrlOf(deps: SubgraphDeps, workspace: Pick<Workspace, 'databaseName'>): string | null {
  return workspace.databaseName ? databaseUrl(dedicatedServerUrl(deps), workspace.databaseName) : null;
}

/** One transaction on the workspace's database as a dump/restore SqlSession. */
function inWorkspaceDatabase<T>(
  deps: SubgraphDeps,
  workspace: Pick<Workspace, 'databaseName'>,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  const url = platformUrlOf(deps, workspace);
  if (url) return withClient(url, (client) => inClientTransaction(client, fn));
  return inPlatformDatabase(deps, fn);
}

export interface WorkspaceConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

/**
 * The workspace's direct connection. `revealPassword` only for a caller who may write the
 * workspace (connection-secrets.ts): anyone else gets the password masked, never decrypted.
 */
export function connectionOf(
  deps: SubgraphDeps,
  workspace: Workspace,
  revealPassword: boolean,
): { connection: WorkspaceConnection | null; connectionString: string | null } {
  if (!workspace.databaseName || !workspace.loginRole || !workspace.loginPassword) {
    return { connection: null, connectionString: null };
  }
  const server = new URL(dedicatedServerUrl(deps));
  const connection = {
    host: server.hostname,
    port: Number(server.port || 5432),
    database: workspace.databaseName,
    user: workspace.loginRole,
    password: revealPassword ? deps.secretBox.open(workspace.loginPassword) : MASKED_PASSWORD,
  };
  const url = new URL(`postgresql://${server.host}/`);
  url.username = connection.user;
  url.password = connection.password;
  url.pathname = `/${encodeURIComponent(connection.database)}`;
  return { connection, connectionString: url.toString() };
}

// ---------------------------------------------------------------------------------------------
// Capture: recording, ingesting the event-trigger log, the queue

/** Appends changes to the queue in order (seq), under a lock on the workspace row. */
async function recordChanges(
  tx: Tx,
  workspaceId: string,
  changes: DdlChange[],
  capturedVia: 'api' | 'direct' | 'import',
): Promise<WorkspaceChange[]> {
  if (changes.length === 0) return [];
  await tx.$queryRawUnsafe(`SELECT id FROM tenancy.workspaces WHERE id = $1 FOR UPDATE`, workspaceId);
  const last = await tx.workspaceChange.aggregate({ where: { workspaceId }, _max: { seq: true } });
  let seq = last._max.seq ?? 0;
  const created: WorkspaceChange[] = [];
  for (const change of changes) {
    seq += 1;
    created.push(
      await tx.workspaceChange.create({
        data: {
          id: newId('ddl', 8),
          workspaceId,
          seq,
          statement: change.statement,
          commandTag: change.commandTag,
          objectType: change.objectType,
          objectIdentity: change.objectIdentity,
          inverse: change.inverse,
          irreversibleReason: change.irreversibleReason,
          capturedVia,
        },
      }),
    );
  }
  return created;
}

/**
 * The event trigger that captures DDL sent over a direct connection. One row per statement
 * (a script of several statements shares one `current_query()`, so the row is written once per
 * client message and split by the parser at ingestion). Installing it needs a superuser; without
 * one the workspace still works, and only API DDL is captured (the create answer says so).
 */
const CAPTURE_INSTALL = [
  `CREATE SCHEMA ${CAPTURE_SCHEMA}`,
  `REVOKE ALL ON SCHEMA ${CAPTURE_SCHEMA} FROM PUBLIC`,
  `CREATE TABLE ${CAPTURE_SCHEMA}.ddl_log (
     id bigserial PRIMARY KEY,
     xid bigint NOT NULL DEFAULT txid_current(),
     stmt_at timestamptz NOT NULL DEFAULT statement_timestamp(),
     query text NOT NULL,
     command_tag text NOT NULL,
     via text NOT NULL DEFAULT 'direct',
     captured_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  `CREATE FUNCTION ${CAPTURE_SCHEMA}.capture() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
     SET search_path = pg_catalog AS $fn$
   DECLARE q text := current_query();
   BEGIN
     IF q IS NULL OR NOT EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c WHERE c.schema_name IS DISTINCT FROM '${CAPTURE_SCHEMA}')
        AND TG_TAG NOT LIKE 'DROP%' THEN
       RETURN;
     END IF;
     IF NOT EXISTS (SELECT 1 FROM ${CAPTURE_SCHEMA}.ddl_log l
                     WHERE l.xid = txid_current() AND l.stmt_at = statement_timestamp() AND l.query = q) THEN
       INSERT INTO ${CAPTURE_SCHEMA}.ddl_log (query, command_tag, via)
       VALUES (q, TG_TAG, CASE WHEN current_setting('workspace.capture_via', true) = 'api' THEN 'api' ELSE 'direct' END);
     END IF;
   END $fn$`,
  `REVOKE ALL ON FUNCTION ${CAPTURE_SCHEMA}.capture() FROM PUBLIC`,
  `CREATE EVENT TRIGGER workspace_capture ON ddl_command_end EXECUTE FUNCTION ${CAPTURE_SCHEMA}.capture()`,
];

/**
 * Moves what the event trigger logged into the queue. The log rows are deleted in the same
 * workspace transaction that reads them (DELETE … RETURNING), committed only after the queue
 * rows are written: two ingestions at once cannot both take a row, and a failed write leaves
 * the log for the next one.
 */
export async function ingestCapturedDdl(deps: SubgraphDeps, workspace: Workspace): Promise<number> {
  if (!workspace.databaseName) return 0;
  const url = platformUrlOf(deps, workspace)!;
  return withClient(url, async (client) => {
    const installed = await client.query(`SELECT to_regclass('${CAPTURE_SCHEMA}.ddl_log') IS NOT NULL AS ok`);
    if (!installed.rows[0]?.ok) return 0;
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ query: string; command_tag: string; via: string }>(
        `WITH taken AS (DELETE FROM ${CAPTURE_SCHEMA}.ddl_log RETURNING id, query, command_tag, via)
         SELECT query, command_tag, via FROM taken ORDER BY id`,
      );
      let count = 0;
      if (rows.length > 0) {
        const batches: Array<{ via: 'api' | 'direct'; changes: DdlChange[] }> = [];
        for (const row of rows) {
          batches.push({
            via: row.via === 'api' ? 'api' : 'direct',
            changes: await ddlStatementsOf(row.query, row.command_tag),
          });
        }
        await deps.db.prisma.$transaction(async (tx) => {
          for (const batch of batches)
            count += (await recordChanges(tx, workspace.id, batch.changes, batch.via)).length;
        });
      }
      await client.query('COMMIT');
      return count;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/** The pending queue, oldest first, after ingesting what direct connections did. For blueprints (I5-B). */
export async function pendingChanges(deps: SubgraphDeps, workspaceId: string): Promise<WorkspaceChange[]> {
  const workspace = await deps.db.prisma.workspace.findUniqueOrThrow({ where: { id: workspaceId } });
  await ingestCapturedDdl(deps, workspace);
  return deps.db.prisma.workspaceChange.findMany({
    where: { workspaceId, status: 'pending' },
    orderBy: { seq: 'asc' },
  });
}

/** Marks the given pending changes as deployed in a blueprint version, inside the caller's transaction. */
export async function markChangesDeployed(tx: Tx, ids: string[], versionId: string): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await tx.workspaceChange.updateMany({
    where: { id: { in: ids }, status: 'pending' },
    data: { status: 'deployed', blueprintVersionId: versionId },
  });
  return result.count;
}

// ---------------------------------------------------------------------------------------------
// Snapshot (for blueprints)

/** Dump lines that belong to a database's data or ownership, not to a schema that replays anywhere. */
const NOT_SCHEMA = /^(INSERT INTO |SELECT setval\(|ALTER (TABLE|VIEW|SEQUENCE) .* OWNER TO )/s;

/**
 * The schema of a database session's `schema` as replayable DDL, through the backup machinery
 * (tenant-dump.ts: enum types, functions, sequences, tables in foreign-key order, constraints,
 * indexes, views, triggers, all unqualified) with data, sequence positions and owners left out.
 * Must run inside a transaction on `session`.
 */
export async function schemaDdlOn(session: SqlSession, schema: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'workspace-ddl-'));
  try {
    const file = join(dir, 'schema.sql');
    await writeSchemaDump(session, { schema, tenantId: 'workspace', file, schemaOnly: true });
    const dump = await readSchemaDump(file);
    return dump.statements.map((s) => s.trim().replace(/;$/, '')).filter((s) => s !== '' && !NOT_SCHEMA.test(s));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The workspace's current schema as replayable DDL and as the introspection JSON. For blueprints (I5-B). */
export async function snapshotWorkspace(
  deps: SubgraphDeps,
  workspace: Workspace,
): Promise<{ ddl: string; snapshot: SchemaInfo }> {
  return inWorkspaceDatabase(deps, workspace, async (session) => {
    const statements = await schemaDdlOn(session, workspace.schemaName);
    // The catalog read again in the same transaction (one snapshot), as tables/columns/indexes.
    const snapshot = await describeSchemaOn(sqlSessionAsSession(session), workspace.schemaName, true);
    return { ddl: statements.map((s) => `${s};\n`).join(''), snapshot };
  });
}

function sqlSessionAsSession(session: SqlSession): Session {
  return {
    query: async (sql, params = []) => {
      const rows = await session.query<Record<string, unknown>>(sql, ...params);
      const columns = rows[0] ? Object.keys(rows[0]) : [];
      return { columns, rows: rows.map((r) => columns.map((c) => normalise(r[c]))), rowCount: rows.length };
    },
  };
}

/** Prisma returns bigint for int8; the introspection code expects numbers. */
function normalise(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(normalise);
  return value;
}

async function describeWorkspace(deps: SubgraphDeps, workspace: Workspace): Promise<SchemaInfo> {
  return withSession(deps.db, platformUrlOf(deps, workspace), (session) =>
    describeSchemaOn(session, workspace.schemaName, true),
  );
}

// ---------------------------------------------------------------------------------------------
// Views

/** What the tenancy schema's workspace types resolve from (schema/workspace.ts). */
export interface WorkspaceSummary {
  /** The workspace name: tenantsdb's `id`. */
  id: string;
  name: string;
  version: string;
  database: string;
  createdAt: Date;
}

function summaryOf(workspace: Workspace): WorkspaceSummary {
  return {
    id: workspace.name,
    name: workspace.name,
    version: workspace.version,
    database: workspace.databaseType,
    createdAt: workspace.createdAt,
  };
}

export interface DiffEntry {
  ddlId: string;
  seq: number;
  statement: string;
  command: string;
  object: string | null;
  objectType: string | null;
  capturedVia: string;
  createdAt: Date;
  reversible: boolean;
  irreversibleReason: string | null;
}

function diffEntryOf(change: WorkspaceChange): DiffEntry {
  return {
    ddlId: change.id,
    seq: change.seq,
    statement: change.statement,
    command: change.commandTag,
    object: change.objectIdentity,
    objectType: change.objectType,
    capturedVia: change.capturedVia,
    createdAt: change.createdAt,
    reversible: change.inverse !== null,
    irreversibleReason: change.irreversibleReason,
  };
}

// ---------------------------------------------------------------------------------------------
// Create, list, get, delete

const createInput = z.object({
  name: z
    .string()
    .regex(NAME, 'name: lower-case letters, digits, - and _, starting with a letter, at most 40 characters'),
  database: z.string().min(1).max(40),
});

export async function createWorkspace({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof createInput>;
}) {
  const caller = requireScope(principal, 'write:tenants');
  if (caller.tenantId !== null) throw new AppError('FORBIDDEN', 'Workspaces belong to a project');
  const data = parseInput(createInput, input);
  const databaseType = WORKSPACE_DATABASES.find((d) => d.toLowerCase() === data.database.toLowerCase());
  if (!databaseType) {
    throw new AppError('VALIDATION_ERROR', `database must be one of ${WORKSPACE_DATABASES.join(', ')}`, {
      database: data.database,
    });
  }
  if (databaseType !== 'PostgreSQL') {
    throw new AppError(
      'UNSUPPORTED_DATABASE',
      `unsupported_database: ${databaseType} workspaces need a ${databaseType} server, and none is configured; PostgreSQL is supported`,
      { database: databaseType, supported: ['PostgreSQL'] },
    );
  }
  const existing = await deps.db.prisma.workspace.findFirst({
    where: { projectId: caller.projectId, name: data.name },
  });
  if (existing) throw new AppError('CONFLICT', `Workspace '${data.name}' already exists`, { id: data.name });

  const hex = randomBytes(6).toString('hex');
  const id = `${caller.projectId ?? 'platform'}_${data.name}_dev`;
  const role = assertRoleName(`tenant_ws_${hex}`);
  const base = data.name.replace(/[^a-z0-9_]/g, '_');
  let workspace: Workspace;
  let directCapture = false;

  if (usesDedicatedServer(deps)) {
    const server = dedicatedServerUrl(deps);
    const databaseName = assertSchemaName(`${base}_${hex}_dev`.slice(0, 63));
    const password = `tdb_${randomBytes(16).toString('hex')}`;
    let createdRole = false;
    let createdDatabase = false;
    try {
      await withClient(server, async (client) => {
        await client.query(
          `CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS NOREPLICATION CONNECTION LIMIT 20`,
        );
        createdRole = true;
        const member = await client.query(`SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`, [role]);
        if (!member.rows[0]?.member) await client.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER`);
        await client.query(`CREATE DATABASE ${quoteIdent(databaseName)}`);
        createdDatabase = true;
        await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(databaseName)} FROM PUBLIC`);
        // CONNECT only: no TEMPORARY, so no session-local object can reach the deploy queue.
        await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(databaseName)} TO ${quoteIdent(role)}`);
        // Sessions of the role land in its schema; nothing else of the database is theirs.
        await client.query(
          `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(databaseName)} SET search_path TO public`,
        );
      });
      await withClient(databaseUrl(server, databaseName), async (client) => {
        for (const statement of schemaGrantStatements({ role, schemaName: 'public' })) await client.query(statement);
        const superuser = await client.query(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`);
        if (superuser.rows[0]?.rolsuper) {
          await client.query('BEGIN');
          for (const statement of CAPTURE_INSTALL) await client.query(statement);
          await client.query('COMMIT');
          directCapture = true;
        }
      });
      workspace = await deps.db.prisma.workspace.create({
        data: {
          id,
          projectId: caller.projectId,
          name: data.name,
          databaseType,
          databaseName,
          schemaName: 'public',
          loginRole: role,
          loginPassword: deps.secretBox.seal(password),
          settings: { ...DEFAULT_SETTINGS, direct_capture: directCapture },
        },
      });
    } catch (error) {
      // Compensation: a half-made workspace leaves neither a database nor a role behind.
      if (createdDatabase) await dropDatabase(server, databaseName).catch(() => undefined);
      if (createdRole) {
        await withClient(server, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`)).catch(() => undefined);
      }
      if ((error as { code?: string }).code === 'P2002') {
        throw new AppError('CONFLICT', `Workspace '${data.name}' already exists`, { id: data.name });
      }
      throw error;
    }
  } else {
    const schemaName = assertSchemaName(`ws_${hex}_${base}`.slice(0, 63));
    workspace = await deps.db.prisma
      .$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`CREATE SCHEMA ${quoteIdent(schemaName)}`);
        const sandboxRole = await provisionTenantRole(tx, { tenantId: `ws_${hex}`, schemaName });
        return tx.workspace.create({
          data: {
            id,
            projectId: caller.projectId,
            name: data.name,
            databaseType,
            schemaName,
            loginRole: sandboxRole,
            settings: { ...DEFAULT_SETTINGS, direct_capture: false },
          },
        });
      })
      .catch((error: unknown) => {
        // Two creates of one name at once: the loser's transaction (schema and role too) is rolled back.
        if ((error as { code?: string }).code === 'P2002') {
          throw new AppError('CONFLICT', `Workspace '${data.name}' already exists`, { id: data.name });
        }
        throw error;
      });
  }

  // The creator holds write:tenants (required above): the one answer that hands out the password.
  const { connection, connectionString } = connectionOf(deps, workspace, true);
  return {
    id: workspace.name,
    blueprint: workspace.name,
    database: workspace.databaseType,
    message: connection
      ? `Workspace '${workspace.name}' created. Connect with the connection details to build your schema${directCapture ? '' : ' (DDL over a direct connection is not captured: the platform user cannot install the capture event trigger; use POST /workspaces/{id}/queries)'}.`
      : `Workspace '${workspace.name}' created. ${DIRECT_CONNECTION_MESSAGE}`,
    connection,
    connectionString,
  };
}

export async function listWorkspaces({ deps, principal }: { deps: SubgraphDeps; principal: Principal | null }) {
  const caller = requireScope(principal, 'read:tenants');
  if (caller.tenantId !== null) throw new AppError('FORBIDDEN', 'Workspaces belong to a project');
  const rows = await deps.db.prisma.workspace.findMany({
    where: { projectId: caller.projectId, deletedAt: null },
    orderBy: { createdAt: 'desc' },
  });
  return rows.map(summaryOf);
}

export async function getWorkspace({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'read:tenants');
  await ingestCapturedDdl(deps, workspace);
  const [info, pending] = await Promise.all([
    describeWorkspace(deps, workspace),
    deps.db.prisma.workspaceChange.count({ where: { workspaceId: workspace.id, status: 'pending' } }),
  ]);
  const revealPassword = maySeeConnectionSecrets(principal);
  const { connection, connectionString } = connectionOf(deps, workspace, revealPassword);
  return {
    ...summaryOf(workspace),
    tables: info.tables,
    undeployedChanges: pending,
    connection,
    connectionString,
    message: !connection ? DIRECT_CONNECTION_MESSAGE : !revealPassword ? MASKED_PASSWORD_MESSAGE : null,
  };
}

export async function deleteWorkspace({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'write:tenants');
  if (workspace.databaseName) {
    const server = dedicatedServerUrl(deps);
    await dropDatabase(server, workspace.databaseName);
    if (workspace.loginRole) {
      await withClient(server, (c) =>
        c.query(`DROP ROLE IF EXISTS ${quoteIdent(assertRoleName(workspace.loginRole!))}`),
      );
    }
    await deps.db.prisma.workspace.delete({ where: { id: workspace.id } });
  } else {
    await deps.db.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${quoteIdent(assertSchemaName(workspace.schemaName))} CASCADE`);
      if (workspace.loginRole) await dropTenantRole(tx, { role: workspace.loginRole });
      await tx.workspace.delete({ where: { id: workspace.id } });
    });
  }
  return { id: workspace.name, message: `Workspace '${workspace.name}' deleted` };
}

// ---------------------------------------------------------------------------------------------
// Running SQL in the workspace

/**
 * Runs statements in the workspace's sandbox: its role and its schema, one transaction. `via`
 * labels what the event trigger logs (real PostgreSQL). `platform: true` is for statements the
 * platform generated (revert, imports): what the trigger logged for them is removed, since the
 * caller records them itself.
 *
 * Real PostgreSQL: a session logged in as the workspace's own LOGIN role (tenant-session.ts),
 * so no statement can step back to the platform's identity. PGlite (one session): SET ROLE.
 */
async function runInWorkspace<T>(
  deps: SubgraphDeps,
  workspace: Workspace,
  options: { readOnly?: boolean; timeoutMs: number; platform: boolean },
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const role = assertRoleName(workspace.loginRole ?? '');
  const schema = assertSchemaName(workspace.schemaName);
  const url = platformUrlOf(deps, workspace);
  if (url) {
    if (!workspace.loginPassword) throw new AppError('INTERNAL_ERROR', 'Workspace without a login password');
    let xid: string | null = null;
    const result = await withTenantSession(
      deps,
      { role, url, credential: { sealed: workspace.loginPassword }, schemaName: schema },
      {
        readOnly: options.readOnly ?? false,
        timeoutMs: options.timeoutMs,
        settings: { 'workspace.capture_via': 'api' },
      },
      async (session) => {
        const value = await fn(session);
        if (options.platform) xid = String((await session.query('SELECT txid_current()::text')).rows[0]?.[0]);
        return value;
      },
    );
    if (xid !== null) {
      // The capture log is the platform's (PUBLIC cannot reach it): cleaned on its connection.
      await withClient(url, async (client) => {
        const installed = await client.query(`SELECT to_regclass('${CAPTURE_SCHEMA}.ddl_log') IS NOT NULL AS ok`);
        if (installed.rows[0]?.ok) await client.query(`DELETE FROM ${CAPTURE_SCHEMA}.ddl_log WHERE xid = $1`, [xid]);
      });
    }
    return result;
  }
  return withSession(
    deps.db,
    url,
    async (session) => {
      if (options.readOnly) await session.query('SET TRANSACTION READ ONLY');
      await session.query(`SET LOCAL statement_timeout = ${Math.trunc(options.timeoutMs)}`);
      await session.query(`SET LOCAL search_path TO ${quoteIdent(schema)}, pg_temp`);
      await session.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
      const result = await fn(session);
      // Belt and braces, as for tenant SQL: a statement that left the sandbox is rolled back.
      const check = await session.query(`SELECT current_user::text`);
      if (check.rows[0]?.[0] !== role) {
        throw new AppError('FORBIDDEN', 'invalid_query: the statement tried to leave its workspace sandbox', {
          reason: 'sandbox_escape',
        });
      }
      return result;
    },
    { timeoutMs: options.timeoutMs },
  );
}

function sqlTarget(workspace: Workspace) {
  return {
    id: workspace.id,
    slug: workspace.name,
    projectId: workspace.projectId,
    schemaName: workspace.schemaName,
    role: workspace.loginRole ?? '',
    databaseUrl: null,
  };
}

const queryInput = z.object({ query: z.string().min(1).max(100_000) });

export async function runWorkspaceQuery({
  deps,
  principal,
  id,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
  input: z.input<typeof queryInput>;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'write:tenants');
  const data = parseInput(queryInput, input);
  const settings = settingsOf(workspace);
  // Without allow_api_ddl the query runs read-only, and the guard takes reads only.
  const statement = await parseSingleStatement(data.query, { door: settings.allow_api_ddl ? 'write' : 'read' });
  // Earlier direct-connection DDL goes first in the queue.
  await ingestCapturedDdl(deps, workspace);
  const started = performance.now();
  let out;
  try {
    out = await runInWorkspace(
      deps,
      workspace,
      { readOnly: !settings.allow_api_ddl, timeoutMs: settings.query_timeout_ms, platform: false },
      async (session) => {
        if (statement.cursorable) {
          await session.query(`DECLARE workspace_query NO SCROLL CURSOR FOR ${data.query}`);
          const fetched = await session.query(`FETCH FORWARD ${MAX_ROWS + 1} FROM workspace_query`);
          await session.query('CLOSE workspace_query');
          return { ...fetched, rowCount: fetched.rows.length };
        }
        return session.query(data.query);
      },
    );
  } catch (error) {
    throw sqlErrorToAppError(error, sqlTarget(workspace));
  }
  const executionMs = Math.round((performance.now() - started) * 100) / 100;
  let captured: DiffEntry[] = [];
  if (statement.kind === 'ddl') {
    if (workspace.databaseName && (await captureInstalled(deps, workspace))) {
      // The trigger logged it: what this statement added is what came after the queue's end.
      const before = await deps.db.prisma.workspaceChange.aggregate({
        where: { workspaceId: workspace.id },
        _max: { seq: true },
      });
      await ingestCapturedDdl(deps, workspace);
      const added = await deps.db.prisma.workspaceChange.findMany({
        where: { workspaceId: workspace.id, capturedVia: 'api', seq: { gt: before._max.seq ?? 0 } },
        orderBy: { seq: 'asc' },
      });
      captured = added.map(diffEntryOf);
    } else {
      const changes = await ddlStatementsOf(statement.text);
      captured = (await deps.db.prisma.$transaction((tx) => recordChanges(tx, workspace.id, changes, 'api'))).map(
        diffEntryOf,
      );
    }
  }
  const truncated = out.rows.length > MAX_ROWS;
  const rows = truncated ? out.rows.slice(0, MAX_ROWS) : out.rows;
  return {
    columns: out.columns,
    rows: rows.map((row) => row.map(jsonValue)),
    rowCount: truncated ? MAX_ROWS : Math.max(out.rowCount, rows.length),
    truncated,
    executionTimeMs: executionMs,
    captured,
  };
}

async function captureInstalled(deps: SubgraphDeps, workspace: Workspace): Promise<boolean> {
  return withClient(platformUrlOf(deps, workspace)!, async (client) => {
    const result = await client.query(`SELECT to_regclass('${CAPTURE_SCHEMA}.ddl_log') IS NOT NULL AS ok`);
    return Boolean(result.rows[0]?.ok);
  });
}

function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  return value;
}

/**
 * Runs platform-made DDL (imports) in the workspace and records it as captured changes, all or
 * nothing on the workspace side: a statement that fails rolls the whole import back.
 */
export async function applyAndRecord(
  deps: SubgraphDeps,
  workspace: Workspace,
  statements: string[],
  capturedVia: 'import',
): Promise<WorkspaceChange[]> {
  await ingestCapturedDdl(deps, workspace);
  const changes: DdlChange[] = [];
  for (const statement of statements) changes.push(...(await ddlStatementsOf(statement)));
  try {
    await runInWorkspace(deps, workspace, { timeoutMs: MAX_TIMEOUT_MS, platform: true }, async (session) => {
      for (const statement of statements) await session.query(statement);
    });
  } catch (error) {
    throw sqlErrorToAppError(error, sqlTarget(workspace));
  }
  return deps.db.prisma.$transaction((tx) => recordChanges(tx, workspace.id, changes, capturedVia));
}

// ---------------------------------------------------------------------------------------------
// Diff: list, skip, revert

export async function workspaceDiff({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'read:tenants');
  const changes = await pendingChanges(deps, workspace.id);
  return { workspace: workspace.name, changes: changes.map(diffEntryOf) };
}

async function loadChange(deps: SubgraphDeps, workspace: Workspace, ddlId: string): Promise<WorkspaceChange> {
  const change = await deps.db.prisma.workspaceChange.findFirst({ where: { id: ddlId, workspaceId: workspace.id } });
  if (!change) throw new AppError('NOT_FOUND', 'Change not found', { ddl_id: ddlId });
  if (change.status !== 'pending') {
    throw new AppError('CONFLICT', `Change ${ddlId} is ${change.status}, not pending`, {
      ddl_id: ddlId,
      status: change.status,
    });
  }
  return change;
}

export async function skipChange({
  deps,
  principal,
  id,
  ddlId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
  ddlId: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'write:tenants');
  await ingestCapturedDdl(deps, workspace);
  const change = await loadChange(deps, workspace, ddlId);
  const updated = await deps.db.prisma.workspaceChange.updateMany({
    where: { id: change.id, status: 'pending' },
    data: { status: 'skipped' },
  });
  if (updated.count === 0) throw new AppError('CONFLICT', `Change ${ddlId} is no longer pending`, { ddl_id: ddlId });
  return {
    ddlId: change.id,
    status: 'skipped',
    message: 'Skipped: the next deploy leaves this change out (the workspace itself keeps it).',
  };
}

export async function revertChange({
  deps,
  principal,
  id,
  ddlId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
  ddlId: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'write:tenants');
  await ingestCapturedDdl(deps, workspace);
  const change = await loadChange(deps, workspace, ddlId);
  if (!change.inverse) {
    throw new AppError('BAD_REQUEST', `not_reversible: ${change.irreversibleReason ?? 'no inverse is known'}`, {
      reason: 'not_reversible',
      ddl_id: change.id,
      command: change.commandTag,
      explanation: change.irreversibleReason,
    });
  }
  try {
    await runInWorkspace(deps, workspace, { timeoutMs: MAX_TIMEOUT_MS, platform: true }, async (session) => {
      await session.query(change.inverse!);
    });
  } catch (error) {
    throw sqlErrorToAppError(error, sqlTarget(workspace));
  }
  await deps.db.prisma.workspaceChange.update({ where: { id: change.id }, data: { status: 'reverted' } });
  return { ddlId: change.id, status: 'reverted', revertedWith: change.inverse };
}

// ---------------------------------------------------------------------------------------------
// Schema and settings

export async function workspaceSchema({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'read:tenants');
  const info = await describeWorkspace(deps, workspace);
  return {
    workspace: workspace.name,
    database: workspace.databaseType,
    tables: info.tables,
  };
}

export async function getWorkspaceSettings({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'read:tenants');
  return { workspace: workspace.name, settings: settingsOf(workspace) };
}

export async function updateWorkspaceSettings({
  deps,
  principal,
  id,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
  input: unknown;
}) {
  const workspace = await loadWorkspace(deps, principal, id, 'write:tenants');
  const changes = parseInput(workspaceSettingsSchema.partial(), input);
  const stored = (workspace.settings ?? {}) as Record<string, unknown>;
  const settings = { ...settingsOf(workspace), ...changes };
  await deps.db.prisma.workspace.update({
    where: { id: workspace.id },
    data: { settings: { ...stored, ...settings } },
  });
  return { workspace: workspace.name, settings };
}

/** What the tenancy schema's workspace types resolve from (schema/workspace.ts). */
export type CreatedWorkspace = Awaited<ReturnType<typeof createWorkspace>>;
export type WorkspaceDetail = Awaited<ReturnType<typeof getWorkspace>>;
export type WorkspaceQueryResult = Awaited<ReturnType<typeof runWorkspaceQuery>>;
