import { z } from 'zod';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// tenantsdb /tenants: create, list, read and the lifecycle (suspend, resume, soft and hard delete,
// restore). The document's `{id}` and `tenant_id` are the caller-chosen slug. Its tenants carry
// `databases` made from blueprints (`<blueprint>__<tenant>`); a create naming an unknown blueprint
// answers NOT_FOUND and creates nothing. The connection string (the database's own login role on
// the server the platform uses) is left out on the embedded database, which takes no connections.
// Answers the document leaves out (delete, suspend, resume, restore) follow the style of its
// others: the tenant's id and status beside `success`, with a message.

const TENANT_FIELDS = 'id slug status createdAt';
const DATABASE_FIELDS = 'databases { blueprint databaseType isolationLevel databaseName connectionString }';
// The list shows no connection (as documented), so it does not ask tenancy for the secret at all.
const LIST_DATABASE_FIELDS = 'databases { blueprint databaseType }';

interface TenantData {
  id: string;
  slug: string;
  status: string;
  createdAt: string;
  databases?: {
    blueprint: string;
    databaseType: string;
    isolationLevel: number;
    databaseName: string;
    connectionString: string | null;
  }[];
}

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

/** The list shows blueprint and type only (as documented); one tenant's answer adds the connection. */
function databasesOf(t: TenantData, detailed: boolean): TenantDatabases {
  return (t.databases ?? []).map((d) =>
    detailed
      ? {
          blueprint: d.blueprint,
          database_type: d.databaseType,
          isolation_level: d.isolationLevel,
          connection: {
            database: d.databaseName,
            ...(d.connectionString ? { connection_string: d.connectionString } : {}),
          },
        }
      : { blueprint: d.blueprint, database_type: d.databaseType },
  );
}

const idParams = z.object({ id: z.string().min(1).max(100) });

const listTenants = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants',
  summary: 'List the project’s tenants',
  operation: `query TenantsdbTenants { tenants(limit: 100) { ${TENANT_FIELDS} ${LIST_DATABASE_FIELDS} } }`,
  respond: ({ tenants }: { tenants: TenantData[] }) => ({
    count: tenants.length,
    tenants: tenants.map((t) => ({
      created_at: t.createdAt,
      databases: databasesOf(t, false),
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
  operation: `mutation TenantsdbCreateTenant($input: CreateTenantInput!) {
    provisionTenant(input: $input) { tenant { ${TENANT_FIELDS} ${DATABASE_FIELDS} } }
  }`,
  variables: ({ body }) => ({
    input: {
      slug: body.tenant_id,
      databases: (body.databases ?? []).map((d) => ({ blueprint: d.blueprint, isolationLevel: d.isolation_level })),
    },
  }),
  respond: ({ provisionTenant }: { provisionTenant: { tenant: TenantData } }) => ({
    tenant_id: provisionTenant.tenant.slug,
    status: tenantsdbStatus(provisionTenant.tenant.status),
    databases: databasesOf(provisionTenant.tenant, true),
  }),
  response: z.object({ tenant_id: z.string(), status: statusSchema, databases: databasesSchema }),
});

const getTenant = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/tenants/{id}',
  summary: 'Tenant details',
  input: { params: idParams },
  operation: `query TenantsdbTenant($id: ID!) { tenant(id: $id) { ${TENANT_FIELDS} ${DATABASE_FIELDS} } }`,
  variables: ({ params }) => ({ id: params.id }),
  respond: ({ tenant }: { tenant: TenantData }) => ({
    tenant_id: tenant.slug,
    status: tenantsdbStatus(tenant.status),
    databases: databasesOf(tenant, true),
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
  operation: `mutation TenantsdbDeleteTenant($id: ID!, $hard: Boolean) {
    deleteTenant(id: $id, hard: $hard) { ${TENANT_FIELDS} }
  }`,
  variables: ({ params, query }) => ({ id: params.id, hard: query.hard ?? false }),
  respond: ({ deleteTenant: t }: { deleteTenant: TenantData }, { query }) => ({
    tenant_id: t.slug,
    status: tenantsdbStatus(t.status),
    message: query.hard ? `Tenant '${t.slug}' permanently deleted` : `Tenant '${t.slug}' deleted`,
  }),
  response: lifecycleResponse,
});

function lifecycleRoute(action: 'suspend' | 'resume' | 'restore', field: string, summary: string, done: string) {
  return defineRoute({
    dialect: 'tenantsdb',
    method: 'POST',
    path: `/tenants/{id}/${action}`,
    summary,
    input: { params: idParams },
    operation: `mutation Tenantsdb_${action}($id: ID!) { ${field}(id: $id) { ${TENANT_FIELDS} } }`,
    variables: ({ params }) => ({ id: params.id }),
    respond: (data: Record<string, TenantData>) => {
      const t = data[field]!;
      return { tenant_id: t.slug, status: tenantsdbStatus(t.status), message: `Tenant '${t.slug}' ${done}` };
    },
    response: lifecycleResponse,
  });
}

export const tenantsdbTenantRoutes = [
  listTenants,
  createTenant,
  getTenant,
  deleteTenant,
  lifecycleRoute('suspend', 'suspendTenant', 'Suspend a tenant: its users are refused until resumed', 'suspended'),
  lifecycleRoute('resume', 'resumeTenant', 'Resume a suspended tenant', 'resumed'),
  lifecycleRoute('restore', 'restoreTenant', 'Restore a soft-deleted tenant', 'restored'),
];
