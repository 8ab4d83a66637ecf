import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb /blueprints and /deployments, and a tenant's deployment history. Blueprints list
// `created_at` as Unix seconds (as documented); deployments use ISO timestamps (as documented).
// `deployed_to` is null when no tenant has a database from the blueprint, as in the document.
// `/blueprints/{name}` ("the schema") and `/blueprints/{name}/versions` are undocumented beyond
// their titles: they answer the blueprint fields plus its latest version's DDL and snapshot, and
// the versions newest first.

const BlueprintFields = graphql(`
  fragment BlueprintFields on Blueprint {
    id
    name
    version
    workspaceId
    databaseType
    projectId
    createdAt
    deployedTo
  }
`);
const VersionFields = graphql(`
  fragment VersionFields on BlueprintVersion {
    id
    version
    ddl
    snapshot
    statements
    checksum
    deployedTo
    createdAt
  }
`);

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

function blueprintPayload(b: ResultOf<typeof BlueprintFields>) {
  return {
    id: b.id,
    name: b.name,
    version: b.version,
    workspace_id: b.workspaceId,
    database_type: b.databaseType,
    project_id: b.projectId,
    created_at: unixSeconds(b.createdAt),
    deployed_to: b.deployedTo.length > 0 ? b.deployedTo : null,
  };
}

const blueprintSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string().nullable(),
  workspace_id: z.string().nullable(),
  database_type: z.string(),
  project_id: z.string().nullable(),
  created_at: z.number().int().describe('Unix seconds'),
  deployed_to: z.array(z.string()).nullable(),
});

function versionPayload(v: ResultOf<typeof VersionFields>) {
  return {
    id: v.id,
    version: v.version,
    checksum: v.checksum,
    created_at: unixSeconds(v.createdAt),
    changes: v.statements,
    deployed_to: v.deployedTo,
  };
}

const versionSchema = z.object({
  id: z.string(),
  version: z.string(),
  checksum: z.string().describe('sha256 of the schema DDL, hex'),
  created_at: z.number().int(),
  changes: z.array(z.string()).describe('Statements since the previous version'),
  deployed_to: z.array(z.string()).describe('Tenants whose database is at this version'),
});

const nameParams = z.object({ name: z.string().min(1).max(100) });

const listBlueprints = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/blueprints',
  summary: 'List blueprints with their latest version and where they are deployed',
  operation: graphql(
    `
      query TenantsdbBlueprints {
        blueprints {
          ...BlueprintFields
        }
      }
    `,
    [BlueprintFields],
  ),
  respond: ({ blueprints }) => ({ blueprints: blueprints.map(blueprintPayload) }),
  response: z.object({ blueprints: z.array(blueprintSchema) }),
});

const getBlueprint = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/blueprints/{name}',
  summary: "A blueprint's schema: its latest version's DDL and snapshot",
  input: { params: nameParams },
  operation: graphql(
    `
      query TenantsdbBlueprint($name: String!) {
        blueprint(name: $name) {
          blueprint {
            ...BlueprintFields
          }
          latest {
            ...VersionFields
          }
        }
      }
    `,
    [BlueprintFields, VersionFields],
  ),
  variables: ({ params }) => ({ name: params.name }),
  respond: ({ blueprint }) => ({
    ...blueprintPayload(blueprint.blueprint),
    schema: blueprint.latest ? { ddl: blueprint.latest.ddl, snapshot: blueprint.latest.snapshot } : null,
    checksum: blueprint.latest?.checksum ?? null,
  }),
  response: blueprintSchema.extend({
    schema: z.object({ ddl: z.string(), snapshot: z.unknown() }).nullable(),
    checksum: z.string().nullable(),
  }),
});

const listVersions = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/blueprints/{name}/versions',
  summary: "A blueprint's versions, newest first",
  input: { params: nameParams },
  operation: graphql(
    `
      query TenantsdbBlueprintVersions($name: String!) {
        blueprintVersions(name: $name) {
          ...VersionFields
        }
      }
    `,
    [VersionFields],
  ),
  variables: ({ params }) => ({ name: params.name }),
  respond: ({ blueprintVersions }, { params }) => ({
    blueprint: params.name,
    count: blueprintVersions.length,
    versions: blueprintVersions.map(versionPayload),
  }),
  response: z.object({ blueprint: z.string(), count: z.number().int(), versions: z.array(versionSchema) }),
});

const DeploymentFields = graphql(`
  fragment DeploymentFields on Deployment {
    id
    blueprint
    version
    status
    progress
    totalTenants
    completedTenants
    failedTenants
    skippedTenants
    error
    createdAt
    startedAt
    completedAt
  }
`);
const TargetFields = graphql(`
  fragment TargetFields on DeploymentTarget {
    tenantId
    tenantSlug
    status
    error
    durationMs
  }
`);

/** Skipped tenants (already at the version) count as completed in tenantsdb's figures, and separately. */
function deploymentPayload(d: ResultOf<typeof DeploymentFields>) {
  return {
    job_id: d.id,
    blueprint_id: d.blueprint,
    version: d.version,
    status: d.status,
    progress: d.progress,
    progress_display: `${d.progress}%`,
    total_tenants: d.totalTenants,
    completed_tenants: d.completedTenants + d.skippedTenants,
    failed_tenants: d.failedTenants,
    skipped_tenants: d.skippedTenants,
    error: d.error,
    created_at: d.createdAt,
    started_at: d.startedAt,
    completed_at: d.completedAt,
  };
}

const deploymentSchema = z.object({
  job_id: z.string(),
  blueprint_id: z.string().describe('The blueprint name'),
  version: z.string(),
  status: z.string().describe('pending, running, completed, failed or stopped'),
  progress: z.number().int(),
  progress_display: z.string(),
  total_tenants: z.number().int(),
  completed_tenants: z.number().int().describe('At the version: applied now or already there'),
  failed_tenants: z.number().int(),
  skipped_tenants: z.number().int().describe('Already at the version'),
  error: z.string().nullable(),
  created_at: isoTimestamp,
  started_at: isoTimestamp.nullable(),
  completed_at: isoTimestamp.nullable(),
});

const targetSchema = z.object({
  tenant_id: z.string(),
  status: z.string(),
  error: z.string().nullable(),
  duration_ms: z.number().nullable(),
});

const listDeployments = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/deployments',
  summary: 'List deployments, newest first',
  operation: graphql(
    `
      query TenantsdbDeployments {
        deployments(limit: 100) {
          ...DeploymentFields
        }
      }
    `,
    [DeploymentFields],
  ),
  respond: ({ deployments }) => ({
    count: deployments.length,
    jobs: deployments.map(deploymentPayload),
  }),
  response: z.object({ count: z.number().int(), jobs: z.array(deploymentSchema) }),
});

const createDeployment = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/deployments',
  summary:
    "Roll a blueprint version out to tenant databases (a job); a version not published yet is published from the workspace's current schema",
  status: 202,
  input: {
    body: z.object({
      blueprint_name: z.string().min(1).max(100),
      version: z.string().max(20).optional(),
      deploy_all: z.boolean().optional(),
      tenant_ids: z.array(z.string().min(1).max(100)).optional(),
      canary_tenant_ids: z.array(z.string().min(1).max(100)).optional(),
      failure_threshold: z.number().int().min(1).optional(),
    }),
  },
  operation: graphql(
    `
      mutation TenantsdbCreateDeployment($input: CreateDeploymentInput!) {
        createDeployment(input: $input) {
          ...DeploymentFields
        }
      }
    `,
    [DeploymentFields],
  ),
  variables: ({ body }) => ({
    input: {
      blueprintName: body.blueprint_name,
      version: body.version,
      deployAll: body.deploy_all,
      tenantIds: body.tenant_ids,
      canaryTenantIds: body.canary_tenant_ids,
      failureThreshold: body.failure_threshold,
    },
  }),
  respond: ({ createDeployment: d }) => ({
    ...deploymentPayload(d),
    message: `Deployment of ${d.blueprint} ${d.version} to ${d.totalTenants} tenant(s) queued`,
  }),
  response: deploymentSchema.extend({ message: z.string() }),
});

const getDeployment = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/deployments/{id}',
  summary: "A deployment's status, progress and per-tenant outcomes",
  input: { params: z.object({ id: z.string().min(1).max(100) }) },
  operation: graphql(
    `
      query TenantsdbDeployment($id: ID!) {
        deployment(id: $id) {
          ...DeploymentFields
          targets {
            ...TargetFields
          }
        }
      }
    `,
    [DeploymentFields, TargetFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ deployment }) => ({
    ...deploymentPayload(deployment),
    tenants: deployment.targets.map((t) => ({
      tenant_id: t.tenantSlug ?? t.tenantId,
      status: t.status,
      error: t.error,
      duration_ms: t.durationMs,
    })),
  }),
  response: deploymentSchema.extend({ tenants: z.array(targetSchema) }),
});

const tenantDeployments = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}/deployments',
  summary: "A tenant's deployment history, newest first",
  input: { params: z.object({ id: z.string().min(1).max(100) }) },
  operation: graphql(
    `
      query TenantsdbTenantDeployments($id: ID!) {
        tenantDeployments(tenantId: $id) {
          deployment {
            ...DeploymentFields
          }
          target {
            ...TargetFields
          }
        }
      }
    `,
    [DeploymentFields, TargetFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ tenantDeployments: rows }, { params }) => ({
    tenant_id: params.id,
    count: rows.length,
    deployments: rows.map((r) => ({
      job_id: r.deployment.id,
      blueprint_id: r.deployment.blueprint,
      version: r.deployment.version,
      deployment_status: r.deployment.status,
      status: r.target.status,
      error: r.target.error,
      duration_ms: r.target.durationMs,
      created_at: r.deployment.createdAt,
    })),
  }),
  response: z.object({
    tenant_id: z.string(),
    count: z.number().int(),
    deployments: z.array(
      z.object({
        job_id: z.string(),
        blueprint_id: z.string(),
        version: z.string(),
        deployment_status: z.string(),
        status: z.string().describe("This tenant's outcome: pending, completed, skipped or failed"),
        error: z.string().nullable(),
        duration_ms: z.number().nullable(),
        created_at: isoTimestamp,
      }),
    ),
  }),
});

export const tenantsdbBlueprintRoutes = [
  listBlueprints,
  getBlueprint,
  listVersions,
  listDeployments,
  createDeployment,
  getDeployment,
  tenantDeployments,
];
