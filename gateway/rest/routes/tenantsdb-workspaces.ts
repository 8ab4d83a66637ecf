import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb /workspaces and /workspaces/{id}/… (not import-data: that is the data-import file).
// `{id}` is the workspace name within the caller's project. Answers the document leaves out
// (delete, diff, revert, settings, queries) follow its style: snake_case beside `success`.

const idParams = z.object({ id: z.string().min(1).max(100) });
const diffParams = z.object({ id: z.string().min(1).max(100), ddl_id: z.string().min(1).max(100) });

const connectionSchema = z
  .object({ host: z.string(), port: z.number().int(), database: z.string(), user: z.string(), password: z.string() })
  .nullable()
  .describe('null on the embedded database: direct connections need PostgreSQL');

const summarySchema = z.object({
  created_at: z.number().int().describe('Unix seconds'),
  database: z.string(),
  id: z.string(),
  name: z.string(),
  version: z.string(),
});

const columnSchema = z.object({
  name: z.string(),
  type: z.string(),
  nullable: z.boolean(),
  default: z.string().optional(),
  constraints: z.array(z.string()).optional(),
});
const tableSchema = z.object({
  name: z.string(),
  columns: z.array(columnSchema),
  indexes: z
    .array(z.object({ name: z.string(), columns: z.array(z.string()), type: z.string(), unique: z.boolean() }))
    .optional(),
  row_count: z.number(),
  row_count_estimated: z.boolean(),
  size_mb: z.number(),
});

const diffEntrySchema = z.object({
  ddl_id: z.string(),
  seq: z.number().int(),
  statement: z.string(),
  command: z.string(),
  object: z.string().nullable(),
  object_type: z.string().nullable(),
  captured_via: z.string().describe('api | direct | import'),
  created_at: isoTimestamp,
  reversible: z.boolean(),
  irreversible_reason: z.string().nullable(),
});

const settingsSchema = z.object({
  description: z.string(),
  default_isolation_level: z.number().int(),
  query_timeout_ms: z.number().int(),
  allow_api_ddl: z.boolean(),
});

const WorkspaceFields = graphql(`
  fragment WorkspaceFields on Workspace {
    id
    name
    version
    database
    createdAt
  }
`);
const ConnectionFields = graphql(`
  fragment ConnectionFields on WorkspaceConnection {
    host
    port
    database
    user
    password
  }
`);
const TableFields = graphql(`
  fragment TableFields on TenantTable {
    name
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
    rowCount
    rowCountEstimated
    sizeMb
  }
`);
const ChangeFields = graphql(`
  fragment ChangeFields on WorkspaceChange {
    ddlId
    seq
    statement
    command
    object
    objectType
    capturedVia
    createdAt
    reversible
    irreversibleReason
  }
`);
const SettingsFields = graphql(`
  fragment SettingsFields on WorkspaceSettings {
    description
    defaultIsolationLevel
    queryTimeoutMs
    allowApiDdl
  }
`);

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

const summaryPayload = (w: ResultOf<typeof WorkspaceFields>) => ({
  created_at: unixSeconds(w.createdAt),
  database: w.database,
  id: w.id,
  name: w.name,
  version: w.version,
});

/** Columns list their default and constraints only when they have some, as the document shows. */
const tablePayload = (t: ResultOf<typeof TableFields>) => ({
  name: t.name,
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
});

const changePayload = (c: ResultOf<typeof ChangeFields>) => ({
  ddl_id: c.ddlId,
  seq: c.seq,
  statement: c.statement,
  command: c.command,
  object: c.object,
  object_type: c.objectType,
  captured_via: c.capturedVia,
  created_at: c.createdAt,
  reversible: c.reversible,
  irreversible_reason: c.irreversibleReason,
});

const settingsPayload = (workspace: string, s: ResultOf<typeof SettingsFields>) => ({
  workspace,
  settings: {
    description: s.description,
    default_isolation_level: s.defaultIsolationLevel,
    query_timeout_ms: s.queryTimeoutMs,
    allow_api_ddl: s.allowApiDdl,
  },
});

const listResponse = z.object({ count: z.number().int(), workspaces: z.array(summarySchema) });
const listWorkspaces = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/workspaces',
  summary: 'List the project’s workspaces',
  operation: graphql(
    `
      query TenantsdbWorkspaces {
        workspaces {
          ...WorkspaceFields
        }
      }
    `,
    [WorkspaceFields],
  ),
  respond: ({ workspaces }) => ({ count: workspaces.length, workspaces: workspaces.map(summaryPayload) }),
  response: listResponse,
});

const createResponse = z.object({
  id: z.string(),
  blueprint: z.string(),
  database: z.string(),
  message: z.string(),
  connection: connectionSchema,
  connection_string: z.string().nullable(),
});

const createWorkspace = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/workspaces',
  summary: 'Create a workspace: a development database (PostgreSQL) with a login role of its own',
  status: 201,
  input: { body: z.object({ name: z.string().min(1).max(100), database: z.string().min(1).max(40) }) },
  operation: graphql(
    `
      mutation TenantsdbCreateWorkspace($name: String!, $database: String!) {
        createWorkspace(name: $name, database: $database) {
          id
          blueprint
          database
          message
          connection {
            ...ConnectionFields
          }
          connectionString
        }
      }
    `,
    [ConnectionFields],
  ),
  variables: ({ body }) => ({ name: body.name, database: body.database }),
  respond: ({ createWorkspace: w }) => ({
    id: w.id,
    blueprint: w.blueprint,
    database: w.database,
    message: w.message,
    connection: w.connection,
    connection_string: w.connectionString,
  }),
  response: createResponse,
});

const getResponse = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  database: z.string(),
  schema: z.object({
    type: z.literal('tables'),
    data: z.object({ table_count: z.number().int(), tables: z.array(tableSchema).nullable() }),
  }),
  undeployed_changes: z.number().int(),
  connection: connectionSchema,
  connection_string: z.string().nullable(),
  message: z.string().optional(),
});

const getWorkspace = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/workspaces/{id}',
  summary: 'Workspace details: schema, undeployed changes, connection',
  input: { params: idParams },
  operation: graphql(
    `
      query TenantsdbWorkspace($id: String!) {
        workspace(id: $id) {
          workspace {
            ...WorkspaceFields
          }
          tables {
            ...TableFields
          }
          undeployedChanges
          connection {
            ...ConnectionFields
          }
          connectionString
          message
        }
      }
    `,
    [WorkspaceFields, TableFields, ConnectionFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ workspace: w }) => ({
    id: w.workspace.id,
    name: w.workspace.name,
    version: w.workspace.version,
    database: w.workspace.database,
    schema: {
      type: 'tables' as const,
      data: { table_count: w.tables.length, tables: w.tables.length > 0 ? w.tables.map(tablePayload) : null },
    },
    undeployed_changes: w.undeployedChanges,
    connection: w.connection,
    connection_string: w.connectionString,
    ...(w.message !== null ? { message: w.message } : {}),
  }),
  response: getResponse,
});

const deleteResponse = z.object({ id: z.string(), message: z.string() });
const deleteWorkspace = defineRoute({
  dialect: 'tenantsdb',
  method: 'DELETE',
  path: '/workspaces/{id}',
  summary: 'Delete a workspace: its database (or schema), role and change queue',
  input: { params: idParams },
  operation: graphql(`
    mutation TenantsdbDeleteWorkspace($id: String!) {
      deleteWorkspace(id: $id)
    }
  `),
  variables: ({ params }) => ({ id: params.id }),
  respond: (_data, { params }) => ({ id: params.id, message: `Workspace '${params.id}' deleted` }),
  response: deleteResponse,
});

const schemaResponse = z.object({
  workspace: z.string(),
  database: z.string(),
  table_count: z.number().int(),
  tables: z.array(tableSchema),
});
const getSchema = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/workspaces/{id}/schema',
  summary: 'The workspace’s current schema, from the catalog',
  input: { params: idParams },
  operation: graphql(
    `
      query TenantsdbWorkspaceSchema($id: String!) {
        workspaceSchema(id: $id) {
          workspace
          database
          tables {
            ...TableFields
          }
        }
      }
    `,
    [TableFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ workspaceSchema: w }) => ({
    workspace: w.workspace,
    database: w.database,
    table_count: w.tables.length,
    tables: w.tables.map(tablePayload),
  }),
  response: schemaResponse,
});

const importResponse = z.object({
  workspace: z.string(),
  source: z.string(),
  message: z.string(),
  changes: z.number().int(),
  ddl_ids: z.array(z.string()),
});
const importSchema = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/workspaces/{id}/schema',
  summary: 'Import a schema from a template, a JSON table list or a live PostgreSQL database',
  input: { params: idParams, body: z.record(z.string(), z.unknown()) },
  operation: graphql(`
    mutation TenantsdbImportWorkspaceSchema($id: String!, $input: JSON!) {
      importWorkspaceSchema(id: $id, input: $input) {
        workspace
        source
        message
        ddlIds
      }
    }
  `),
  variables: ({ params, body }) => ({ id: params.id, input: body }),
  respond: ({ importWorkspaceSchema: i }) => ({
    workspace: i.workspace,
    source: i.source,
    message: i.message,
    changes: i.ddlIds.length,
    ddl_ids: i.ddlIds,
  }),
  response: importResponse,
});

const queryResponse = z.object({
  columns: z.array(z.string()),
  rows: z.array(z.array(z.unknown())),
  row_count: z.number().int(),
  truncated: z.boolean(),
  execution_time_ms: z.number(),
  captured: z.array(diffEntrySchema).describe('The DDL this statement added to the change queue'),
});
const runQuery = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/workspaces/{id}/queries',
  summary: 'Run one SQL statement in the workspace; DDL is captured',
  input: { params: idParams, body: z.object({ query: z.string().min(1).max(100_000) }) },
  operation: graphql(
    `
      mutation TenantsdbWorkspaceQuery($id: String!, $query: String!) {
        runWorkspaceQuery(id: $id, query: $query) {
          columns
          rows
          rowCount
          truncated
          executionTimeMs
          captured {
            ...ChangeFields
          }
        }
      }
    `,
    [ChangeFields],
  ),
  variables: ({ params, body }) => ({ id: params.id, query: body.query }),
  respond: ({ runWorkspaceQuery: r }) => ({
    columns: r.columns,
    rows: r.rows as unknown[][],
    row_count: r.rowCount,
    truncated: r.truncated,
    execution_time_ms: r.executionTimeMs,
    captured: r.captured.map(changePayload),
  }),
  response: queryResponse,
});

const diffResponse = z.object({ workspace: z.string(), count: z.number().int(), changes: z.array(diffEntrySchema) });
const getDiff = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/workspaces/{id}/diff',
  summary: 'Pending DDL changes, in order',
  input: { params: idParams },
  operation: graphql(
    `
      query TenantsdbWorkspaceDiff($id: String!) {
        workspaceDiff(id: $id) {
          ...ChangeFields
        }
      }
    `,
    [ChangeFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ workspaceDiff: changes }, { params }) => ({
    workspace: params.id,
    count: changes.length,
    changes: changes.map(changePayload),
  }),
  response: diffResponse,
});

const skipResponse = z.object({ ddl_id: z.string(), status: z.literal('skipped'), message: z.string() });
const skipDiff = defineRoute({
  dialect: 'tenantsdb',
  method: 'DELETE',
  path: '/workspaces/{id}/diff/{ddl_id}',
  summary: 'Skip a change from the next deploy',
  input: { params: diffParams },
  operation: graphql(`
    mutation TenantsdbSkipWorkspaceChange($id: String!, $ddlId: String!) {
      skipWorkspaceChange(id: $id, ddlId: $ddlId) {
        ddlId
        message
      }
    }
  `),
  variables: ({ params }) => ({ id: params.id, ddlId: params.ddl_id }),
  respond: ({ skipWorkspaceChange: o }) => ({ ddl_id: o.ddlId, status: 'skipped' as const, message: o.message ?? '' }),
  response: skipResponse,
});

const revertResponse = z.object({ ddl_id: z.string(), status: z.literal('reverted'), reverted_with: z.string() });
const revertDiff = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/workspaces/{id}/diff/{ddl_id}/revert',
  summary: 'Apply the inverse of a change, or answer why it cannot be reversed',
  input: { params: diffParams },
  operation: graphql(`
    mutation TenantsdbRevertWorkspaceChange($id: String!, $ddlId: String!) {
      revertWorkspaceChange(id: $id, ddlId: $ddlId) {
        ddlId
        revertedWith
      }
    }
  `),
  variables: ({ params }) => ({ id: params.id, ddlId: params.ddl_id }),
  respond: ({ revertWorkspaceChange: o }) => ({
    ddl_id: o.ddlId,
    status: 'reverted' as const,
    reverted_with: o.revertedWith ?? '',
  }),
  response: revertResponse,
});

const settingsResponse = z.object({ workspace: z.string(), settings: settingsSchema });
const getSettings = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/workspaces/{id}/settings',
  summary: 'Workspace settings',
  input: { params: idParams },
  operation: graphql(
    `
      query TenantsdbWorkspaceSettings($id: String!) {
        workspaceSettings(id: $id) {
          ...SettingsFields
        }
      }
    `,
    [SettingsFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ workspaceSettings }, { params }) => settingsPayload(params.id, workspaceSettings),
  response: settingsResponse,
});

const updateSettings = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/workspaces/{id}/settings',
  summary: 'Update workspace settings (partial, validated)',
  input: { params: idParams, body: z.record(z.string(), z.unknown()) },
  operation: graphql(
    `
      mutation TenantsdbUpdateWorkspaceSettings($id: String!, $settings: JSON!) {
        updateWorkspaceSettings(id: $id, settings: $settings) {
          ...SettingsFields
        }
      }
    `,
    [SettingsFields],
  ),
  variables: ({ params, body }) => ({ id: params.id, settings: body }),
  respond: ({ updateWorkspaceSettings }, { params }) => settingsPayload(params.id, updateWorkspaceSettings),
  response: settingsResponse,
});

export const tenantsdbWorkspaceRoutes = [
  listWorkspaces,
  createWorkspace,
  getWorkspace,
  deleteWorkspace,
  getSchema,
  importSchema,
  runQuery,
  getDiff,
  skipDiff,
  revertDiff,
  getSettings,
  updateSettings,
];
