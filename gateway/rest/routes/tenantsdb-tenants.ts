import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb /tenants: create, list, read and the lifecycle (suspend, resume, soft and hard delete,
// restore). The document's `{id}` and `tenant_id` are the caller-chosen slug. Its tenants carry
// `databases` made from blueprints (`<blueprint>__<tenant>`); a create naming an unknown blueprint
// answers NOT_FOUND and creates nothing. The connection string (the database's own login role on
// the server the platform uses) is left out on the embedded database, which takes no connections.
// Answers the document leaves out (delete, suspend, resume, restore) follow the style of its
// others: the tenant's id and status beside `success`, with a message.

const TenantFields = graphql(`
  fragment TenantFields on Tenant {
    id
    slug
    status
    createdAt
  }
`);
const TenantDatabaseFields = graphql(`
  fragment TenantDatabaseFields on TenantDatabase {
    blueprint
    databaseType
    isolationLevel
    databaseName
    connectionString
  }
`);
// The list shows no connection (as documented), so it does not ask tenancy for the secret at all.
const TenantListDatabaseFields = graphql(`
  fragment TenantListDatabaseFields on TenantDatabase {
    blueprint
    databaseType
  }
`);

/** tenantsdb calls a usable tenant "ready"; the platform's `active`. */
function tenantsdbStatus(status: string): string {
  return status === 'active' ? 'ready' : status;
}

const statusSchema = z.string().describe('ready, suspended or deleted');
const databasesSchema = z
  .array(
    z.object({
      blueprint: z.string(),
      database_type: z.string(),
      isolation_level: z.number().int().optional(),
      connection: z
        .object({
          database: z.string(),
          connection_string: z
            .string()
            .optional()
            .describe('Absent on the embedded database: direct connections need PostgreSQL'),
        })
        .optional(),
    }),
  )
  .describe('Databases made from blueprints');

type TenantDatabases = z.infer<typeof databasesSchema>;

/** The list shows blueprint and type only (as documented). */
function listedDatabases(databases: readonly ResultOf<typeof TenantListDatabaseFields>[]): TenantDatabases {
  return databases.map((d) => ({ blueprint: d.blueprint, database_type: d.databaseType }));
}

/** One tenant's answer adds the isolation level and the connection. */
function detailedDatabases(databases: readonly ResultOf<typeof TenantDatabaseFields>[]): TenantDatabases {
  return databases.map((d) => ({
    blueprint: d.blueprint,
    database_type: d.databaseType,
    isolation_level: d.isolationLevel,
    connection: {
      database: d.databaseName,
      ...(d.connectionString ? { connection_string: d.connectionString } : {}),
    },
  }));
}

const idParams = z.object({ id: z.string().min(1).max(100) });

const listTenants = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants',
  summary: 'List the project’s tenants',
  operation: graphql(
    `
      query TenantsdbTenants {
        tenants(limit: 100) {
          ...TenantFields
          databases {
            ...TenantListDatabaseFields
          }
        }
      }
    `,
    [TenantFields, TenantListDatabaseFields],
  ),
  respond: ({ tenants }) => ({
    count: tenants.length,
    tenants: tenants.map((t) => ({
      created_at: t.createdAt,
      databases: listedDatabases(t.databases),
      status: tenantsdbStatus(t.status),
      tenant_id: t.slug,
    })),
  }),
  response: z.object({
    count: z.number().int(),
    tenants: z.array(
      z.object({ created_at: isoTimestamp, databases: databasesSchema, status: statusSchema, tenant_id: z.string() }),
    ),
  }),
});

const createTenant = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/tenants',
  summary: 'Create a tenant: its schema, role and baseline, all or nothing',
  status: 201,
  input: {
    body: z.object({
      tenant_id: z.string().min(1).max(100),
      databases: z
        .array(
          z.object({
            blueprint: z.string().min(1).max(100),
            isolation_level: z.number().int().min(1).max(2).optional(),
          }),
        )
        .optional(),
    }),
  },
  operation: graphql(
    `
      mutation TenantsdbCreateTenant($input: CreateTenantInput!) {
        provisionTenant(input: $input) {
          tenant {
            ...TenantFields
            databases {
              ...TenantDatabaseFields
            }
          }
        }
      }
    `,
    [TenantFields, TenantDatabaseFields],
  ),
  variables: ({ body }) => ({
    input: {
      slug: body.tenant_id,
      databases: (body.databases ?? []).map((d) => ({ blueprint: d.blueprint, isolationLevel: d.isolation_level })),
    },
  }),
  respond: ({ provisionTenant }) => ({
    tenant_id: provisionTenant.tenant.slug,
    status: tenantsdbStatus(provisionTenant.tenant.status),
    databases: detailedDatabases(provisionTenant.tenant.databases),
  }),
  response: z.object({ tenant_id: z.string(), status: statusSchema, databases: databasesSchema }),
});

const getTenant = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}',
  summary: 'Tenant details',
  input: { params: idParams },
  operation: graphql(
    `
      query TenantsdbTenant($id: ID!) {
        tenant(id: $id) {
          ...TenantFields
          databases {
            ...TenantDatabaseFields
          }
        }
      }
    `,
    [TenantFields, TenantDatabaseFields],
  ),
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ tenant }) => ({
    tenant_id: tenant.slug,
    status: tenantsdbStatus(tenant.status),
    databases: detailedDatabases(tenant.databases),
  }),
  response: z.object({ tenant_id: z.string(), status: statusSchema, databases: databasesSchema }),
});

const lifecycleResponse = z.object({ tenant_id: z.string(), status: statusSchema, message: z.string() });

const deleteTenant = defineRoute({
  dialect: 'tenantsdb',
  method: 'DELETE',
  path: '/tenants/{id}',
  summary: 'Delete a tenant: soft (restorable) by default; hard=true drops its schema and everything in it',
  input: {
    params: idParams,
    query: z.object({
      hard: z
        .enum(['true', 'false', '1', '0'])
        .transform((v) => v === 'true' || v === '1')
        .optional(),
    }),
  },
  operation: graphql(
    `
      mutation TenantsdbDeleteTenant($id: ID!, $hard: Boolean) {
        deleteTenant(id: $id, hard: $hard) {
          ...TenantFields
        }
      }
    `,
    [TenantFields],
  ),
  variables: ({ params, query }) => ({ id: params.id, hard: query.hard ?? false }),
  respond: ({ deleteTenant: t }, { query }) => ({
    tenant_id: t.slug,
    status: tenantsdbStatus(t.status),
    message: query.hard ? `Tenant '${t.slug}' permanently deleted` : `Tenant '${t.slug}' deleted`,
  }),
  response: lifecycleResponse,
});

const LIFECYCLE_OPERATIONS = {
  suspend: graphql(
    `
      mutation Tenantsdb_suspend($id: ID!) {
        tenant: suspendTenant(id: $id) {
          ...TenantFields
        }
      }
    `,
    [TenantFields],
  ),
  resume: graphql(
    `
      mutation Tenantsdb_resume($id: ID!) {
        tenant: resumeTenant(id: $id) {
          ...TenantFields
        }
      }
    `,
    [TenantFields],
  ),
  restore: graphql(
    `
      mutation Tenantsdb_restore($id: ID!) {
        tenant: restoreTenant(id: $id) {
          ...TenantFields
        }
      }
    `,
    [TenantFields],
  ),
};

function lifecycleRoute(action: keyof typeof LIFECYCLE_OPERATIONS, summary: string, done: string) {
  return defineRoute({
    dialect: 'tenantsdb',
    method: 'POST',
    path: `/tenants/{id}/${action}`,
    summary,
    input: { params: idParams },
    operation: LIFECYCLE_OPERATIONS[action],
    variables: ({ params }) => ({ id: params.id }),
    respond: ({ tenant: t }) => ({
      tenant_id: t.slug,
      status: tenantsdbStatus(t.status),
      message: `Tenant '${t.slug}' ${done}`,
    }),
    response: lifecycleResponse,
  });
}

export const tenantsdbTenantRoutes = [
  listTenants,
  createTenant,
  getTenant,
  deleteTenant,
  lifecycleRoute('suspend', 'Suspend a tenant: its users are refused until resumed', 'suspended'),
  lifecycleRoute('resume', 'Resume a suspended tenant', 'resumed'),
  lifecycleRoute('restore', 'Restore a soft-deleted tenant', 'restored'),
];
