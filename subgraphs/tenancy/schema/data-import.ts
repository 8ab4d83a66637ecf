import { builder } from '../builder.js';
import {
  analyzeDataImport,
  getDataImport,
  startDataImport,
  type DataImport,
  type DataImportAnalysis,
} from '../services/workspaces/data-import.js';

// Data import from an external PostgreSQL database into tenants (tenantsdb import-data, import-full).

const DataImportConnectionInput = builder.inputType('DataImportConnectionInput', {
  description: 'The source database. The password is used for the import and never stored.',
  fields: (t) => ({
    type: t.string({ defaultValue: 'postgresql', description: 'postgresql (the only source type supported)' }),
    host: t.string({ required: true }),
    port: t.int({ defaultValue: 5432 }),
    database: t.string({ required: true }),
    user: t.string({ required: true }),
    password: t.string({ required: false }),
    ssl: t.boolean({ defaultValue: false }),
  }),
});

const DataImportOptionsInput = builder.inputType('DataImportOptionsInput', {
  fields: (t) => ({
    dropRoutingColumn: t.boolean({ defaultValue: false, description: 'Leave the routing column out of the tenants’ tables' }),
    createTenants: t.boolean({ defaultValue: true, description: 'Create a tenant per routing value (slug = the value)' }),
  }),
});

const DataImportTableRef = builder
  .objectRef<DataImportAnalysis['tables'][number]>('DataImportSourceTable')
  .implement({
    fields: (t) => ({
      schema: t.exposeString('schema'),
      name: t.exposeString('name'),
      rowCount: t.exposeFloat('rowCount'),
      hasRoutingColumn: t.exposeBoolean('hasRoutingColumn'),
    }),
  });

const RoutingValueRef = builder
  .objectRef<DataImportAnalysis['routingValues'][number]>('DataImportRoutingValue')
  .implement({
    fields: (t) => ({
      value: t.exposeString('value'),
      rowCount: t.exposeFloat('rowCount', { description: 'Rows with this value, over every table' }),
    }),
  });

const DataImportAnalysisRef = builder.objectRef<DataImportAnalysis>('DataImportAnalysis').implement({
  fields: (t) => ({
    workspaceId: t.exposeID('workspaceId'),
    routingField: t.exposeString('routingField'),
    tables: t.field({ type: [DataImportTableRef], resolve: (a) => a.tables }),
    routingValues: t.field({
      type: [RoutingValueRef],
      description: 'The tenants an import would create, sorted; at most routingValuesLimit',
      resolve: (a) => a.routingValues,
    }),
    routingValuesTotal: t.exposeInt('routingValuesTotal'),
    routingValuesTruncated: t.exposeBoolean('routingValuesTruncated'),
    routingValuesLimit: t.exposeInt('routingValuesLimit'),
    rowsWithoutRoutingValue: t.exposeFloat('rowsWithoutRoutingValue', {
      description: 'Rows whose routing column is null: not imported',
    }),
  }),
});

const DataImportRef = builder.objectRef<DataImport>('DataImport').implement({
  description: 'An import of a source database into tenants, run as a job.',
  fields: (t) => ({
    id: t.exposeID('id'),
    workspaceId: t.exposeID('workspaceId'),
    kind: t.exposeString('kind', { description: 'data | full' }),
    status: t.exposeString('status', { description: 'pending | running | completed | failed' }),
    routingField: t.exposeString('routingField'),
    options: t.field({ type: 'JSON', resolve: (i) => i.options }),
    source: t.field({ type: 'JSON', description: 'Host, port, database, user: never the password', resolve: (i) => i.source }),
    progress: t.exposeInt('progress', { description: 'Percent done, 0 to 100' }),
    totalTenants: t.exposeInt('totalTenants'),
    completedTenants: t.exposeInt('completedTenants'),
    failedTenants: t.exposeInt('failedTenants'),
    rowsCopied: t.float({ resolve: (i) => Number(i.rowsCopied) }),
    failures: t.field({
      type: 'JSON',
      description: '[{routing_value, tenant_id, code, error}], one per tenant that failed',
      resolve: (i) => i.failures,
    }),
    error: t.exposeString('error', { nullable: true }),
    jobId: t.exposeString('jobId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => i.createdAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (i) => i.completedAt }),
  }),
});

function connectionOf(c: typeof DataImportConnectionInput.$inferInput) {
  return {
    type: c.type ?? undefined,
    host: c.host,
    port: c.port ?? undefined,
    database: c.database,
    user: c.user,
    password: c.password ?? undefined,
    ssl: c.ssl ?? undefined,
  };
}

builder.queryField('dataImport', (t) =>
  t.field({
    type: DataImportRef,
    description: 'Requires read:tenants. Progress, counts and per-tenant failures of an import.',
    args: { workspaceId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      getDataImport({
        deps: ctx.deps,
        principal: ctx.principal,
        workspaceId: String(args.workspaceId),
        importId: String(args.id),
      }),
  }),
);

builder.mutationFields((t) => ({
  analyzeDataImport: t.field({
    type: DataImportAnalysisRef,
    description:
      'Requires write:tenants. Connects to the source (PostgreSQL) and reports its tables, row counts and the distinct routing values. The source must be a public address unless the operator allows it (SOURCE_NOT_ALLOWED); any failure to connect is SOURCE_UNREACHABLE.',
    args: {
      workspaceId: t.arg.id({ required: true }),
      connection: t.arg({ type: DataImportConnectionInput, required: true }),
      routingField: t.arg.string({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      analyzeDataImport({
        deps: ctx.deps,
        principal: ctx.principal,
        logger: ctx.logger,
        workspaceId: String(args.workspaceId),
        input: { connection: connectionOf(args.connection), routingField: args.routingField },
      }),
  }),
  startDataImport: t.field({
    type: DataImportRef,
    description:
      'Requires write:tenants. Queues an import: per routing value, the tenant (created when asked) receives its rows of every routed table, in its own transaction. full: also the schema (tables created from the source definitions).',
    args: {
      workspaceId: t.arg.id({ required: true }),
      connection: t.arg({ type: DataImportConnectionInput, required: true }),
      routingField: t.arg.string({ required: true }),
      options: t.arg({ type: DataImportOptionsInput }),
      full: t.arg.boolean({ defaultValue: false }),
    },
    resolve: (_root, args, ctx) =>
      startDataImport({
        deps: ctx.deps,
        principal: ctx.principal,
        logger: ctx.logger,
        workspaceId: String(args.workspaceId),
        kind: args.full ? 'full' : 'data',
        input: {
          connection: connectionOf(args.connection),
          routingField: args.routingField,
          options: {
            dropRoutingColumn: args.options?.dropRoutingColumn ?? undefined,
            createTenants: args.options?.createTenants ?? undefined,
          },
        },
      }),
  }),
}));
