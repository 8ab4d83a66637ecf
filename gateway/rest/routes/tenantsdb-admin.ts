import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute } from '../route.js';

// tenantsdb POST /admin/query. The document shows only the request; the answer follows the
// dialect's style: snake_case, one entry per tenant with its rows or its error.

const adminQuery = defineRoute({
  dialect: 'tenantsdb',
  method: 'POST',
  path: '/admin/query',
  summary: 'Run one SQL statement on a tenant, or on every tenant the caller may see (all_tenants)',
  input: {
    body: z.object({
      tenant_id: z.string().min(1).optional(),
      query: z.string().min(1),
      parameters: z.array(z.unknown()).optional(),
      database_type: z.string().optional(),
      blueprint: z.string().min(1).optional(),
      all_tenants: z.boolean().optional(),
      read_only: z.boolean().optional(),
      timeout_ms: z.number().int().optional(),
    }),
  },
  operation: graphql(`
    mutation TenantsdbAdminQuery($input: AdminQueryInput!) {
      adminTenantQuery(input: $input) {
        allTenants
        tenantCount
        succeeded
        failed
        results {
          tenantId
          schema
          status
          result {
            queryId
            executionTimeMs
            rowCount
            rows
            columns
            truncated
          }
          error {
            code
            message
            details
          }
        }
      }
    }
  `),
  variables: ({ body }) => ({
    input: {
      tenantId: body.tenant_id ?? null,
      query: body.query,
      parameters: body.parameters ?? [],
      databaseType: body.database_type ?? null,
      blueprint: body.blueprint ?? null,
      allTenants: body.all_tenants ?? false,
      readOnly: body.read_only ?? false,
      timeoutMs: body.timeout_ms ?? null,
    },
  }),
  respond: ({ adminTenantQuery: a }) => ({
    all_tenants: a.allTenants,
    tenant_count: a.tenantCount,
    succeeded: a.succeeded,
    failed: a.failed,
    results: a.results.map((r) => ({
      tenant_id: r.tenantId,
      schema: r.schema,
      status: r.status,
      ...(r.result
        ? {
            query_id: r.result.queryId,
            execution_time_ms: r.result.executionTimeMs,
            row_count: r.result.rowCount,
            columns: r.result.columns,
            rows: r.result.rows,
            truncated: r.result.truncated,
          }
        : {}),
      ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    })),
  }),
  response: z.object({
    all_tenants: z.boolean(),
    tenant_count: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    results: z.array(
      z.object({
        tenant_id: z.string(),
        schema: z.string(),
        status: z.enum(['success', 'error']),
        query_id: z.string().optional(),
        execution_time_ms: z.number().optional(),
        row_count: z.number().int().optional(),
        columns: z.array(z.string()).optional(),
        rows: z.array(z.array(z.unknown())).optional(),
        truncated: z.boolean().optional(),
        error: z.object({ code: z.string(), message: z.string() }).optional(),
      }),
    ),
  }),
});

export const tenantsdbAdminRoutes = [adminQuery];
