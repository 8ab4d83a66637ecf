import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { describeTenantSchema, type ColumnInfo, type IndexInfo, type SchemaInfo, type TableInfo } from '../services/sql/introspection.js';
import {
  migrateTenantSchema,
  registerTenantMigration,
  type ExecutedMigration,
  type MigrationResult,
  type TenantMigrationScriptView,
} from '../services/tenants/tenant-migrations.js';
import {
  executeAdminQuery,
  executeTenantQuery,
  MAX_ROWS,
  type AdminQueryResult,
  type AdminTenantResult,
  type TenantQueryResult,
} from '../services/sql/tenant-sql.js';

// ---- Tenant SQL -------------------------------------------------------------------------------

const TenantQueryResultRef = builder.objectRef<TenantQueryResult>('TenantQueryResult').implement({
  description: 'The answer to one tenant SQL statement.',
  fields: (t) => ({
    queryId: t.exposeString('query_id', { description: 'Also the id of its query log entry.' }),
    executionTimeMs: t.exposeFloat('execution_time_ms', { description: 'Measured around the statement itself.' }),
    rowCount: t.exposeInt('row_count', { description: 'Rows returned, or affected for a write.' }),
    rows: t.field({ type: 'JSON', description: 'Rows as arrays, in column order.', resolve: (r) => r.rows }),
    columns: t.exposeStringList('columns'),
    schema: t.exposeString('schema'),
    tenantId: t.exposeID('tenant_id'),
    truncated: t.exposeBoolean('truncated', { description: `More than ${MAX_ROWS} rows: only the first are returned.` }),
    timeoutEnforced: t.exposeBoolean('timeout_enforced', {
      description: 'true on both backends: statement_timeout on PostgreSQL, a stopped worker thread on the embedded PGlite.',
    }),
  }),
});

const TenantQueryInputRef = builder.inputType('TenantQueryInput', {
  fields: (t) => ({
    query: t.string({ required: true, description: 'Exactly one SQL statement; $1, $2… for parameters.' }),
    parameters: t.field({ type: ['JSON'], required: false, description: 'Bound, never interpolated.' }),
    schema: t.string({ required: false, description: "The tenant's schema (or slug); a tenant-bound caller may omit it." }),
    readOnly: t.boolean({ required: false, description: 'Default true: runs in a READ ONLY transaction.' }),
    timeoutMs: t.int({ required: false, description: 'statement_timeout, 1 to 30000 ms; default 5000.' }),
  }),
});

builder.mutationField('executeTenantQuery', (t) =>
  t.field({
    type: TenantQueryResultRef,
    description:
      "Requires write:tenants. Runs one statement under the tenant's own database role, inside its schema only.",
    args: { input: t.arg({ type: TenantQueryInputRef, required: true }) },
    resolve: (_root, { input }, ctx) =>
      executeTenantQuery({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          query: input.query,
          parameters: input.parameters ?? [],
          schema: input.schema ?? null,
          readOnly: input.readOnly ?? true,
          timeoutMs: input.timeoutMs ?? undefined,
        },
      }),
  }),
);

const AdminQueryErrorRef = builder
  .objectRef<NonNullable<AdminTenantResult['error']>>('AdminQueryError')
  .implement({
    fields: (t) => ({
      code: t.exposeString('code'),
      message: t.exposeString('message'),
      details: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.details ?? null }),
    }),
  });

const AdminTenantResultRef = builder.objectRef<AdminTenantResult>('AdminTenantQueryResult').implement({
  fields: (t) => ({
    tenantId: t.exposeString('tenant_id'),
    schema: t.exposeString('schema'),
    status: t.exposeString('status'),
    result: t.field({ type: TenantQueryResultRef, nullable: true, resolve: (r) => r.result }),
    error: t.field({ type: AdminQueryErrorRef, nullable: true, resolve: (r) => r.error }),
  }),
});

const AdminQueryResultRef = builder.objectRef<AdminQueryResult>('AdminQueryResult').implement({
  fields: (t) => ({
    allTenants: t.exposeBoolean('all_tenants'),
    tenantCount: t.exposeInt('tenant_count'),
    succeeded: t.exposeInt('succeeded'),
    failed: t.exposeInt('failed'),
    results: t.field({ type: [AdminTenantResultRef], resolve: (r) => r.results }),
  }),
});

const AdminQueryInputRef = builder.inputType('AdminQueryInput', {
  fields: (t) => ({
    tenantId: t.string({ required: false, description: 'Tenant id or slug; not with allTenants.' }),
    query: t.string({ required: true }),
    parameters: t.field({ type: ['JSON'], required: false }),
    databaseType: t.string({ required: false, description: 'Only PostgreSQL.' }),
    blueprint: t.string({
      required: false,
      description: "Run on the tenant's database from this blueprint (<blueprint>__<tenant>) instead of its own schema.",
    }),
    allTenants: t.boolean({ required: false, description: 'Every tenant the caller may see; operator or project scope.' }),
    readOnly: t.boolean({ required: false, description: 'Default false.' }),
    timeoutMs: t.int({ required: false }),
  }),
});

builder.mutationField('adminTenantQuery', (t) =>
  t.field({
    type: AdminQueryResultRef,
    description: 'Requires write:tenants. One tenant, or every tenant the caller may see, each in its own sandbox.',
    args: { input: t.arg({ type: AdminQueryInputRef, required: true }) },
    resolve: (_root, { input }, ctx) =>
      executeAdminQuery({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          tenantId: input.tenantId ?? null,
          query: input.query,
          parameters: input.parameters ?? [],
          databaseType: input.databaseType ?? null,
          blueprint: input.blueprint ?? null,
          allTenants: input.allTenants ?? false,
          readOnly: input.readOnly ?? false,
          timeoutMs: input.timeoutMs ?? undefined,
        },
      }),
  }),
);

// ---- Introspection ----------------------------------------------------------------------------

const ColumnRef = builder.objectRef<ColumnInfo>('TenantColumn').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type'),
    nullable: t.exposeBoolean('nullable'),
    default: t.string({ nullable: true, resolve: (c) => c.default ?? null }),
    constraints: t.stringList({ resolve: (c) => c.constraints ?? [] }),
  }),
});

const IndexRef = builder.objectRef<IndexInfo>('TenantIndex').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    columns: t.exposeStringList('columns'),
    type: t.exposeString('type', { description: 'primary_key, or the access method: btree, hash, gin…' }),
    unique: t.exposeBoolean('unique'),
  }),
});

export const TableRef = builder.objectRef<TableInfo>('TenantTable').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    columns: t.field({ type: [ColumnRef], resolve: (r) => r.columns }),
    indexes: t.field({ type: [IndexRef], nullable: true, resolve: (r) => r.indexes ?? null }),
    rowCount: t.exposeInt('row_count'),
    rowCountEstimated: t.exposeBoolean('row_count_estimated', {
      description: 'true: pg_class.reltuples (tables over 100000 rows); false: an exact count(*).',
    }),
    sizeMb: t.exposeFloat('size_mb', { description: 'pg_total_relation_size: table, indexes and TOAST.' }),
  }),
});

const SchemaInfoRef = builder.objectRef<SchemaInfo>('TenantSchemaInfo').implement({
  fields: (t) => ({
    schema: t.exposeString('schema'),
    tables: t.field({ type: [TableRef], resolve: (r) => r.tables }),
  }),
});

builder.queryField('tenantDatabaseSchema', (t) =>
  t.field({
    type: SchemaInfoRef,
    description: "Requires read:tenants. The tenant schema's tables, columns, constraints and indexes, from the catalog.",
    args: {
      schema: t.arg.string({ required: false }),
      tenantId: t.arg.string({ required: false }),
      table: t.arg.string({ required: false }),
      includeIndexes: t.arg.boolean({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      describeTenantSchema({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          schema: args.schema ?? null,
          tenantId: args.tenantId ?? null,
          table: args.table ?? null,
          includeIndexes: args.includeIndexes ?? false,
        },
      }),
  }),
);

// ---- Migrations -------------------------------------------------------------------------------

const ScriptRef = builder.objectRef<TenantMigrationScriptView>('TenantMigrationScript').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    version: t.exposeString('version'),
    name: t.exposeString('name'),
    checksum: t.exposeString('checksum', { description: 'sha256 of the up and down scripts.' }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
  }),
});

builder.mutationField('registerTenantMigration', (t) =>
  t.field({
    type: ScriptRef,
    description:
      'Requires write:tenants. Registers a versioned migration for the tenant (digits, >= 1000); immutable once registered.',
    args: {
      schema: t.arg.string({ required: false }),
      tenantId: t.arg.string({ required: false }),
      version: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      upSql: t.arg.string({ required: true }),
      downSql: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      registerTenantMigration({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          schema: args.schema ?? undefined,
          tenantId: args.tenantId ?? undefined,
          version: args.version,
          name: args.name,
          upSql: args.upSql,
          downSql: args.downSql ?? null,
        },
      }),
  }),
);

const ExecutedMigrationRef = builder.objectRef<ExecutedMigration>('ExecutedTenantMigration').implement({
  fields: (t) => ({
    version: t.exposeString('version'),
    name: t.exposeString('name'),
    executionTimeMs: t.exposeFloat('execution_time_ms'),
    status: t.exposeString('status', { description: 'success | failed | planned (dry run)' }),
    error: t.string({ nullable: true, resolve: (m) => m.error ?? null }),
  }),
});

const MigrationResultRef = builder.objectRef<MigrationResult>('TenantMigrationResult').implement({
  fields: (t) => ({
    migrationId: t.exposeString('migration_id'),
    executedMigrations: t.field({ type: [ExecutedMigrationRef], resolve: (r) => r.executed_migrations }),
    totalExecutionTimeMs: t.exposeFloat('total_execution_time_ms'),
    schemaVersion: t.string({ nullable: true, resolve: (r) => r.schema_version }),
    schema: t.exposeString('schema'),
    dryRun: t.exposeBoolean('dry_run'),
    direction: t.exposeString('direction'),
  }),
});

builder.mutationField('migrateTenantSchema', (t) =>
  t.field({
    type: MigrationResultRef,
    description:
      "Requires write:tenants. Applies (up) or rolls back (down) the tenant's migrations, each in its own transaction under the tenant role.",
    args: {
      schema: t.arg.string({ required: false }),
      tenantId: t.arg.string({ required: false }),
      direction: t.arg.string({ required: false, description: 'up (default) or down' }),
      version: t.arg.string({ required: false }),
      dryRun: t.arg.boolean({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      migrateTenantSchema({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          schema: args.schema ?? undefined,
          tenantId: args.tenantId ?? undefined,
          direction: (args.direction ?? 'up') as 'up' | 'down',
          version: args.version ?? undefined,
          dryRun: args.dryRun ?? false,
        },
      }),
  }),
);
