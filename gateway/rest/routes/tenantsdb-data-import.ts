import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb data import (tenancy): analyze a source PostgreSQL database, import its rows into one
// tenant per routing value (a job), follow the job. The document shows requests only; answers
// follow its style: snake_case fields beside `success`. The source password goes to the subgraph
// as a GraphQL variable and is never echoed back or stored.

const idParams = z.object({ id: z.string().min(1).max(200) });

const connectionBody = z.object({
  type: z.string().default('postgresql').describe('postgresql (the only source type supported)'),
  host: z.string().min(1).max(253),
  port: z.coerce.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1).max(63),
  user: z.string().min(1).max(63),
  password: z.string().max(1024).optional().describe('Used for the import, never stored'),
  ssl: z.boolean().optional(),
});

const optionsBody = z
  .object({
    drop_routing_column: z.boolean().default(false),
    create_tenants: z.boolean().default(true),
  })
  .default({ drop_routing_column: false, create_tenants: true });

const importBody = z.object({
  connection: connectionBody,
  routing_field: z.string().min(1).max(63),
  options: optionsBody,
});

// --- analyze -----------------------------------------------------------------------------------

const analyze = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/workspaces/{id}/import-data/analyze',
  summary:
    'Analyze a source PostgreSQL database: tables, row counts, and the distinct routing_field values (the tenants an import would create); requires write:tenants',
  input: { params: idParams, body: importBody.omit({ options: true }) },
  operation: graphql(`
    mutation TenantsdbAnalyzeImport($id: ID!, $connection: DataImportConnectionInput!, $routingField: String!) {
      analyzeDataImport(workspaceId: $id, connection: $connection, routingField: $routingField) {
        routingField
        tables {
          schema
          name
          rowCount
          hasRoutingColumn
        }
        routingValues {
          value
          rowCount
        }
        routingValuesTotal
        routingValuesTruncated
        routingValuesLimit
        rowsWithoutRoutingValue
      }
    }
  `),
  variables: ({ params, body }) => ({ id: params.id, connection: body.connection, routingField: body.routing_field }),
  respond: ({ analyzeDataImport: a }, { params }) => ({
    workspace_id: params.id,
    routing_field: a.routingField,
    tables: a.tables.map((t) => ({
      schema: t.schema,
      name: t.name,
      row_count: t.rowCount,
      has_routing_column: t.hasRoutingColumn,
    })),
    routing_values: a.routingValues.map((v) => ({ value: v.value, row_count: v.rowCount })),
    tenants_to_create: a.routingValuesTotal,
    routing_values_total: a.routingValuesTotal,
    routing_values_truncated: a.routingValuesTruncated,
    routing_values_limit: a.routingValuesLimit,
    rows_without_routing_value: a.rowsWithoutRoutingValue,
  }),
  response: z.object({
    workspace_id: z.string(),
    routing_field: z.string(),
    tables: z.array(
      z.object({ schema: z.string(), name: z.string(), row_count: z.number(), has_routing_column: z.boolean() }),
    ),
    routing_values: z
      .array(z.object({ value: z.string(), row_count: z.number() }))
      .describe('Sorted; at most routing_values_limit entries'),
    tenants_to_create: z.number().int(),
    routing_values_total: z.number().int(),
    routing_values_truncated: z.boolean(),
    routing_values_limit: z.number().int(),
    rows_without_routing_value: z.number().describe('Rows whose routing column is null: not imported'),
  }),
});

// --- import and status --------------------------------------------------------------------------

// `options` and `failures` are JSON: tenancy stores them as the documented snake_case objects.
const DataImportFields = graphql(`
  fragment DataImportFields on DataImport {
    id
    workspaceId
    kind
    status
    routingField
    options
    progress
    totalTenants
    completedTenants
    failedTenants
    rowsCopied
    failures
    error
    createdAt
    completedAt
  }
`);

function toImport(i: ResultOf<typeof DataImportFields>) {
  const done = i.completedTenants + i.failedTenants;
  return {
    import_id: i.id,
    workspace_id: i.workspaceId,
    kind: i.kind,
    status: i.status,
    routing_field: i.routingField,
    options: i.options,
    progress: i.progress,
    progress_display: i.totalTenants > 0 ? `${done}/${i.totalTenants} tenants` : `${i.progress}%`,
    total_tenants: i.totalTenants,
    completed_tenants: i.completedTenants,
    failed_tenants: i.failedTenants,
    rows_copied: i.rowsCopied,
    failures: i.failures,
    error: i.error,
    created_at: i.createdAt,
    completed_at: i.completedAt,
  };
}

const importSchema = z.object({
  import_id: z.string(),
  workspace_id: z.string(),
  kind: z.enum(['data', 'full']),
  status: z.enum(['pending', 'running', 'completed', 'failed']),
  routing_field: z.string(),
  options: z.record(z.string(), z.unknown()),
  progress: z.number().int().describe('Percent done'),
  progress_display: z.string(),
  total_tenants: z.number().int(),
  completed_tenants: z.number().int(),
  failed_tenants: z.number().int(),
  rows_copied: z.number(),
  failures: z.array(
    z.object({ routing_value: z.string(), tenant_id: z.string().nullable(), code: z.string(), error: z.string() }),
  ),
  error: z.string().nullable(),
  created_at: isoTimestamp,
  completed_at: isoTimestamp.nullable(),
});

function startRoute(path: string, full: boolean, summary: string) {
  return defineRoute({
    dialect: 'tenantsdb',
    method: 'POST',
    path,
    summary,
    status: 202,
    input: { params: idParams, body: importBody },
    operation: graphql(
      `
        mutation TenantsdbStartImport(
          $id: ID!
          $connection: DataImportConnectionInput!
          $routingField: String!
          $options: DataImportOptionsInput
          $full: Boolean
        ) {
          startDataImport(
            workspaceId: $id
            connection: $connection
            routingField: $routingField
            options: $options
            full: $full
          ) {
            ...DataImportFields
          }
        }
      `,
      [DataImportFields],
    ),
    variables: ({ params, body }) => ({
      id: params.id,
      connection: body.connection,
      routingField: body.routing_field,
      options: {
        dropRoutingColumn: body.options.drop_routing_column,
        createTenants: body.options.create_tenants,
      },
      full,
    }),
    respond: ({ startDataImport: i }) => ({
      ...toImport(i),
      message: 'Import started: follow it with GET /workspaces/{id}/import-data/status?import_id=',
    }),
    response: importSchema.extend({ message: z.string() }),
  });
}

const importData = startRoute(
  '/workspaces/{id}/import-data',
  false,
  'Start a data import (a job): one tenant per routing value, created when asked, receiving its rows of every table that has the routing column; requires write:tenants',
);

const importFull = startRoute(
  '/workspaces/{id}/import-full',
  true,
  'Import schema and data (a job): tables are created in each tenant from the source definitions, then filled as import-data does; requires write:tenants',
);

const status = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/workspaces/{id}/import-data/status',
  summary: 'Import progress, counts and per-tenant failures; requires read:tenants',
  input: { params: idParams, query: z.object({ import_id: z.string().min(1).max(100) }) },
  operation: graphql(
    `
      query TenantsdbImportStatus($id: ID!, $importId: ID!) {
        dataImport(workspaceId: $id, id: $importId) {
          ...DataImportFields
        }
      }
    `,
    [DataImportFields],
  ),
  variables: ({ params, query }) => ({ id: params.id, importId: query.import_id }),
  respond: ({ dataImport }) => toImport(dataImport),
  response: importSchema,
});

export const tenantsdbDataImportRoutes = [analyze, importData, importFull, status];
