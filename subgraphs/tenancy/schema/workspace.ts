import { builder } from '../builder.js';
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
} from '../services/workspaces/workspaces.js';

// tenantsdb workspaces. The answers are the documented tenantsdb payloads (snake_case JSON), so
// the REST routes and a GraphQL caller read exactly the same thing; the services validate input.
// A workspace is named by its `name` (the documented `id`) within the caller's project.

const ID_DESCRIPTION = 'The workspace name (tenantsdb `id`), within the caller’s project';

builder.queryField('workspaces', (t) =>
  t.field({
    type: 'JSON',
    description: 'Requires read:tenants. The caller’s project’s workspaces: { count, workspaces[] }.',
    resolve: (_root, _args, ctx) => listWorkspaces({ deps: ctx.deps, principal: ctx.principal }),
  }),
);

builder.queryField('workspace', (t) =>
  t.field({
    type: 'JSON',
    description:
      'Requires read:tenants. Details, current schema, undeployed change count and connection (null on the embedded database; the password masked unless the caller has write:tenants).',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => getWorkspace({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.queryField('workspaceSchema', (t) =>
  t.field({
    type: 'JSON',
    description: 'Requires read:tenants. The workspace schema from the catalog: tables, columns, indexes.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => workspaceSchema({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.queryField('workspaceDiff', (t) =>
  t.field({
    type: 'JSON',
    description:
      'Requires read:tenants. Pending captured DDL in order (API, direct connection and imports): { count, changes[] }.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => workspaceDiff({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.queryField('workspaceSettings', (t) =>
  t.field({
    type: 'JSON',
    description: 'Requires read:tenants. { settings: { description, default_isolation_level, query_timeout_ms, allow_api_ddl } }.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => getWorkspaceSettings({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.mutationField('createWorkspace', (t) =>
  t.field({
    type: 'JSON',
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
    type: 'JSON',
    description: 'Requires write:tenants. Drops the workspace database (or schema), its role and its change queue.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }) },
    resolve: (_root, args, ctx) => deleteWorkspace({ deps: ctx.deps, principal: ctx.principal, id: args.id }),
  }),
);

builder.mutationField('runWorkspaceQuery', (t) =>
  t.field({
    type: 'JSON',
    description:
      'Requires write:tenants. One statement through the SQL guard, in the workspace sandbox; DDL is captured into the queue.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), query: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      runWorkspaceQuery({ deps: ctx.deps, principal: ctx.principal, id: args.id, input: { query: args.query } }),
  }),
);

builder.mutationField('skipWorkspaceChange', (t) =>
  t.field({
    type: 'JSON',
    description: 'Requires write:tenants. Leaves a pending change out of the next deploy.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), ddlId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      skipChange({ deps: ctx.deps, principal: ctx.principal, id: args.id, ddlId: args.ddlId }),
  }),
);

builder.mutationField('revertWorkspaceChange', (t) =>
  t.field({
    type: 'JSON',
    description:
      'Requires write:tenants. Applies the inverse of a pending change (created table dropped, added column dropped, …) or answers why it cannot.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), ddlId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      revertChange({ deps: ctx.deps, principal: ctx.principal, id: args.id, ddlId: args.ddlId }),
  }),
);

builder.mutationField('importWorkspaceSchema', (t) =>
  t.field({
    type: 'JSON',
    description:
      'Requires write:tenants. { source: template, template } | { source: json, tables } | { source: database, connection }; lands as import changes.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), input: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, args, ctx) =>
      importWorkspaceSchema({ deps: ctx.deps, principal: ctx.principal, id: args.id, input: args.input }),
  }),
);

builder.mutationField('updateWorkspaceSettings', (t) =>
  t.field({
    type: 'JSON',
    description: 'Requires write:tenants. Partial update, validated; answers the whole settings.',
    args: { id: t.arg.string({ required: true, description: ID_DESCRIPTION }), settings: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, args, ctx) =>
      updateWorkspaceSettings({ deps: ctx.deps, principal: ctx.principal, id: args.id, input: args.settings }),
  }),
);
