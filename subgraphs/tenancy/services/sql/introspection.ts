import { z } from 'zod';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { quoteIdent } from './identifiers.js';
import { resolveSqlTenant, withSession, type Session } from './tenant-sql.js';

/**
 * A tenant schema described from the catalog (pg_catalog), never from what the platform thinks
 * it created: tables the tenant made with its own SQL or migrations show up the same way.
 * The schema name comes from the tenant record and is bound as a parameter.
 */

// oids are unsigned 32-bit: they travel as int8 (a JS number), never int4, which overflows past 2^31.

/**
 * Tables up to this many estimated rows are counted exactly (`count(*)`); bigger ones report the
 * planner's estimate (pg_class.reltuples) with `row_count_estimated: true`, so describing a huge
 * table stays cheap.
 */
export const EXACT_COUNT_LIMIT = 100_000;

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  default?: string;
  constraints?: string[];
}

export interface IndexInfo {
  name: string;
  columns: string[];
  type: string;
  unique: boolean;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  indexes?: IndexInfo[];
  row_count: number;
  row_count_estimated: boolean;
  size_mb: number;
}

export interface SchemaInfo {
  schema: string;
  tables: TableInfo[];
}

const input = z.object({
  schema: z.string().min(1).max(100).nullish(),
  tenantId: z.string().min(1).max(100).nullish(),
  table: z.string().min(1).max(63).nullish(),
  includeIndexes: z.boolean().default(false),
});

const CONSTRAINT_NAMES: Record<string, string> = {
  p: 'PRIMARY KEY',
  u: 'UNIQUE',
  f: 'FOREIGN KEY',
  c: 'CHECK',
  x: 'EXCLUDE',
};

/** The documented spellings: `varchar(255)` rather than format_type's `character varying(255)`. */
function shortType(type: string): string {
  return type.replace(/^character varying/, 'varchar').replace(/^character(?=\(|$)/, 'char');
}

export async function describeTenantSchema({
  deps,
  principal,
  input: raw,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof input>;
}): Promise<SchemaInfo> {
  requireScope(principal, 'read:tenants');
  const data = parseInput(input, raw);
  const tenant = await resolveSqlTenant({ deps, principal, schema: data.schema, tenantId: data.tenantId });
  // The database that holds the tenant's data (its dedicated one at isolation level 2), read in
  // one transaction as the platform's connection user: the catalog, not the tenant, is asked.
  return withSession(deps.db, tenant.databaseUrl, (session) =>
    describe(objectsOf(session), tenant.schemaName, data.table ?? null, data.includeIndexes),
  );
}

type ObjectQuery = <T>(sql: string, ...params: unknown[]) => Promise<T[]>;

function objectsOf(session: Session): ObjectQuery {
  return async <T>(sql: string, ...params: unknown[]) => {
    const { columns, rows } = await session.query(sql, params);
    return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])) as T);
  };
}

async function describe(
  query: ObjectQuery,
  schemaName: string,
  tableName: string | null,
  includeIndexes: boolean,
): Promise<SchemaInfo> {
  const tables = await query<{ oid: number; name: string; estimate: number; bytes: number }>(
    `SELECT c.oid::int8 AS oid, c.relname AS name, c.reltuples::float8 AS estimate,
            pg_total_relation_size(c.oid)::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND ($2::text IS NULL OR c.relname = $2)
      ORDER BY c.relname`,
    schemaName,
    tableName,
  );
  if (tables.length === 0) return { schema: schemaName, tables: [] };
  const oids = tables.map((t) => t.oid);

  const columns = await query<{
    rel: number;
    num: number;
    name: string;
    type: string;
    notnull: boolean;
    dflt: string | null;
  }>(
    `SELECT a.attrelid::int8 AS rel, a.attnum::int AS num, a.attname AS name,
            format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
            pg_get_expr(d.adbin, d.adrelid) AS dflt
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ANY($1::int8[]::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    oids,
  );
  const constraints = await query<{ rel: number; type: string; cols: number[] }>(
    `SELECT conrelid::int8 AS rel, contype::text AS type, conkey::int[] AS cols
       FROM pg_constraint WHERE conrelid = ANY($1::int8[]::oid[]) AND contype IN ('p', 'u', 'f', 'c', 'x')`,
    oids,
  );
  const indexes = includeIndexes
    ? await query<{ rel: number; name: string; columns: string[]; method: string; primary: boolean; unique: boolean }>(
        `SELECT i.indrelid::int8 AS rel, ic.relname AS name, am.amname AS method,
                i.indisprimary AS primary, i.indisunique AS unique,
                ARRAY(SELECT pg_get_indexdef(i.indexrelid, k + 1, true)
                        FROM generate_subscripts(i.indkey, 1) AS k ORDER BY k) AS columns
           FROM pg_index i
           JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_am am ON am.oid = ic.relam
          WHERE i.indrelid = ANY($1::int8[]::oid[])
          ORDER BY ic.relname`,
        oids,
      )
    : [];

  const result: TableInfo[] = [];
  for (const table of tables) {
    const tableConstraints = constraints.filter((c) => c.rel === table.oid);
    const estimated = table.estimate > EXACT_COUNT_LIMIT;
    let rowCount = Math.max(0, Math.round(table.estimate));
    if (!estimated) {
      // Identifiers come from the catalog and are quoted; counting runs as the platform user.
      const [row] = await query<{ n: number }>(
        `SELECT count(*)::float8 AS n FROM ${quoteIdent(schemaName)}.${quoteIdent(table.name)}`,
      );
      rowCount = row?.n ?? 0;
    }
    const info: TableInfo = {
      name: table.name,
      columns: columns
        .filter((c) => c.rel === table.oid)
        .map((c) => {
          const names = tableConstraints
            .filter((k) => (k.cols ?? []).includes(c.num))
            .map((k) => CONSTRAINT_NAMES[k.type] ?? k.type);
          return {
            name: c.name,
            type: shortType(c.type),
            nullable: !c.notnull,
            ...(c.dflt !== null ? { default: c.dflt } : {}),
            ...(names.length > 0 ? { constraints: [...new Set(names)] } : {}),
          };
        }),
      row_count: rowCount,
      row_count_estimated: estimated,
      size_mb: Math.round((table.bytes / 1024 / 1024) * 100) / 100,
    };
    if (includeIndexes) {
      info.indexes = indexes
        .filter((i) => i.rel === table.oid)
        .map((i) => ({
          name: i.name,
          columns: i.columns,
          type: i.primary ? 'primary_key' : i.method,
          unique: i.unique,
        }));
    }
    result.push(info);
  }
  return { schema: schemaName, tables: result };
}

/** The same description of any schema, on a session the caller opened (workspaces). */
export function describeSchemaOn(session: Session, schemaName: string, includeIndexes = true): Promise<SchemaInfo> {
  return describe(objectsOf(session), schemaName, null, includeIndexes);
}
