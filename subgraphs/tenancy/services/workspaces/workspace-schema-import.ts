import { parse } from 'libpg-query';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { WORKSPACE_TEMPLATES } from '../../workspace-templates/index.js';
import { connectSourceDatabase } from './source-connection.js';
import { parseSql } from '../sql/sql-guard.js';
import { inClientTransaction } from '../tenants/tenant-databases.js';
import { quoteIdent } from '../sql/identifiers.js';
import { applyAndRecord, loadWorkspace, schemaDdlOn } from './workspaces.js';

/**
 * `POST /workspaces/{id}/schema`: a schema imported into a workspace from a built-in template, a
 * JSON table list, or a live PostgreSQL database (introspected). Whatever the source, the result
 * is plain DDL that passes the same SQL guard as tenant SQL, runs in the workspace's sandbox in
 * one transaction (all or nothing), and lands in the change queue as `import` changes.
 */

const identifier = z.string().min(1).max(63);

const columnSchema = z
  .object({
    name: identifier,
    type: z.string().min(1).max(100),
    nullable: z.boolean().default(true),
    default: z.string().min(1).max(500).nullish(),
    primary_key: z.boolean().default(false),
    unique: z.boolean().default(false),
  })
  .strict();

const tableSchema = z
  .object({ name: identifier, columns: z.array(columnSchema).min(1).max(400) })
  .strict()
  .refine((t) => new Set(t.columns.map((c) => c.name)).size === t.columns.length, {
    message: 'column names must be unique within a table',
  });

const connectionSchema = z
  .object({
    type: z.string().refine((t) => t.toLowerCase() === 'postgresql', {
      message: 'unsupported_database: only postgresql sources can be introspected',
    }),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1).max(63),
    user: z.string().min(1).max(63),
    password: z.string().max(1000).default(''),
    schema: z.string().min(1).max(63).default('public'),
  })
  .strict();

const importInput = z.discriminatedUnion('source', [
  z.object({ source: z.literal('template'), template: z.string().min(1).max(50) }).strict(),
  z
    .object({
      source: z.literal('json'),
      tables: z
        .array(tableSchema)
        .min(1)
        .max(200)
        .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, { message: 'table names must be unique' }),
    })
    .strict(),
  z.object({ source: z.literal('database'), connection: connectionSchema }).strict(),
]);

export type SchemaImportInput = z.input<typeof importInput>;

const invalid = (message: string, details: Record<string, unknown>) =>
  new AppError('VALIDATION_ERROR', message, details);

/** A type is accepted only if PostgreSQL's grammar reads it as one bare type name, nothing more. */
async function checkType(type: string, where: string): Promise<void> {
  let tree;
  try {
    tree = await parse(`CREATE TABLE t (c ${type})`);
  } catch {
    throw invalid(`${where}: '${type}' is not a PostgreSQL type`, { type });
  }
  const create =
    tree.stmts?.length === 1
      ? (tree.stmts[0]!.stmt as { CreateStmt?: { tableElts?: unknown[] } }).CreateStmt
      : undefined;
  const column =
    create?.tableElts?.length === 1
      ? (create.tableElts[0] as { ColumnDef?: Record<string, unknown> }).ColumnDef
      : undefined;
  if (!column || column.constraints || column.collClause)
    throw invalid(`${where}: '${type}' is not a PostgreSQL type`, { type });
}

/** A default must be a single expression: `SELECT <expr>` with nothing else around it. */
async function checkDefault(expression: string, where: string): Promise<void> {
  let tree;
  try {
    tree = await parse(`SELECT ${expression}`);
  } catch {
    throw invalid(`${where}: the default is not an SQL expression`, { default: expression });
  }
  const select =
    tree.stmts?.length === 1 ? (tree.stmts[0]!.stmt as { SelectStmt?: Record<string, unknown> }).SelectStmt : undefined;
  const keys = select ? Object.keys(select).filter((k) => !['targetList', 'limitOption', 'op'].includes(k)) : ['?'];
  if (!select || keys.length > 0 || (select.targetList as unknown[] | undefined)?.length !== 1) {
    throw invalid(`${where}: the default must be a single expression`, { default: expression });
  }
}

export async function jsonTablesToDdl(tables: z.output<typeof tableSchema>[]): Promise<string[]> {
  const statements: string[] = [];
  for (const table of tables) {
    const keys = table.columns.filter((c) => c.primary_key).map((c) => quoteIdent(c.name));
    const defs: string[] = [];
    for (const column of table.columns) {
      const where = `tables.${table.name}.columns.${column.name}`;
      await checkType(column.type, where);
      let def = `${quoteIdent(column.name)} ${column.type}`;
      if (column.default) {
        await checkDefault(column.default, where);
        def += ` DEFAULT ${column.default}`;
      }
      if (!column.nullable || column.primary_key) def += ' NOT NULL';
      if (column.unique && !(column.primary_key && keys.length === 1)) def += ' UNIQUE';
      defs.push(def);
    }
    if (keys.length > 0) defs.push(`PRIMARY KEY (${keys.join(', ')})`);
    statements.push(`CREATE TABLE ${quoteIdent(table.name)} (\n  ${defs.join(',\n  ')}\n)`);
  }
  return statements;
}

/**
 * The source database's schema as DDL, through the same catalog reader as backups, in one
 * read-only snapshot. The password is used for this one connection: it is not stored, not
 * logged and not part of any error this returns.
 */
async function introspectSource(deps: SubgraphDeps, connection: z.output<typeof connectionSchema>): Promise<string[]> {
  // The same outbound rules as data import: public addresses only unless allowed, one answer for
  // every failure to connect (SOURCE_NOT_ALLOWED, SOURCE_UNREACHABLE).
  const client = await connectSourceDatabase(deps, connection, { statementTimeoutMs: 30_000 });
  try {
    const exists = await client.query(`SELECT to_regnamespace($1) IS NOT NULL AS ok`, [connection.schema]);
    if (!exists.rows[0]?.ok)
      throw invalid(`The source has no schema '${connection.schema}'`, { schema: connection.schema });
    return await inClientTransaction(client, async (session) => {
      await session.execute('SET TRANSACTION READ ONLY');
      return schemaDdlOn(session, connection.schema);
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function importWorkspaceSchema({
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
  const data = parseInput(importInput, input);
  let statements: string[];
  let label: string;
  if (data.source === 'template') {
    const template = WORKSPACE_TEMPLATES[data.template];
    if (!template) {
      throw new AppError('NOT_FOUND', `No template '${data.template}'`, {
        template: data.template,
        templates: Object.keys(WORKSPACE_TEMPLATES),
      });
    }
    statements = [...template];
    label = `template '${data.template}'`;
  } else if (data.source === 'json') {
    statements = await jsonTablesToDdl(data.tables);
    label = `${data.tables.length} table(s) from JSON`;
  } else {
    statements = await introspectSource(deps, data.connection);
    if (statements.length === 0) throw invalid('The source schema holds no tables', { schema: data.connection.schema });
    label = `database ${data.connection.host}:${data.connection.port}/${data.connection.database}`;
  }
  // The same wall as tenant SQL: what it refuses (functions, triggers, grants…) is refused here.
  for (const statement of statements) await parseSql(statement);
  const changes = await applyAndRecord(deps, workspace, statements, 'import');
  return {
    workspace: workspace.name,
    source: data.source,
    message: `Imported ${label}: ${changes.length} change(s) captured`,
    ddlIds: changes.map((c) => c.id),
  };
}
