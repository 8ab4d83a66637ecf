import { parse, type ParseResult } from 'libpg-query';
import { AppError } from '../../../lib/errors.js';

/**
 * Tenant SQL is parsed with PostgreSQL's own grammar (libpg-query, the server's parser compiled
 * to WASM: no native build, same dialect as the server) before it reaches the database.
 *
 * The parser is the first of two walls, not the only one: it refuses what must never run in a
 * tenant sandbox (session and role changes, transaction control, function creation, COPY,
 * grants…), while the database itself enforces schema isolation (the tenant role) and read-only
 * mode (a read-only transaction). Schema names are deliberately NOT checked here, so that a
 * cross-tenant statement is refused by PostgreSQL, where it cannot be talked around.
 *
 * Why the parser must refuse role changes: `SET ROLE` is checked against the session user, and
 * the platform's connection user may assume every tenant role (or be a superuser), so a tenant
 * statement that could run SET ROLE / set_config('role', …) or define a function doing so would
 * leave its sandbox. Function creation and DO blocks are refused for the same reason: their
 * bodies are strings the parser cannot see into.
 */

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'ddl' | 'other';

export interface ParsedStatement {
  /** The parse-tree node type, e.g. SelectStmt. */
  type: string;
  kind: StatementKind;
  /** The statement's own text (for multi-statement scripts), without the trailing semicolon. */
  text: string;
  /**
   * A plain SELECT that can run behind a cursor (so the row cap fetches no more than it keeps):
   * no SELECT INTO and no data-modifying WITH, which PostgreSQL refuses in DECLARE CURSOR.
   */
  cursorable: boolean;
}

/** Statements a tenant may run. Everything else is refused with its node type as the reason. */
const ALLOWED_STATEMENTS: Record<string, StatementKind> = {
  SelectStmt: 'select',
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'update',
  ExplainStmt: 'select',
  VariableShowStmt: 'other',
  CreateStmt: 'ddl',
  CreateTableAsStmt: 'ddl',
  RefreshMatViewStmt: 'ddl',
  AlterTableStmt: 'ddl',
  DropStmt: 'ddl',
  IndexStmt: 'ddl',
  ViewStmt: 'ddl',
  CreateSeqStmt: 'ddl',
  AlterSeqStmt: 'ddl',
  TruncateStmt: 'ddl',
  CommentStmt: 'ddl',
  RenameStmt: 'ddl',
  CreateEnumStmt: 'ddl',
  AlterEnumStmt: 'ddl',
  CompositeTypeStmt: 'ddl',
  CreateDomainStmt: 'ddl',
  AlterDomainStmt: 'ddl',
};

/** DROP of these object kinds only: no DROP SCHEMA / ROLE / EXTENSION / FUNCTION … */
const ALLOWED_DROP_KINDS = new Set([
  'OBJECT_TABLE',
  'OBJECT_INDEX',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_SEQUENCE',
  'OBJECT_TYPE',
  'OBJECT_DOMAIN',
]);

/**
 * Built-in functions a tenant statement may not call, whatever the schema qualification:
 * set_config can change the role or lift read-only mode; session-level advisory locks outlive
 * the transaction on a pooled connection (and the platform's own migration runner uses one);
 * large objects and NOTIFY are database-wide, outside any schema; dblink would open a new session.
 */
const DENIED_FUNCTIONS = new Set([
  'set_config',
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
  'pg_notify',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'lo_create',
  'lo_creat',
  'lo_import',
  'lo_export',
  'lo_unlink',
  'lo_from_bytea',
  'lo_put',
  'lo_get',
  'lo_open',
  'dblink',
  'dblink_exec',
  'dblink_connect',
]);

function invalidQuery(reason: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('VALIDATION_ERROR', `invalid_query: ${reason}`, { reason, ...details });
}

/** Parses one script into statements; a syntax error or an empty script is `invalid_query`. */
export async function parseSql(sql: string): Promise<ParsedStatement[]> {
  if (sql.trim() === '') throw invalidQuery('the query is empty');
  let result: ParseResult;
  try {
    result = await parse(sql);
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    throw invalidQuery(`syntax error: ${(error as Error).message}`, {
      ...(details?.cursorPosition !== undefined ? { position: details.cursorPosition } : {}),
    });
  }
  const stmts = result.stmts ?? [];
  if (stmts.length === 0) throw invalidQuery('the query holds no statement');
  // stmt_location / stmt_len count bytes of the UTF-8 text, not UTF-16 code units.
  const bytes = Buffer.from(sql, 'utf8');
  return stmts.map((raw) => {
    const node = raw.stmt as Record<string, unknown>;
    const type = Object.keys(node)[0] ?? 'Unknown';
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const text = bytes.subarray(start, end).toString('utf8').trim();
    checkStatement(type, node[type]);
    const serialized = JSON.stringify(node[type]);
    const cursorable =
      type === 'SelectStmt' && !/"(intoClause|InsertStmt|UpdateStmt|DeleteStmt|MergeStmt)"/.test(serialized);
    return { type, kind: ALLOWED_STATEMENTS[type] ?? 'other', text, cursorable };
  });
}

/** Exactly one statement (tenant query endpoints). */
export async function parseSingleStatement(sql: string): Promise<ParsedStatement> {
  const statements = await parseSql(sql);
  if (statements.length !== 1) {
    throw invalidQuery(`exactly one statement per request is allowed, found ${statements.length}`, {
      statements: statements.length,
    });
  }
  return statements[0]!;
}

function checkStatement(type: string, body: unknown): void {
  if (!(type in ALLOWED_STATEMENTS)) {
    throw invalidQuery(`${describe(type)} is not allowed in tenant SQL`, { statement_type: type });
  }
  if (type === 'DropStmt') {
    const removeType = (body as { removeType?: string }).removeType ?? '';
    if (!ALLOWED_DROP_KINDS.has(removeType)) {
      throw invalidQuery(`DROP of ${removeType.replace('OBJECT_', '').toLowerCase()} is not allowed in tenant SQL`, {
        statement_type: type,
      });
    }
  }
  walk(body);
}

/** Visits every node: a denied function is refused wherever it hides (subquery, CTE, default…). */
function walk(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  // Temporary objects outlive the transaction on a pooled (or, on PGlite, the one shared) session.
  if (record.relpersistence === 't' || (typeof record.schemaname === 'string' && /^pg_temp/i.test(record.schemaname))) {
    throw invalidQuery('temporary tables, views and sequences are not allowed in tenant SQL');
  }
  for (const [key, value] of Object.entries(record)) {
    if (key === 'FuncCall') checkFunction(value);
    // EXPLAIN wraps another statement: it must pass the same checks (EXPLAIN ANALYZE runs it).
    if (key === 'stmt' || key === 'query') {
      const inner = value as Record<string, unknown> | null;
      const innerType = inner && typeof inner === 'object' ? Object.keys(inner)[0] : undefined;
      if (innerType?.endsWith('Stmt')) {
        checkStatement(innerType, inner![innerType]);
        continue;
      }
    }
    walk(value);
  }
}

function checkFunction(call: unknown): void {
  const names = ((call as { funcname?: { String?: { sval?: string } }[] }).funcname ?? []).map(
    (part) => part.String?.sval ?? '',
  );
  const name = (names.at(-1) ?? '').toLowerCase();
  if (DENIED_FUNCTIONS.has(name)) {
    throw invalidQuery(`function ${name}() is not allowed in tenant SQL`, { function: name });
  }
  walk(call);
}

function describe(type: string): string {
  const names: Record<string, string> = {
    VariableSetStmt: 'SET / RESET',
    TransactionStmt: 'transaction control',
    DoStmt: 'DO',
    CreateFunctionStmt: 'CREATE FUNCTION / PROCEDURE',
    CopyStmt: 'COPY',
    GrantStmt: 'GRANT / REVOKE',
    GrantRoleStmt: 'GRANT / REVOKE role',
    CreateSchemaStmt: 'CREATE SCHEMA',
    CreateExtensionStmt: 'CREATE EXTENSION',
    CreateRoleStmt: 'CREATE ROLE',
    AlterRoleStmt: 'ALTER ROLE',
    CallStmt: 'CALL',
    DiscardStmt: 'DISCARD',
    LockStmt: 'LOCK',
    CreateTrigStmt: 'CREATE TRIGGER',
  };
  return names[type] ?? type.replace(/Stmt$/, '');
}

export function statementKindOf(statement: ParsedStatement | null): StatementKind | null {
  return statement?.kind ?? null;
}
