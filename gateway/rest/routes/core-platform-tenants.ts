import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// core-platform "Multi-Tenancy Management": POST /api/tenants and GET /api/tenants/{tenant_id},
// over the tenancy subgraph (and identity, for the admin user and the user count).

/**
 * The document's `admin_user.role: "tenant_admin"` is identity's `admin` role: the role every
 * tenant's first user gets (all project scopes inside its own tenant).
 */
const TENANT_ADMIN_ROLE = 'tenant_admin';

/**
 * Platform capabilities every tenant has, shown beside the tenant's own feature flags as the
 * document does: each tenant is an isolated schema and role (multi_tenancy), and identity offers
 * every tenant's users consent records, data export and erasure (gdpr_compliance).
 */
const PLATFORM_FEATURES = { multi_tenancy: true, gdpr_compliance: true } as const;

const BYTES_PER_GB = 1024 ** 3;

const tenantParams = z.object({ tenant_id: z.string().min(1).max(100) });

const tenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  schema_name: z.string(),
  domain: z.string().nullable(),
  status: z.string().describe('active, suspended'),
  created_at: isoTimestamp,
});

const createTenant = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/tenants',
  summary: 'Create a tenant: schema, role, baseline migrations, extensions and admin user, all or nothing',
  status: 201,
  input: {
    body: z.object({
      tenant: z.object({
        name: z.string().min(1),
        schema_name: z.string().min(1).optional(),
        domain: z.string().min(1).optional(),
        settings: z
          .object({ features: z.record(z.string(), z.boolean()).optional() })
          .catchall(z.unknown())
          .optional()
          .describe('Free-form tenant settings; settings.features are the feature flags'),
        extensions: z
          .array(z.string())
          .optional()
          .describe('Postgres extensions to enable (uuid-ossp, pgcrypto, postgis, vector, …)'),
        admin_user: z.object({ email: z.string().min(1), name: z.string().min(1), password: z.string().min(1) }),
        limits: z
          .object({
            users: z.number().int().min(0).optional(),
            storage_gb: z.number().min(0).optional(),
            api_calls_per_day: z.number().int().min(0).optional(),
          })
          .optional(),
      }),
    }),
  },
  operation: graphql(`
    mutation CorePlatformCreateTenant($input: CreateTenantInput!) {
      provisionTenant(input: $input) {
        tenant {
          id
          name
          schemaName
          domain
          status
          createdAt
          updatedAt
        }
        adminUser {
          id
          email
          name
          roles
        }
        schemaCreated
        migrationsApplied
        schemaVersion
        extensionsEnabled
        extensionsMissing
      }
    }
  `),
  variables: ({ body }) => {
    const { features, ...settings } = body.tenant.settings ?? {};
    return {
      input: {
        name: body.tenant.name,
        schemaName: body.tenant.schema_name,
        domain: body.tenant.domain,
        settings,
        features: features ?? {},
        limits: body.tenant.limits ?? {},
        extensions: body.tenant.extensions ?? [],
        adminUser: body.tenant.admin_user,
      },
    };
  },
  respond: ({ provisionTenant: p }) => ({
    tenant: {
      id: p.tenant.id,
      name: p.tenant.name,
      schema_name: p.tenant.schemaName,
      domain: p.tenant.domain,
      status: p.tenant.status,
      created_at: p.tenant.createdAt,
    },
    admin_user: p.adminUser
      ? {
          id: p.adminUser.id,
          email: p.adminUser.email,
          name: p.adminUser.name,
          role: p.adminUser.roles.includes('admin') ? TENANT_ADMIN_ROLE : (p.adminUser.roles[0] ?? TENANT_ADMIN_ROLE),
        }
      : null,
    database: {
      schema_created: p.schemaCreated,
      migrations_applied: p.schemaVersion !== null && p.migrationsApplied.length > 0,
      extensions_enabled: p.extensionsEnabled,
      extensions_missing: p.extensionsMissing,
    },
  }),
  response: z.object({
    tenant: tenantSchema,
    admin_user: z
      .object({
        id: z.string(),
        email: z.string(),
        name: z.string(),
        role: z.string().describe('"tenant_admin": identity\'s admin role inside this tenant'),
      })
      .nullable(),
    database: z.object({
      schema_created: z.boolean(),
      migrations_applied: z.boolean().describe('The platform baseline (users table, …) was applied'),
      extensions_enabled: z.array(z.string()).describe('Requested extensions present in pg_extension'),
      extensions_missing: z
        .array(z.string())
        .describe('Requested extensions this server does not have (or refused): not enabled'),
    }),
  }),
});

/**
 * A tenant's `limits` and a plan's `limits` are JSON: `{ users, storage_gb, api_calls_per_day }`,
 * each optional. `plan` is JSON too: `{ code, limits }`, null without a subscription.
 */
type LimitsJson = { users?: number | null; storage_gb?: number | null; api_calls_per_day?: number | null };
type PlanJson = { code: string; limits: LimitsJson } | null;

function percent(current: number | null, limit: number | null | undefined): number | null {
  if (current === null || limit === null || limit === undefined || limit <= 0) return null;
  return Math.round((current / limit) * 1000) / 10;
}

const nullableNumber = z.number().nullable();

const getTenant = defineRoute({
  dialect: 'core-platform',
  method: 'GET',
  path: '/api/tenants/{tenant_id}',
  summary: 'Tenant configuration, status and usage',
  input: { params: tenantParams },
  operation: graphql(`
    query CorePlatformTenant($id: ID!) {
      tenant(id: $id) {
        id
        name
        schemaName
        domain
        status
        createdAt
        updatedAt
        limits
        features
        storageBytes
        userCount
        apiCallsToday
        plan
      }
    }
  `),
  variables: ({ params }) => ({ id: params.tenant_id }),
  respond: ({ tenant }) => {
    // The plan's limits are the ones enforced; a tenant without a plan shows the limits it was created with.
    const plan = tenant.plan as PlanJson;
    const limits = plan ? plan.limits : (tenant.limits as LimitsJson);
    const storageGb = tenant.storageBytes / BYTES_PER_GB;
    return {
      tenant: {
        id: tenant.id,
        name: tenant.name,
        schema_name: tenant.schemaName,
        domain: tenant.domain,
        status: tenant.status,
        created_at: tenant.createdAt,
        updated_at: tenant.updatedAt,
      },
      usage: {
        users: {
          current: tenant.userCount,
          limit: limits.users ?? null,
          usage_percent: percent(tenant.userCount, limits.users),
        },
        storage: {
          current_gb: Math.round(storageGb * 1000) / 1000,
          limit_gb: limits.storage_gb ?? null,
          usage_percent: percent(storageGb, limits.storage_gb),
        },
        api_calls: {
          current_daily: tenant.apiCallsToday,
          limit_daily: limits.api_calls_per_day ?? null,
          usage_percent: percent(tenant.apiCallsToday, limits.api_calls_per_day),
        },
      },
      features: { ...PLATFORM_FEATURES, ...(tenant.features as Record<string, boolean>) } as Record<string, boolean>,
    };
  },
  response: z.object({
    tenant: tenantSchema.extend({ updated_at: isoTimestamp }),
    usage: z.object({
      users: z
        .object({ current: z.number().int(), limit: nullableNumber, usage_percent: nullableNumber })
        .describe("The tenant's users that are not deleted (identity)"),
      storage: z
        .object({ current_gb: z.number(), limit_gb: nullableNumber, usage_percent: nullableNumber })
        .describe("The tenant schema's tables with their indexes, from the catalog, in GiB (3 decimals)"),
      api_calls: z
        .object({ current_daily: z.number().int(), limit_daily: nullableNumber, usage_percent: nullableNumber })
        .describe("Calls metered by the gateway today (UTC) for the tenant's users and keys; limit from its plan"),
    }),
    features: z.record(z.string(), z.boolean()),
  }),
});

export const corePlatformTenantRoutes = [createTenant, getTenant];
