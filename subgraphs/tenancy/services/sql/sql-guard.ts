import { parse, type ParseResult } from 'libpg-query';
import { AppError } from '../../../../lib/errors.js';

/**
 * Tenant SQL is parsed with PostgreSQL's own grammar (libpg-query, the server's parser compiled
 * to WASM: no native build, same dialect as the server) before it reaches the database.
 *
 * The parser is the second of two walls: the database itself enforces schema isolation (the
 * tenant role) and read-only mode (a read-only transaction). It works by allowlists, not by
 * denylists: statement kinds per door (read-only queries get SELECT / EXPLAIN / SHOW only), the
 * node types a statement may contain, and the functions it may call, so that anything not
 * reviewed (session and role changes, transaction control, function creation, COPY, grants,
 * functions that run SQL text or touch files, large objects, locks…) is refused. Schema names are deliberately NOT checked here, so that a
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

/**
 * Which door a statement came through. `read`: a read-only query (tenant SQL with read_only, a
 * workspace that does not allow DDL through the API); only reads pass. `write`: a read-write
 * query, a migration or an import; data changes and schema DDL pass too.
 */
export type SqlDoor = 'read' | 'write';

/** Statements a tenant may run, by door. Everything else is refused with its node type as the reason. */
const READ_STATEMENTS: Record<string, StatementKind> = {
  SelectStmt: 'select',
  ExplainStmt: 'select',
  VariableShowStmt: 'other',
};

const WRITE_STATEMENTS: Record<string, StatementKind> = {
  ...READ_STATEMENTS,
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'update',
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

/** Object kinds DDL may name (DROP, RENAME, COMMENT ON): no schema, role, database, function, extension… */
const ALLOWED_OBJECT_KINDS = new Set([
  'OBJECT_TABLE',
  'OBJECT_COLUMN',
  'OBJECT_INDEX',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_SEQUENCE',
  'OBJECT_TYPE',
  'OBJECT_DOMAIN',
  'OBJECT_TABCONSTRAINT',
  'OBJECT_DOMCONSTRAINT',
  'OBJECT_ATTRIBUTE',
]);

/** ALTER TABLE actions: columns, constraints, identity, partitions. No OWNER, TRIGGER, TABLESPACE, INHERIT… */
const ALLOWED_ALTER_TABLE = new Set([
  'AT_AddColumn',
  'AT_DropColumn',
  'AT_AlterColumnType',
  'AT_ColumnDefault',
  'AT_SetNotNull',
  'AT_DropNotNull',
  'AT_AddConstraint',
  'AT_DropConstraint',
  'AT_ValidateConstraint',
  'AT_AlterConstraint',
  'AT_AddIdentity',
  'AT_SetIdentity',
  'AT_DropIdentity',
  'AT_SetExpression',
  'AT_DropExpression',
  'AT_AttachPartition',
  'AT_DetachPartition',
  'AT_SetStatistics',
]);

/** SHOW of these settings only: others can describe the server (paths, libraries, config files). */
const SHOWABLE_SETTINGS = new Set([
  'search_path',
  'timezone',
  'datestyle',
  'intervalstyle',
  'statement_timeout',
  'transaction_read_only',
  'transaction_isolation',
  'server_version',
  'server_version_num',
  'client_encoding',
  'server_encoding',
  'standard_conforming_strings',
  'lc_collate',
  'lc_ctype',
]);

/**
 * Expression and clause nodes a statement may hold (the wrapper keys of libpg-query's JSON
 * tree). A node type not listed (XML, XMLTABLE, CURRENT OF, role specs in OWNER TO, function
 * signatures…) is refused, so a construct added by a future PostgreSQL is refused until looked at.
 */
const ALLOWED_NODES = new Set([
  'A_ArrayExpr',
  'A_Const',
  'A_Expr',
  'A_Indices',
  'A_Indirection',
  'A_Star',
  'Alias',
  'AlterTableCmd',
  'BitString',
  'Boolean',
  'BooleanTest',
  'BoolExpr',
  'CaseExpr',
  'CaseWhen',
  'CoalesceExpr',
  'CollateClause',
  'ColumnDef',
  'ColumnRef',
  'CommonTableExpr',
  'Constraint',
  'DefElem',
  'Float',
  'FuncCall',
  'GroupingFunc',
  'GroupingSet',
  'IndexElem',
  'Integer',
  'IntoClause',
  'JoinExpr',
  'JsonAggConstructor',
  'JsonArrayAgg',
  'JsonArrayConstructor',
  'JsonArrayQueryConstructor',
  'JsonBehavior',
  'JsonFormat',
  'JsonFuncExpr',
  'JsonIsPredicate',
  'JsonKeyValue',
  'JsonObjectAgg',
  'JsonObjectConstructor',
  'JsonOutput',
  'JsonParseExpr',
  'JsonReturning',
  'JsonScalarExpr',
  'JsonSerializeExpr',
  'JsonTable',
  'JsonTableColumn',
  'JsonTablePathSpec',
  'JsonValueExpr',
  'List',
  'LockingClause',
  'MergeWhenClause',
  'MinMaxExpr',
  'MultiAssignRef',
  'NamedArgExpr',
  'NullTest',
  'OnConflictClause',
  'ParamRef',
  'PartitionBoundSpec',
  'PartitionCmd',
  'PartitionElem',
  'PartitionRangeDatum',
  'PartitionSpec',
  'RangeFunction',
  'RangeSubselect',
  'RangeTableSample',
  'RangeVar',
  'ResTarget',
  'RowExpr',
  'SetToDefault',
  'SortBy',
  'SQLValueFunction',
  'String',
  'SubLink',
  'TableLikeClause',
  'TypeCast',
  'TypeName',
  'WindowDef',
  'WithClause',
]);

/**
 * Functions a tenant statement may call: pure computations on values (text, numbers, dates,
 * aggregates, windows, JSON, arrays, ranges, full-text search, uuids, hashes) and the tenant's
 * own sequences. Anything else is refused, whatever the schema qualification: functions that run
 * SQL text (query_to_xml, ts_stat…), large objects, files, advisory locks, settings, sleep,
 * dblink, backend signals, catalog probes… An allowlist, so a function nobody reviewed never runs.
 */
const ALLOWED_FUNCTIONS = new Set(
  `
  ascii btrim bit_length char_length character_length chr concat concat_ws convert_from convert_to
  decode encode format initcap left length lower lpad ltrim md5 normalize is_normalized octet_length
  overlay parse_ident position similar_to_escape quote_ident quote_literal quote_nullable regexp_count regexp_instr
  regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table
  regexp_substr repeat replace reverse right rpad rtrim sha224 sha256 sha384 sha512 split_part
  starts_with string_to_array string_to_table strpos substr substring to_ascii to_hex translate trim
  unistr upper casefold
  abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10 min_scale mod pi power
  pow radians random random_normal round scale sign sqrt trim_scale trunc width_bucket
  acos acosd asin asind atan atand atan2 atan2d cos cosd cot cotd sin sind tan tand
  sinh cosh tanh asinh acosh atanh erf erfc
  age clock_timestamp current_date date_add date_bin date_part date_subtract date_trunc extract
  isfinite justify_days justify_hours justify_interval localtime localtimestamp make_date
  make_interval make_time make_timestamp make_timestamptz now statement_timestamp timeofday
  timezone to_char to_date to_number to_timestamp transaction_timestamp
  any_value array_agg avg bit_and bit_or bit_xor bool_and bool_or corr count covar_pop covar_samp
  every json_agg json_agg_strict jsonb_agg jsonb_agg_strict json_object_agg jsonb_object_agg
  json_object_agg_strict jsonb_object_agg_strict json_object_agg_unique jsonb_object_agg_unique
  json_object_agg_unique_strict jsonb_object_agg_unique_strict max min mode percentile_cont
  percentile_disc range_agg range_intersect_agg regr_avgx regr_avgy regr_count regr_intercept
  regr_r2 regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp string_agg sum
  var_pop var_samp variance
  cume_dist dense_rank first_value lag last_value lead nth_value ntile percent_rank rank row_number
  array_to_json json_array_elements json_array_elements_text json_array_length json_build_array
  json_build_object json_each json_each_text json_extract_path json_extract_path_text json_object
  json_object_keys json_populate_record json_populate_recordset json_scalar json_strip_nulls
  json_to_record json_to_recordset json_typeof jsonb_array_elements jsonb_array_elements_text
  jsonb_array_length jsonb_build_array jsonb_build_object jsonb_each jsonb_each_text
  jsonb_extract_path jsonb_extract_path_text jsonb_insert jsonb_object jsonb_object_keys
  jsonb_path_exists jsonb_path_exists_tz jsonb_path_match jsonb_path_match_tz jsonb_path_query
  jsonb_path_query_array jsonb_path_query_array_tz jsonb_path_query_first jsonb_path_query_first_tz
  jsonb_path_query_tz jsonb_populate_record jsonb_populate_record_valid jsonb_populate_recordset
  jsonb_pretty jsonb_set jsonb_set_lax jsonb_strip_nulls jsonb_to_record jsonb_to_recordset
  jsonb_typeof row_to_json to_json to_jsonb
  array_append array_cat array_dims array_fill array_length array_lower array_ndims array_position
  array_positions array_prepend array_remove array_replace array_reverse array_sample array_shuffle
  array_sort array_to_string array_upper cardinality generate_series generate_subscripts trim_array
  unnest
  daterange int4range int8range numrange tsrange tstzrange datemultirange int4multirange
  int8multirange nummultirange tsmultirange tstzmultirange isempty lower_inc lower_inf range_merge
  upper_inc upper_inf multirange
  array_to_tsvector phraseto_tsquery plainto_tsquery setweight strip to_tsquery to_tsvector
  ts_headline ts_rank ts_rank_cd tsvector_to_array websearch_to_tsquery numnode querytree
  json_to_tsvector jsonb_to_tsvector
  gen_random_uuid uuid_generate_v1 uuid_generate_v1mc uuid_generate_v4 uuid_nil uuidv4 uuidv7
  uuid_extract_timestamp uuid_extract_version crypt digest gen_random_bytes gen_salt hmac
  nextval currval setval num_nonnulls num_nulls pg_typeof current_schema current_database
  current_user current_role session_user
  abbrev broadcast family host hostmask inet_merge inet_same_family masklen netmask network
  set_masklen
  bool bytea date float4 float8 int2 int4 int8 interval json jsonb numeric text time timestamp
  timestamptz uuid varchar
  `
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * Types whose input functions look names up in the catalog (roles, functions, operators…).
 * `regclass` stays allowed: every serial or identity column's default is `nextval('…'::regclass)`,
 * so schemas dumped from PostgreSQL (workspace imports) need it, and what it resolves is a table
 * name the session user's own privileges then govern.
 */
const DENIED_TYPES = /^(reg(collation|config|dictionary|namespace|oper|operator|proc|procedure|role|type)|pg_.*)$/;

/** Schemas a tenant statement may name a function by: the built-ins' and the extensions'. */
const FUNCTION_SCHEMAS = new Set(['pg_catalog', 'public']);

/** Catalog schemas: what they hold (other tenants' table names, roles, settings) is not the tenant's. */
const CATALOG_SCHEMAS = /^(pg_catalog|information_schema|pg_toast|pg_temp.*|pg_toast_temp.*)$/i;

/**
 * How deep a statement's tree may go. Deeper than any hand-written SQL; it stops a crafted
 * `1+1+1…` or `((((…))))` from exhausting the stack of the checker (or of JSON handling) while
 * still answering a clear 400.
 */
export const MAX_PARSE_DEPTH = 500;

function invalidQuery(reason: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('VALIDATION_ERROR', `invalid_query: ${reason}`, { reason, ...details });
}

/** The same code and reason the database's own read-only refusal maps to (25006). */
function readOnlyRefused(what: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('FORBIDDEN', `read_only: ${what} is not allowed in a read-only query`, {
    reason: 'read_only',
    ...details,
  });
}

export interface ParseOptions {
  /** Default `write`: migrations, imports, read-write queries. */
  door?: SqlDoor;
}

/** Parses one script into statements; a syntax error or an empty script is `invalid_query`. */
export async function parseSql(sql: string, options: ParseOptions = {}): Promise<ParsedStatement[]> {
  const door = options.door ?? 'write';
  if (sql.trim() === '') throw invalidQuery('the query is empty');
  let result: ParseResult;
  try {
    result = await parse(sql);
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    if (error instanceof RangeError || /memory exhausted|stack depth/i.test((error as Error).message ?? '')) {
      // libpg-query (or its JSON decoding) ran out of stack or memory on deeply nested input.
      throw invalidQuery('the query is nested too deeply', { max_depth: MAX_PARSE_DEPTH });
    }
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
    const facts = { dataModifying: false, into: false };
    checkStatement(type, node[type], door, 0, facts);
    const cursorable = type === 'SelectStmt' && !facts.into && !facts.dataModifying;
    return { type, kind: WRITE_STATEMENTS[type] ?? 'other', text, cursorable };
  });
}

/** Exactly one statement (tenant query endpoints). */
export async function parseSingleStatement(sql: string, options: ParseOptions = {}): Promise<ParsedStatement> {
  const statements = await parseSql(sql, options);
  if (statements.length !== 1) {
    throw invalidQuery(`exactly one statement per request is allowed, found ${statements.length}`, {
      statements: statements.length,
    });
  }
  return statements[0]!;
}

interface Facts {
  /** A data-modifying statement nested in a SELECT (WITH … DELETE): no cursor for it. */
  dataModifying: boolean;
  /** SELECT … INTO: creates a table, no cursor either. */
  into: boolean;
}

function checkStatement(type: string, body: unknown, door: SqlDoor, depth: number, facts: Facts): void {
  if (!(type in WRITE_STATEMENTS)) {
    throw invalidQuery(`${describe(type)} is not allowed in tenant SQL`, { statement_type: type });
  }
  if (door === 'read' && !(type in READ_STATEMENTS)) {
    throw readOnlyRefused(describe(type), { statement_type: type });
  }
  const record = (body ?? {}) as Record<string, unknown>;
  switch (type) {
    case 'DropStmt':
      checkObjectKind(type, 'DROP', record.removeType);
      break;
    case 'RenameStmt':
      checkObjectKind(type, 'ALTER … RENAME', record.renameType);
      break;
    case 'CommentStmt':
      checkObjectKind(type, 'COMMENT ON', record.objtype);
      break;
    case 'AlterTableStmt':
      // ALTER INDEX / VIEW / SEQUENCE … go through the same node; the object kind says which.
      checkObjectKind(type, 'ALTER', record.objtype);
      break;
    case 'ExplainStmt': {
      const analyze = ((record.options ?? []) as { DefElem?: { defname?: string } }[]).some(
        (option) => option.DefElem?.defname?.toLowerCase() === 'analyze',
      );
      // EXPLAIN ANALYZE runs the statement; a read-only door takes the plan only.
      if (analyze && door === 'read') throw readOnlyRefused('EXPLAIN ANALYZE', { statement_type: type });
      break;
    }
    case 'VariableShowStmt': {
      const name = String(record.name ?? '').toLowerCase();
      if (!SHOWABLE_SETTINGS.has(name)) {
        throw invalidQuery(`SHOW ${name} is not allowed in tenant SQL`, { statement_type: type, setting: name });
      }
      break;
    }
    case 'SelectStmt':
      if (record.intoClause) {
        facts.into = true;
        if (door === 'read') throw readOnlyRefused('SELECT … INTO', { statement_type: type });
      }
      if (record.lockingClause && door === 'read') {
        throw readOnlyRefused('SELECT … FOR UPDATE / SHARE', { statement_type: type });
      }
      break;
  }
  walk(record, door, depth + 1, facts);
}

function checkObjectKind(type: string, verb: string, kind: unknown): void {
  const name = typeof kind === 'string' ? kind : 'OBJECT_UNKNOWN';
  if (!ALLOWED_OBJECT_KINDS.has(name)) {
    throw invalidQuery(`${verb} of ${name.replace('OBJECT_', '').toLowerCase()} is not allowed in tenant SQL`, {
      statement_type: type,
      object_type: name,
    });
  }
}

/**
 * Visits every node of the tree: each wrapper node must be on the allowlist, each function call
 * on the function allowlist, wherever it hides (subquery, CTE, default, check constraint, view
 * body, function argument, cast…).
 */
function walk(node: unknown, door: SqlDoor, depth: number, facts: Facts): void {
  if (depth > MAX_PARSE_DEPTH) {
    throw invalidQuery('the query is nested too deeply', { max_depth: MAX_PARSE_DEPTH });
  }
  if (Array.isArray(node)) {
    for (const item of node) walk(item, door, depth + 1, facts);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  // Temporary objects outlive the transaction on a pooled (or, on PGlite, the one shared) session.
  if (record.relpersistence === 't' || (typeof record.schemaname === 'string' && /^pg_temp/i.test(record.schemaname))) {
    throw invalidQuery('temporary tables, views and sequences are not allowed in tenant SQL');
  }
  // RangeVar and TypeName sit unwrapped in many fields (INSERT's target, a cast's type): checked
  // by shape, not by wrapper key.
  if (typeof record.relname === 'string') checkRelation(record);
  if (record.typeName !== undefined) checkType(record.typeName);
  if (typeof record.tablespacename === 'string') {
    throw invalidQuery('TABLESPACE is not allowed in tenant SQL', { tablespace: record.tablespacename });
  }
  for (const [key, value] of Object.entries(record)) {
    if (/^[A-Z]/.test(key)) {
      if (key.endsWith('Stmt')) {
        // A statement inside another: a subquery, a CTE (WITH x AS (DELETE …)), EXPLAIN's target.
        if (key !== 'SelectStmt') facts.dataModifying = true;
        checkStatement(key, value, door, depth, facts);
        continue;
      }
      if (!ALLOWED_NODES.has(key)) {
        throw invalidQuery(`${describe(key)} is not allowed in tenant SQL`, { node_type: key });
      }
      if (key === 'FuncCall') checkFunction(value);
      if (key === 'TypeName') checkType(value);
      if (key === 'AlterTableCmd') checkAlterTable(value);
      if (key === 'LockingClause' && door === 'read') throw readOnlyRefused('FOR UPDATE / SHARE');
    }
    walk(value, door, depth + 1, facts);
  }
}

function namesOf(list: unknown): string[] {
  return ((list ?? []) as { String?: { sval?: string } }[]).map((part) => (part.String?.sval ?? '').toLowerCase());
}

function checkFunction(call: unknown): void {
  const names = namesOf((call as { funcname?: unknown }).funcname);
  const name = names.at(-1) ?? '';
  const qualified = names.join('.');
  if (names.length > 2 || (names.length === 2 && !FUNCTION_SCHEMAS.has(names[0]!)) || !ALLOWED_FUNCTIONS.has(name)) {
    throw invalidQuery(`function ${qualified}() is not allowed in tenant SQL`, { function: qualified });
  }
}

function checkType(typeName: unknown): void {
  const names = namesOf((typeName as { names?: unknown }).names);
  const name = names.at(-1) ?? '';
  if (DENIED_TYPES.test(name)) {
    throw invalidQuery(`type ${name} is not allowed in tenant SQL`, { type: name });
  }
}

function checkRelation(rangeVar: unknown): void {
  const { schemaname, relname } = rangeVar as { schemaname?: string; relname?: string };
  // Unqualified pg_* names resolve to pg_catalog (always first on the search path).
  if ((schemaname && CATALOG_SCHEMAS.test(schemaname)) || (!schemaname && /^pg_/i.test(relname ?? ''))) {
    const name = schemaname ? `${schemaname}.${relname}` : relname;
    throw invalidQuery(`the system catalog (${name}) is not readable from tenant SQL`, { relation: name });
  }
}

function checkAlterTable(command: unknown): void {
  const subtype = String((command as { subtype?: string }).subtype ?? 'AT_Unknown');
  if (!ALLOWED_ALTER_TABLE.has(subtype)) {
    throw invalidQuery(`ALTER TABLE ${subtype.replace(/^AT_/, '')} is not allowed in tenant SQL`, {
      alter_type: subtype,
    });
  }
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
    NotifyStmt: 'NOTIFY',
    ListenStmt: 'LISTEN',
    UnlistenStmt: 'UNLISTEN',
    AlterSystemStmt: 'ALTER SYSTEM',
    VariableSetStmt_RESET: 'RESET',
    InsertStmt: 'INSERT',
    UpdateStmt: 'UPDATE',
    DeleteStmt: 'DELETE',
    MergeStmt: 'MERGE',
    CreateStmt: 'CREATE TABLE',
    CreateTableAsStmt: 'CREATE TABLE AS',
    XmlExpr: 'XML',
    RangeTableFunc: 'XMLTABLE',
    CurrentOfExpr: 'WHERE CURRENT OF',
    RoleSpec: 'a role name (OWNER TO, AUTHORIZATION…)',
    ObjectWithArgs: 'a function or operator reference',
  };
  return names[type] ?? type.replace(/Stmt$/, '');
}

export function statementKindOf(statement: ParsedStatement | null): StatementKind | null {
  return statement?.kind ?? null;
}
