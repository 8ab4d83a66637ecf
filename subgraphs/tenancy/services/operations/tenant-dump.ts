import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type pg from 'pg';
import { AppError } from '../../../../lib/errors.js';
import type { Prisma } from '../../../../prisma/generated/client.js';
import { assertSchemaName, quoteIdent, quoteLiteral } from '../sql/identifiers.js';

/**
 * A tenant schema's dump, generated from the catalog in JS: no pg_dump binary is assumed (a fresh
 * machine has only Node). The file is plain SQL that psql can also replay (with search_path set to
 * the target schema): every object name is unqualified, so one dump restores into any schema.
 *
 *   -- platform-tenant-dump {"version":1, "schema", "tenant_id", "created_at", "separator"}
 *   -- stmt <separator>
 *   CREATE TABLE ...;
 *   ...
 *   -- end <separator> {"tables","rows","table_rows","sha256"}
 *
 * Statements are split on the `-- stmt <separator>` lines, where the separator is 16 random bytes
 * chosen per dump (and checked to occur in no statement), so no SQL lexer is needed to read it
 * back, and data may hold any text. The trailer's sha256 covers everything before it: a truncated
 * or edited file is refused before anything is restored.
 *
 * Order (pg_dump's): enum types, functions, sequences, tables, data, then constraints, indexes,
 * foreign keys, sequence values, views, triggers and owners. Foreign keys come after the data, so
 * rows load in any order; tables are still written parents first.
 */

export const DUMP_FORMAT = 'platform-tenant-dump';
const DUMP_VERSION = 1;
const ROWS_PER_INSERT = 200;
const FETCH_SIZE = 1000;

/** A SQL connection the dump and restore run on: the platform's Prisma transaction, or a pg client on a dedicated database. */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  execute(sql: string): Promise<void>;
}

export function prismaSession(tx: Prisma.TransactionClient): SqlSession {
  return {
    query: (sql, ...params) => tx.$queryRawUnsafe(sql, ...params),
    execute: async (sql) => {
      await tx.$executeRawUnsafe(sql);
    },
  };
}

export function pgSession(client: pg.ClientBase): SqlSession {
  return {
    query: async <T>(sql: string, ...params: unknown[]) => (await client.query(sql, params)).rows as T[],
    execute: async (sql) => {
      await client.query(sql);
    },
  };
}

export interface DumpStats {
  tables: number;
  rows: number;
  /** Rows per table, as dumped: what a restore is verified against. */
  tableRows: Record<string, number>;
}

export interface DumpResult extends DumpStats {
  sizeBytes: number;
  /** sha256 of the whole file, hex. */
  checksum: string;
}

interface TableInfo {
  oid: number;
  name: string;
}

interface ColumnInfo {
  rel: number;
  name: string;
  type: string;
  not_null: boolean;
  default_expr: string | null;
  identity: string;
  generated: string;
}

/** Unsupported kinds are refused rather than silently left out of a dump that claims to be restorable. */
async function assertDumpable(session: SqlSession, schema: string): Promise<void> {
  const rows = await session.query<{ what: string }>(
    `SELECT format('%s %I', CASE c.relkind WHEN 'm' THEN 'materialized view' WHEN 'p' THEN 'partitioned table'
                                           WHEN 'f' THEN 'foreign table' ELSE 'relation' END, c.relname) AS what
       FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('m', 'p', 'f')
     UNION ALL
     SELECT format('%s %I', CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'type' END, t.typname)
       FROM pg_type t
      WHERE t.typnamespace = $1::regnamespace AND t.typtype IN ('d', 'r', 'm')
     UNION ALL
     SELECT format('composite type %I', t.typname) FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
      WHERE t.typnamespace = $1::regnamespace AND t.typtype = 'c' AND c.relkind = 'c'
     UNION ALL
     SELECT format('%s %I', CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'window function' END, p.proname)
       FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND p.prokind IN ('a', 'w')
     UNION ALL
     SELECT format('extension %I installed in the tenant schema', e.extname) FROM pg_extension e
      WHERE e.extnamespace = $1::regnamespace
     UNION ALL
     SELECT format('inherited table %I', c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE c.relnamespace = $1::regnamespace`,
    schema,
  );
  if (rows.length > 0) {
    throw new AppError('NOT_IMPLEMENTED', 'The tenant schema holds objects the backup format does not cover yet', {
      objects: rows.map((r) => r.what),
    });
  }
}

/** Parents before children (foreign keys), then by creation order; cycles keep creation order. */
function orderTables(tables: TableInfo[], references: Array<{ child: number; parent: number }>): TableInfo[] {
  const parents = new Map<number, Set<number>>(tables.map((t) => [t.oid, new Set<number>()]));
  for (const { child, parent } of references) if (child !== parent) parents.get(child)?.add(parent);
  const ordered: TableInfo[] = [];
  const done = new Set<number>();
  const visiting = new Set<number>();
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  const visit = (oid: number) => {
    if (done.has(oid) || visiting.has(oid)) return;
    visiting.add(oid);
    for (const parent of parents.get(oid) ?? []) visit(parent);
    visiting.delete(oid);
    done.add(oid);
    const table = byOid.get(oid);
    if (table) ordered.push(table);
  };
  for (const table of tables) visit(table.oid);
  return ordered;
}

/**
 * Reads the catalog and data of `schema` and writes the dump to `file` (through a temp file and a
 * rename, so a reader never sees half a dump). Must run inside a transaction on `session`: the
 * snapshot keeps DDL and data consistent, and `SET LOCAL search_path` makes the catalog's own
 * deparsers (pg_get_expr, pg_get_constraintdef, format_type) print names unqualified.
 */
export async function writeSchemaDump(
  session: SqlSession,
  options: {
    schema: string;
    tenantId: string;
    file: string;
    /** Platform state that belongs with this schema (the applied tenant migrations), kept in the header. */
    metadata?: Record<string, unknown>;
    onProgress?: (fraction: number) => Promise<void>;
    /** DDL only (workspace snapshots, schema imports): no row is read, so a big database costs nothing extra. */
    schemaOnly?: boolean;
  },
): Promise<DumpResult> {
  const schema = assertSchemaName(options.schema);
  await session.execute(`SET LOCAL search_path TO ${quoteIdent(schema)}, pg_catalog`);
  await assertDumpable(session, schema);
  const separator = randomBytes(16).toString('hex');

  const tables = await session.query<TableInfo>(
    `SELECT c.oid::int AS oid, c.relname AS name FROM pg_class c
      WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' ORDER BY c.oid`,
    schema,
  );
  const columns = await session.query<ColumnInfo>(
    `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
            a.attidentity::text AS identity, a.attgenerated::text AS generated
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    schema,
  );
  const constraints = await session.query<{ rel: number; name: string; type: string; def: string }>(
    `SELECT con.conrelid::int AS rel, con.conname AS name, con.contype::text AS type,
            pg_get_constraintdef(con.oid) AS def
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
      WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND con.contype IN ('p', 'u', 'c', 'x', 'f')
      ORDER BY CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 WHEN 'c' THEN 3 ELSE 4 END, con.oid`,
    schema,
  );
  const references = await session.query<{ child: number; parent: number }>(
    `SELECT con.conrelid::int AS child, con.confrelid::int AS parent FROM pg_constraint con
      WHERE con.connamespace = $1::regnamespace AND con.contype = 'f'`,
    schema,
  );
  const indexes = await session.query<{ rel: number; def: string }>(
    `SELECT i.indrelid::int AS rel, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relnamespace = $1::regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
      ORDER BY i.indexrelid`,
    schema,
  );
  const enums = await session.query<{ name: string; labels: string }>(
    `SELECT t.typname AS name, json_agg(e.enumlabel ORDER BY e.enumsortorder)::text AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE t.typnamespace = $1::regnamespace GROUP BY t.oid, t.typname ORDER BY t.oid`,
    schema,
  );
  const functions = await session.query<{ name: string; def: string }>(
    `SELECT p.proname AS name, pg_get_functiondef(p.oid) AS def FROM pg_proc p
      WHERE p.pronamespace = $1::regnamespace AND p.prokind IN ('f', 'p') ORDER BY p.oid`,
    schema,
  );
  // Sequences an identity column makes for itself come back with the column; the others are created here.
  const sequences = await session.query<{
    name: string;
    type: string;
    start: string;
    increment: string;
    min: string;
    max: string;
    cache: string;
    cycle: boolean;
    owned_table: string | null;
    owned_column: string | null;
    identity_table: string | null;
    identity_column: string | null;
    last_value: string | null;
  }>(
    `SELECT c.relname AS name, format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start,
            s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
            s.seqcache::text AS cache, s.seqcycle AS cycle,
            (SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' AND d.refobjsubid > 0 LIMIT 1) AS owned_table,
            (SELECT a.attname FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' LIMIT 1) AS owned_column,
            (SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i' AND d.refobjsubid > 0 LIMIT 1) AS identity_table,
            (SELECT a.attname FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i' LIMIT 1) AS identity_column,
            ps.last_value::text AS last_value
       FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
       LEFT JOIN pg_sequences ps ON ps.schemaname = $1 AND ps.sequencename = c.relname
      WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'S' ORDER BY c.oid`,
    schema,
  );
  const views = await session.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, pg_get_viewdef(c.oid) AS def FROM pg_class c
      WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'v' ORDER BY c.oid`,
    schema,
  );
  const triggers = await session.query<{ table_name: string; def: string }>(
    `SELECT c.relname AS table_name, pg_get_triggerdef(tg.oid) AS def FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
      WHERE c.relnamespace = $1::regnamespace AND NOT tg.tgisinternal ORDER BY tg.oid`,
    schema,
  );
  // Objects the tenant's own role created (its tenant SQL) keep that owner, so it can still alter them.
  const owners = await session.query<{ kind: string; name: string; owner: string }>(
    `SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' ELSE 'SEQUENCE' END AS kind,
            c.relname AS name, pg_get_userbyid(c.relowner) AS owner
       FROM pg_class c
      WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'v', 'S') AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
      ORDER BY c.oid`,
    schema,
  );

  const qualifiedPrefix = (name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
  /** pg_get_indexdef and pg_get_triggerdef always qualify the table: make it relative again. */
  const unqualifyOn = (def: string, table: string) => {
    const forms = [
      `${quoteIdent(schema)}.${quoteIdent(table)}`,
      `${schema}.${quoteIdent(table)}`,
      `${schema}.${table}`,
    ];
    for (const form of forms) {
      for (const on of [' ON ONLY ', ' ON ']) {
        const at = def.indexOf(`${on}${form} `);
        if (at !== -1)
          return `${def.slice(0, at)}${on}${quoteIdent(table)} ${def.slice(at + on.length + form.length + 1)}`;
      }
    }
    throw new AppError('INTERNAL_ERROR', 'Unexpected index or trigger definition', { table });
  };
  const tableName = new Map(tables.map((t) => [t.oid, t.name]));
  const ordered = orderTables(tables, references);

  const pre: string[] = [];
  for (const e of enums) {
    const labels = JSON.parse(e.labels) as string[];
    pre.push(`CREATE TYPE ${quoteIdent(e.name)} AS ENUM (${labels.map(quoteLiteral).join(', ')})`);
  }
  for (const f of functions) {
    const def = f.def.replace(
      new RegExp(`^(CREATE OR REPLACE (?:FUNCTION|PROCEDURE) )(?:"${schema}"|${schema})\\.`),
      '$1',
    );
    pre.push(def.trimEnd());
  }
  for (const s of sequences.filter((seq) => seq.identity_table === null)) {
    pre.push(
      `CREATE SEQUENCE ${quoteIdent(s.name)} AS ${s.type} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache}${s.cycle ? ' CYCLE' : ''}`,
    );
  }
  for (const table of ordered) {
    const defs = columns
      .filter((c) => c.rel === table.oid)
      .map((c) => {
        let def = `${quoteIdent(c.name)} ${c.type}`;
        if (c.generated === 's') def += ` GENERATED ALWAYS AS ${c.default_expr} STORED`;
        else if (c.identity === 'a') def += ' GENERATED ALWAYS AS IDENTITY';
        else if (c.identity === 'd') def += ' GENERATED BY DEFAULT AS IDENTITY';
        else if (c.default_expr !== null) def += ` DEFAULT ${c.default_expr}`;
        if (c.not_null) def += ' NOT NULL';
        return def;
      });
    pre.push(`CREATE TABLE ${quoteIdent(table.name)} (${defs.length > 0 ? `\n  ${defs.join(',\n  ')}\n` : ''})`);
  }
  for (const s of sequences) {
    if (s.owned_table && s.owned_column) {
      pre.push(
        `ALTER SEQUENCE ${quoteIdent(s.name)} OWNED BY ${quoteIdent(s.owned_table)}.${quoteIdent(s.owned_column)}`,
      );
    }
  }

  const post: string[] = [];
  for (const c of constraints.filter((con) => con.type !== 'f')) {
    post.push(`ALTER TABLE ${quoteIdent(tableName.get(c.rel)!)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.def}`);
  }
  for (const i of indexes) post.push(unqualifyOn(i.def, tableName.get(i.rel)!));
  for (const c of constraints.filter((con) => con.type === 'f')) {
    post.push(`ALTER TABLE ${quoteIdent(tableName.get(c.rel)!)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.def}`);
  }
  for (const s of sequences) {
    if (s.last_value === null) continue;
    const target =
      s.identity_table && s.identity_column
        ? `pg_get_serial_sequence(${quoteLiteral(quoteIdent(s.identity_table))}, ${quoteLiteral(s.identity_column)})`
        : quoteLiteral(quoteIdent(s.name));
    post.push(`SELECT setval(${target}, ${s.last_value}, true)`);
  }
  for (const v of views) post.push(`CREATE VIEW ${quoteIdent(v.name)} AS ${v.def.trim().replace(/;$/, '')}`);
  for (const t of triggers) post.push(unqualifyOn(t.def, t.table_name));
  for (const o of owners) post.push(`ALTER ${o.kind} ${quoteIdent(o.name)} OWNER TO ${quoteIdent(o.owner)}`);

  const temp = `${options.file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  const handle = await open(temp, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  const write = async (text: string) => {
    const buffer = Buffer.from(text, 'utf8');
    hash.update(buffer);
    size += buffer.length;
    await handle.write(buffer);
  };
  const statement = async (sql: string) => {
    if (sql.includes(separator)) throw new AppError('INTERNAL_ERROR', 'Dump separator collision; run the backup again');
    await write(`-- stmt ${separator}\n${sql};\n`);
  };

  const tableRows: Record<string, number> = {};
  let rows = 0;
  try {
    const header = {
      version: DUMP_VERSION,
      schema,
      tenant_id: options.tenantId,
      created_at: new Date().toISOString(),
      separator,
      metadata: options.metadata ?? {},
    };
    await write(`-- ${DUMP_FORMAT} ${JSON.stringify(header)}\n`);
    await write(`-- Restore: psql -v ON_ERROR_STOP=1 with search_path set to the target schema.\n`);
    for (const sql of pre) await statement(sql);

    let done = 0;
    for (const table of options.schemaOnly ? [] : ordered) {
      const cols = columns.filter((c) => c.rel === table.oid && c.generated !== 's');
      const overriding = cols.some((c) => c.identity === 'a') ? ' OVERRIDING SYSTEM VALUE' : '';
      const columnList = cols.map((c) => quoteIdent(c.name)).join(', ');
      // Text form of every value (what COPY writes): an untyped literal is read back as the column's type.
      const select = `SELECT json_build_array(${cols.map((c) => `${quoteIdent(c.name)}::text`).join(', ')})::text AS r FROM ${qualifiedPrefix(table.name)}`;
      await session.execute(`DECLARE tenant_dump_cursor NO SCROLL CURSOR FOR ${select}`);
      let count = 0;
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await statement(
          `INSERT INTO ${quoteIdent(table.name)} (${columnList})${overriding} VALUES\n${batch.join(',\n')}`,
        );
        batch = [];
      };
      for (;;) {
        const fetched = await session.query<{ r: string }>(`FETCH ${FETCH_SIZE} FROM tenant_dump_cursor`);
        for (const { r } of fetched) {
          const values = JSON.parse(r) as Array<string | null>;
          batch.push(`(${values.map((v) => (v === null ? 'NULL' : quoteLiteral(v))).join(', ')})`);
          count += 1;
          if (batch.length >= ROWS_PER_INSERT) await flush();
        }
        if (fetched.length < FETCH_SIZE) break;
      }
      await flush();
      await session.execute('CLOSE tenant_dump_cursor');
      tableRows[table.name] = count;
      rows += count;
      done += 1;
      await options.onProgress?.(done / Math.max(1, ordered.length));
    }

    for (const sql of post) await statement(sql);
    const body = hash.copy().digest('hex');
    await write(
      `-- end ${separator} ${JSON.stringify({ tables: ordered.length, rows, table_rows: tableRows, sha256: body })}\n`,
    );
    await handle.sync();
    await handle.close();
    await rename(temp, options.file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  return { tables: ordered.length, rows, tableRows, sizeBytes: size, checksum: hash.digest('hex') };
}

export interface ParsedDump {
  schema: string;
  tenantId: string;
  createdAt: string;
  statements: string[];
  stats: DumpStats;
  checksum: string;
  metadata: Record<string, unknown>;
}

const corrupt = (reason: string) => new AppError('VALIDATION_ERROR', `Backup file is not a valid dump: ${reason}`);

/** Reads a dump back, refusing anything whose header, trailer or checksum does not hold. */
export async function readSchemaDump(file: string): Promise<ParsedDump> {
  const buffer = await readFile(file);
  const text = buffer.toString('utf8');
  const firstLineEnd = text.indexOf('\n');
  const firstLine = firstLineEnd === -1 ? text : text.slice(0, firstLineEnd);
  const prefix = `-- ${DUMP_FORMAT} `;
  if (!firstLine.startsWith(prefix)) throw corrupt('missing header');
  let header: {
    version?: unknown;
    schema?: unknown;
    tenant_id?: unknown;
    created_at?: unknown;
    separator?: unknown;
    metadata?: unknown;
  };
  try {
    header = JSON.parse(firstLine.slice(prefix.length)) as typeof header;
  } catch {
    throw corrupt('unreadable header');
  }
  if (header.version !== DUMP_VERSION) throw corrupt(`unsupported version ${String(header.version)}`);
  const separator = header.separator;
  if (typeof separator !== 'string' || !/^[0-9a-f]{32}$/.test(separator)) throw corrupt('bad separator');
  const endMarker = `-- end ${separator} `;
  const endAt = text.lastIndexOf(`\n${endMarker}`);
  if (endAt === -1) throw corrupt('missing trailer (truncated file?)');
  const body = text.slice(0, endAt + 1);
  const trailerLine = text.slice(endAt + 1 + endMarker.length).replace(/\n$/, '');
  let trailer: { tables?: unknown; rows?: unknown; table_rows?: unknown; sha256?: unknown };
  try {
    trailer = JSON.parse(trailerLine) as typeof trailer;
  } catch {
    throw corrupt('unreadable trailer');
  }
  if (createHash('sha256').update(body, 'utf8').digest('hex') !== trailer.sha256) throw corrupt('checksum mismatch');
  if (
    typeof trailer.tables !== 'number' ||
    typeof trailer.rows !== 'number' ||
    typeof trailer.table_rows !== 'object' ||
    trailer.table_rows === null
  ) {
    throw corrupt('bad trailer');
  }
  const marker = `-- stmt ${separator}\n`;
  const parts = body.split(marker);
  const statements = parts.slice(1).map((part) => part.replace(/;\n$/, ''));
  return {
    schema: String(header.schema),
    tenantId: String(header.tenant_id),
    createdAt: String(header.created_at),
    statements,
    stats: {
      tables: trailer.tables,
      rows: trailer.rows,
      tableRows: trailer.table_rows as Record<string, number>,
    },
    checksum: createHash('sha256').update(buffer).digest('hex'),
    metadata:
      typeof header.metadata === 'object' && header.metadata !== null
        ? (header.metadata as Record<string, unknown>)
        : {},
  };
}

/**
 * Replays a dump into a new schema `target` on `session` (inside the caller's transaction, so a
 * failure leaves nothing behind), then checks the tables and row counts against the trailer.
 */
export async function restoreSchemaDump(
  session: SqlSession,
  dump: ParsedDump,
  options: { target: string; onProgress?: (fraction: number) => Promise<void> },
): Promise<void> {
  const target = quoteIdent(assertSchemaName(options.target));
  await session.execute(`CREATE SCHEMA ${target}`);
  await session.execute(`SET LOCAL search_path TO ${target}, pg_catalog`);
  // Function bodies may name tables created later in the dump (pg_dump does the same).
  await session.execute('SET LOCAL check_function_bodies = off');
  const step = Math.max(1, Math.floor(dump.statements.length / 20));
  for (const [index, sql] of dump.statements.entries()) {
    await session.execute(sql);
    if (index % step === 0) await options.onProgress?.(index / dump.statements.length);
  }
  await verifyRestoredSchema(session, options.target, dump.stats);
}

export async function verifyRestoredSchema(session: SqlSession, schema: string, stats: DumpStats): Promise<void> {
  const tables = await session.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'`,
    schema,
  );
  if (tables.length !== stats.tables) {
    throw new AppError('INTERNAL_ERROR', 'Restored schema does not match the backup', {
      expected_tables: stats.tables,
      restored_tables: tables.length,
    });
  }
  for (const [table, expected] of Object.entries(stats.tableRows)) {
    const [row] = await session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`,
    );
    if (row?.n !== expected) {
      throw new AppError('INTERNAL_ERROR', 'Restored schema does not match the backup', {
        table,
        expected_rows: expected,
        restored_rows: row?.n ?? null,
      });
    }
  }
}
