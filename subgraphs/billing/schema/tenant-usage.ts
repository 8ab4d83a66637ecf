import { planLimitsSchema, readApiCalls, type PlanLimits } from '../../../lib/plan-limits.js';
import { assertTenantAccess, requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { tenantPlanLimits } from '../services/limits.js';

/** How much of one plan limit is used: limit and percentage null when no limit applies. */
interface UsageFigure {
  current: number;
  limit: number | null;
  usagePercent: number | null;
}

const UsageFigureRef = builder.objectRef<UsageFigure>('UsageFigure').implement({
  fields: (t) => ({
    current: t.exposeFloat('current'),
    limit: t.exposeFloat('limit', { nullable: true }),
    usagePercent: t.exposeFloat('usagePercent', { nullable: true, description: 'current / limit, one decimal' }),
  }),
});

const TenantUsageRef = builder
  .objectRef<{ users: UsageFigure; storageGb: UsageFigure; apiCallsDaily: UsageFigure }>('TenantUsage')
  .implement({
    description: "A tenant's use of its plan's limits: the limits enforced, so the ones billing owns.",
    fields: (t) => ({
      users: t.field({ type: UsageFigureRef, resolve: (u) => u.users }),
      storageGb: t.field({ type: UsageFigureRef, resolve: (u) => u.storageGb }),
      apiCallsDaily: t.field({ type: UsageFigureRef, resolve: (u) => u.apiCallsDaily }),
    }),
  });

const BYTES_PER_GB = 1024 ** 3;

function figure(current: number, limit: number | undefined): UsageFigure {
  const usable = limit !== undefined && limit > 0;
  return { current, limit: limit ?? null, usagePercent: usable ? Math.round((current / limit) * 1000) / 10 : null };
}

// Tenant is owned by tenancy; billing adds its plan, today's metered API calls and the usage of the
// plan's limits. projectId, the limits the tenant was created with and its storage come from
// tenancy, its user count from identity (@requires), so billing reads none of their tables.
builder.externalRef('Tenant', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({
    projectId: t.id({ nullable: true }),
    limits: t.field({ type: 'JSON' }),
    storageBytes: t.float(),
    userCount: t.int(),
  }),
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
    usage: t.field({
      type: TenantUsageRef,
      description:
        "Requires read:tenants. Users, storage and today's API calls against the plan's limits (a tenant without a plan: the limits it was created with).",
      requires: builder.selection<{
        projectId?: string | null;
        // JSON from tenancy; typed as a scalar so Pothos' selection type asks no sub-selection of it.
        limits?: string | null;
        storageBytes?: number;
        userCount?: number;
      }>('projectId limits storageBytes userCount'),
      resolve: async (tenant, _args, ctx) => {
        const principal = requireScope(ctx.principal, 'read:tenants');
        assertTenantAccess(principal, { id: tenant.id, projectId: tenant.projectId ?? null });
        const [current, apiCalls] = await Promise.all([
          tenantPlanLimits(ctx.deps, tenant.id),
          readApiCalls(ctx.deps.kv.cache, tenant.id),
        ]);
        const created = planLimitsSchema.safeParse((tenant.limits as unknown) ?? {});
        const limits: PlanLimits = current ? current.limits : created.success ? created.data : {};
        const storageGb = Math.round(((tenant.storageBytes ?? 0) / BYTES_PER_GB) * 1000) / 1000;
        return {
          users: figure(tenant.userCount ?? 0, limits.users),
          storageGb: figure(storageGb, limits.storage_gb),
          apiCallsDaily: figure(apiCalls, limits.api_calls_per_day),
        };
      },
    }),
  }),
});
