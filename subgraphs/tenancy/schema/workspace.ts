import { builder } from '../builder.js';
import type { TableInfo } from '../services/sql/introspection.js';
import { TableRef } from './tenant-sql.js';
import { importWorkspaceSchema } from '../services/workspaces/workspace-schema-import.js';
import {
  createWorkspace,
  deleteWorkspace,
  getWorkspace,
  getWorkspaceSettings,
  listWorkspaces,
  revertChange,
  runWorkspaceQuery,
  skipChange,
  updateWorkspaceSettings,
  workspaceDiff,
  workspaceSchema,
  type CreatedWorkspace,
  type DiffEntry,
  type WorkspaceConnection,
  type WorkspaceDetail,
  type WorkspaceQueryResult,
  type WorkspaceSettings,
  type WorkspaceSummary,
} from '../services/workspaces/workspaces.js';

// tenantsdb workspaces as typed objects; the tenantsdb routes shape them into the documented
// payloads. The services validate input. A workspace is named by its `name` (the documented `id`)
// within the caller's project.

const WorkspaceRef = builder.objectRef<WorkspaceSummary>('Workspace').implement({
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The workspace name (tenantsdb `id`)' }),
    name: t.exposeString('name'),
    version: t.exposeString('version', { description: 'The version its next blueprint publication takes' }),
    database: t.exposeString('database', { description: 'PostgreSQL (the only type served)' }),
    createdAt: t.field({ type: 'DateTime', resolve: (w) => w.createdAt }),
  }),
});

const WorkspaceConnectionRef = builder.objectRef<WorkspaceConnection>('WorkspaceConnection').implement({
  description: 'A direct PostgreSQL connection to the workspace database, as its own login role.',
  fields: (t) => ({
    host: t.exposeString('host'),
    port: t.exposeInt('port'),
    database: t.exposeString('database'),
    user: t.exposeString('user'),
    password: t.exposeString('password', { description: 'Masked unless the caller has write:tenants' }),
  }),
});

const WorkspaceDetailRef = builder.objectRef<WorkspaceDetail>('WorkspaceDetail').implement({
  fields: (t) => ({
    workspace: t.field({ type: WorkspaceRef, resolve: (w) => w }),
    tables: t.field({ type: [TableRef], resolve: (w) => w.tables }),
    undeployedChanges: t.exposeInt('undeployedChanges', { description: 'Pending changes the next deploy takes' }),
    connection: t.field({
      type: WorkspaceConnectionRef,
      nullable: true,
      description: 'null on the embedded database: direct connections need PostgreSQL',
      resolve: (w) => w.connection,
    }),
    connectionString: t.exposeString('connectionString', { nullable: true }),
    message: t.exposeString('message', { nullable: true, description: 'Why the connection is absent or masked' }),
  }),
});

const CreatedWorkspaceRef = builder.objectRef<CreatedWorkspace>('CreatedWorkspace').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    blueprint: t.exposeString('blueprint', { description: 'The blueprint its schema is published as' }),
    database: t.exposeString('database'),
    message: t.exposeString('message'),
    connection: t.field({ type: WorkspaceConnectionRef, nullable: true, resolve: (w) => w.connection }),
    connectionString: t.exposeString('connectionString', { nullable: true }),
  }),
});

const WorkspaceChangeRef = builder.objectRef<DiffEntry>('WorkspaceChange').implement({
  description: 'One captured DDL statement in the workspace change queue.',
  fields: (t) => ({
    ddlId: t.exposeString('ddlId'),
    seq: t.exposeInt('seq'),
    statement: t.exposeString('statement'),
    command: t.exposeString('command', { description: 'The command tag: CREATE TABLE, ALTER TABLE…' }),
    object: t.exposeString('object', { nullable: true }),
    objectType: t.exposeString('objectType', { nullable: true }),
    capturedVia: t.exposeString('capturedVia', { description: 'api | direct | import' }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
    reversible: t.exposeBoolean('reversible'),
    irreversibleReason: t.exposeString('irreversibleReason', { nullable: true }),
  }),
});

const WorkspaceQueryResultRef = builder.objectRef<WorkspaceQueryResult>('WorkspaceQueryResult').implement({
  fields: (t) => ({
    columns: t.exposeStringList('columns'),
    rows: t.field({ type: 'JSON', description: 'Rows as arrays, in column order', resolve: (r) => r.rows }),
    rowCount: t.exposeInt('rowCount'),
    truncated: t.exposeBoolean('truncated'),
    executionTimeMs: t.exposeFloat('executionTimeMs'),
    captured: t.field({
      type: [WorkspaceChangeRef],
      description: 'The DDL this statement added to the change queue',
      resolve: (r) => r.captured,
    }),
  }),
});

const WorkspaceChangeOutcomeRef = builder
  .objectRef<{ ddlId: string; status: string; message?: string; revertedWith?: string }>('WorkspaceChangeOutcome')
  .implement({
    fields: (t) => ({
      ddlId: t.exposeString('ddlId'),
      status: t.exposeString('status', { description: 'skipped | reverted' }),
      message: t.string({ nullable: true, resolve: (o) => o.message ?? null }),
      revertedWith: t.string({ nullable: true, resolve: (o) => o.revertedWith ?? null }),
    }),
  });

const WorkspaceSettingsRef = builder.objectRef<WorkspaceSettings>('WorkspaceSettings').implement({
  fields: (t) => ({
    description: t.exposeString('description'),
    defaultIsolationLevel: t.exposeInt('default_isolation_level', {
      description: 'The isolation level tenant databases made from its blueprint default to',
    }),
    queryTimeoutMs: t.exposeInt('query_timeout_ms'),
    allowApiDdl: t.exposeBoolean('allow_api_ddl', {
      description: 'false: API queries run read-only, the schema is frozen for the API',
    }),
  }),
});

const WorkspaceSchemaRef = builder
  .objectRef<{ workspace: string; database: string; tables: TableInfo[] }>('WorkspaceSchema')
  .implement({
    fields: (t) => ({
      workspace: t.exposeString('workspace'),
      database: t.exposeString('database'),
      tables: t.field({ type: [TableRef], resolve: (w) => w.tables }),
    }),
  });

const WorkspaceSchemaImportRef = builder
  .objectRef<{ workspace: string; source: string; message: string; ddlIds: string[] }>('WorkspaceSchemaImport')
  .implement({
    fields: (t) => ({
      workspace: t.exposeString('workspace'),
      source: t.exposeString('source', { description: 'template | json | database' }),
      message: t.exposeString('message'),
      ddlIds: t.exposeStringList('ddlIds', { description: 'The changes the import captured' }),
    }),
  });


const ID_DESCRIPTION = 'The workspace name (tenantsdb `id`), within the caller’s project';

builder.queryField('workspaces', (t) =>
  t.field({
    type: [WorkspaceRef],
    description: 'Requires read:tenants. The caller’s project’s workspaces, newest first.',
    resolve: (_root, _args, ctx) => listWorkspaces({ deps: ctx.deps, principal: ctx.principal }),
  }),
);

builder.queryField('workspace', (t) =>
  t.field({
    type: WorkspaceDetailRef,
    description:
      'Requires read:tenants. Details, current schema, undeployed change count and connection (null on the embedded database; the password masked unless the caller has write:tenants).',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => getWorkspace({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.queryField('workspaceSchema', (t) =>
  t.field({
    type: WorkspaceSchemaRef,
    description: 'Requires read:tenants. The workspace schema from the catalog: tables, columns, indexes.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => workspaceSchema({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.queryField('workspaceDiff', (t) =>
  t.field({
    type: [WorkspaceChangeRef],
    description:
      'Requires read:tenants. Pending captured DDL in order (API, direct connection and imports).',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: async (_root, args, ctx) =>
      (await workspaceDiff({ deps: ctx.deps, principal: ctx.principal, id: args.id })).changes,
  }),
);

builder.queryField('workspaceSettings', (t) =>
  t.field({
    type: WorkspaceSettingsRef,
    description: 'Requires read:tenants. The workspace settings.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: async (_root, args, ctx) =>
      (await getWorkspaceSettings({ deps: ctx.deps, principal: ctx.principal, id: args.id })).settings,
  }),
);

builder.mutationField('createWorkspace', (t) =>
  t.field({
    type: CreatedWorkspaceRef,
    description:
      'Requires write:tenants. PostgreSQL only (other types: UNSUPPORTED_DATABASE). On real PostgreSQL a database and login role of its own.',
    args: {
      name: t.arg.string({ required: true }),
      database: t.arg.string({ required: true, description: 'PostgreSQL, MySQL, MongoDB or Redis' }),
    },
    resolve: (_root, args, ctx) =>
      createWorkspace({ deps: ctx.deps, principal: ctx.principal, input: { name: args.name, database: args.database } }),
  }),
);

builder.mutationField('deleteWorkspace', (t) =>
  t.field({
    type: 'Boolean',
    description:
      'Requires write:tenants. Drops the workspace database (or schema), its role and its change queue; true when done.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: async (_root, args, ctx) => {
      await deleteWorkspace({ deps: ctx.deps, principal: ctx.principal, id: args.id });
      return true;
    },
  }),
);

builder.mutationField('runWorkspaceQuery', (t) =>
  t.field({
    type: WorkspaceQueryResultRef,
    description:
      'Requires write:tenants. One statement through the SQL guard, in the workspace sandbox; DDL is captured into the queue.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), query: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      runWorkspaceQuery({ deps: ctx.deps, principal: ctx.principal, id: args.id, input: { query: args.query } }),
  }),
);

builder.mutationField('skipWorkspaceChange', (t) =>
  t.field({
    type: WorkspaceChangeOutcomeRef,
    description: 'Requires write:tenants. Leaves a pending change out of the next deploy.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), ddlId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      skipChange({ deps: ctx.deps, principal: ctx.principal, id: args.id, ddlId: args.ddlId }),
  }),
);

builder.mutationField('revertWorkspaceChange', (t) =>
  t.field({
    type: WorkspaceChangeOutcomeRef,
    description:
      'Requires write:tenants. Applies the inverse of a pending change (created table dropped, added column dropped, …) or answers why it cannot.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), ddlId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      revertChange({ deps: ctx.deps, principal: ctx.principal, id: args.id, ddlId: args.ddlId }),
  }),
);

builder.mutationField('importWorkspaceSchema', (t) =>
  t.field({
    type: WorkspaceSchemaImportRef,
    description:
      'Requires write:tenants. { source: template, template } | { source: json, tables } | { source: database, connection }; lands as import changes.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), input: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, args, ctx) =>
      importWorkspaceSchema({ deps: ctx.deps, principal: ctx.principal, id: args.id, input: args.input }),
  }),
);

builder.mutationField('updateWorkspaceSettings', (t) =>
  t.field({
    type: WorkspaceSettingsRef,
    description: 'Requires write:tenants. Partial update, validated; answers the whole settings.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), settings: t.arg({ type: 'JSON', required: true }) },
    resolve: async (_root, args, ctx) =>
      (await updateWorkspaceSettings({ deps: ctx.deps, principal: ctx.principal, id: args.id, input: args.settings }))
        .settings,
  }),
);
