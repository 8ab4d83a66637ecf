import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute } from '../route.js';

// core-platform "Database Operations": tenant SQL, schema introspection and tenant migrations,
// all owned by the tenancy subgraph. A tenant-bound key may omit `schema` (its own tenant).

const jsonValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.any()),
  z.record(z.string(), z.any()),
]);

const query = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/database/query',
  summary: "Run one SQL statement in a tenant's schema, under the tenant's own database role",
  rateLimit: 'core-platform.database-query',
  input: {
    body: z.object({
      query: z.string().min(1),
      parameters: z.array(jsonValue).optional(),
      schema: z.string().min(1).optional(),
      read_only: z.boolean().optional(),
      timeout_ms: z.number().int().optional(),
    }),
  },
  operation: graphql(`
    mutation CorePlatformDatabaseQuery($input: TenantQueryInput!) {
      executeTenantQuery(input: $input) {
        queryId
        executionTimeMs
        rowCount
        rows
        columns
        schema
        truncated
        timeoutEnforced
      }
    }
  `),
  variables: ({ body }) => ({
    input: {
      query: body.query,
      parameters: body.parameters ?? [],
      schema: body.schema ?? null,
      readOnly: body.read_only ?? true,
      timeoutMs: body.timeout_ms ?? null,
    },
  }),
  respond: ({ executeTenantQuery: r }) => ({
    query_id: r.queryId,
    execution_time_ms: r.executionTimeMs,
    row_count: r.rowCount,
    rows: r.rows,
    columns: r.columns,
    schema: r.schema,
    truncated: r.truncated,
    timeout_enforced: r.timeoutEnforced,
  }),
  response: z.object({
    query_id: z.string(),
    execution_time_ms: z.number().describe('Measured around the statement itself'),
    row_count: z.number().int().describe('Rows returned (at most 1000), or rows affected by a write'),
    rows: z.array(z.array(z.unknown())),
    columns: z.array(z.string()),
    schema: z.string(),
    truncated: z.boolean().describe('More than 1000 rows: only the first 1000 are returned'),
    timeout_enforced: z
      .boolean()
      .describe('true on both backends: statement_timeout on PostgreSQL, a stopped worker thread on embedded PGlite'),
  }),
});

const booleanParam = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const schema = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/database/schema',
  summary: "Tables, columns, constraints, indexes, row counts and sizes of a tenant's schema, from the catalog",
  input: {
    query: z.object({
      schema: z.string().min(1).optional(),
      table: z.string().min(1).optional(),
      include_indexes: booleanParam.optional(),
    }),
  },
  operation: graphql(`
    query CorePlatformDatabaseSchema($schema: String, $table: String, $includeIndexes: Boolean) {
      tenantDatabaseSchema(schema: $schema, table: $table, includeIndexes: $includeIndexes) {
        schema
        tables {
          name
          rowCount
          rowCountEstimated
          sizeMb
          columns {
            name
            type
            nullable
            default
            constraints
          }
          indexes {
            name
            columns
            type
            unique
          }
        }
      }
    }
  `),
  variables: ({ query: q }) => ({
    schema: q.schema ?? null,
    table: q.table ?? null,
    includeIndexes: q.include_indexes ?? false,
  }),
  respond: ({ tenantDatabaseSchema: s }) => ({
    schema: s.schema,
    tables: s.tables.map((t) => ({
      name: t.name,
      // As documented: `default` and `constraints` appear only when the column has them.
      columns: t.columns.map((c) => ({
        name: c.name,
        type: c.type,
        nullable: c.nullable,
        ...(c.default !== null ? { default: c.default } : {}),
        ...(c.constraints.length > 0 ? { constraints: c.constraints } : {}),
      })),
      ...(t.indexes ? { indexes: t.indexes } : {}),
      row_count: t.rowCount,
      row_count_estimated: t.rowCountEstimated,
      size_mb: t.sizeMb,
    })),
  }),
  response: z.object({
    schema: z.string(),
    tables: z.array(
      z.object({
        name: z.string(),
        columns: z.array(
          z.object({
            name: z.string(),
            type: z.string(),
            nullable: z.boolean(),
            default: z.string().optional(),
            constraints: z.array(z.string()).optional().describe('PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK, EXCLUDE'),
          }),
        ),
        indexes: z
          .array(
            z.object({
              name: z.string(),
              columns: z.array(z.string()),
              type: z.string().describe('primary_key, or the access method (btree, hash, gin, gist…)'),
              unique: z.boolean(),
            }),
          )
          .optional()
          .describe('Only with include_indexes=true'),
        row_count: z.number().int(),
        row_count_estimated: z
          .boolean()
          .describe('false: exact count(*); true: pg_class.reltuples, for tables over 100000 rows'),
        size_mb: z.number().describe('pg_total_relation_size: table, indexes and TOAST'),
      }),
    ),
  }),
});

const migrate = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/database/migrate',
  summary: "Apply or roll back a tenant schema's migrations, each in its own transaction",
  input: {
    body: z.object({
      schema: z.string().min(1).optional(),
      direction: z.enum(['up', 'down']).optional(),
      version: z.string().min(1).optional(),
      dry_run: z.boolean().optional(),
    }),
  },
  operation: graphql(`
    mutation CorePlatformDatabaseMigrate($schema: String, $direction: String, $version: String, $dryRun: Boolean) {
      migrateTenantSchema(schema: $schema, direction: $direction, version: $version, dryRun: $dryRun) {
        migrationId
        totalExecutionTimeMs
        schemaVersion
        schema
        dryRun
        executedMigrations {
          version
          name
          executionTimeMs
          status
          error
        }
      }
    }
  `),
  variables: ({ body }) => ({
    schema: body.schema ?? null,
    direction: body.direction ?? 'up',
    version: body.version ?? null,
    dryRun: body.dry_run ?? false,
  }),
  respond: ({ migrateTenantSchema: m }) => ({
    migration_id: m.migrationId,
    executed_migrations: m.executedMigrations.map((e) => ({
      version: e.version,
      name: e.name,
      execution_time_ms: e.executionTimeMs,
      status: e.status,
      ...(e.error !== null ? { error: e.error } : {}),
    })),
    total_execution_time_ms: m.totalExecutionTimeMs,
    schema_version: m.schemaVersion,
    schema: m.schema,
    dry_run: m.dryRun,
  }),
  response: z.object({
    migration_id: z.string(),
    executed_migrations: z.array(
      z.object({
        version: z.string(),
        name: z.string(),
        execution_time_ms: z.number(),
        status: z.enum(['success', 'failed', 'planned']).describe('planned: a dry run, nothing was changed'),
        error: z.string().optional(),
      }),
    ),
    total_execution_time_ms: z.number(),
    schema_version: z.string().nullable().describe('The highest applied version afterwards'),
    schema: z.string(),
    dry_run: z.boolean(),
  }),
});

export const corePlatformDatabaseRoutes = [query, schema, migrate];
