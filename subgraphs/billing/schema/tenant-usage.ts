import { readApiCalls } from '../../../lib/plan-limits.js';
import { assertTenantAccess, requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { tenantPlanLimits } from '../services/limits.js';

// Tenant is owned by tenancy; billing adds its plan and today's metered API calls. projectId comes
// from tenancy (@requires) so the access check needs none of tenancy's tables.
builder.externalRef('Tenant', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ projectId: t.id({ nullable: true }) }),
  fields: (t) => ({
    id: t.exposeID('id'),
    apiCallsToday: t.int({
      description: "Requires read:tenants. API calls the gateway metered for this tenant today (UTC).",
      requires: builder.selection<{ projectId?: string | null }>('projectId'),
      resolve: async (tenant, _args, ctx) => {
        const principal = requireScope(ctx.principal, 'read:tenants');
        assertTenantAccess(principal, { id: tenant.id, projectId: tenant.projectId ?? null });
        return readApiCalls(ctx.deps.kv.cache, tenant.id);
      },
    }),
    plan: t.field({
      type: 'JSON',
      nullable: true,
      description:
        "Requires read:tenants. The tenant's current plan `{ code, limits }` (users, storage_gb, api_calls_per_day); null without a subscription.",
      requires: builder.selection<{ projectId?: string | null }>('projectId'),
      resolve: async (tenant, _args, ctx) => {
        const principal = requireScope(ctx.principal, 'read:tenants');
        assertTenantAccess(principal, { id: tenant.id, projectId: tenant.projectId ?? null });
        const current = await tenantPlanLimits(ctx.deps, tenant.id);
        return current ? { code: current.planCode, limits: current.limits } : null;
      },
    }),
  }),
});
