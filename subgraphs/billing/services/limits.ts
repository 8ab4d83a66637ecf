import { planLimitsSchema, writePlanLimits, type PlanLimits } from '../../../lib/plan-limits.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/** Statuses under which a subscription's plan applies; a canceled or unpaid one leaves no plan. */
export const LIVE_SUBSCRIPTION_STATUSES = ['active', 'trialing', 'past_due'];

/** The limits of the tenant's current plan (its newest live subscription to one of our plans), or null. */
export async function tenantPlanLimits(
  deps: SubgraphDeps,
  tenantId: string,
): Promise<{ planCode: string; limits: PlanLimits } | null> {
  const subscription = await deps.db.prisma.billingSubscription.findFirst({
    where: { tenantId, status: { in: LIVE_SUBSCRIPTION_STATUSES }, planId: { not: null } },
    orderBy: { createdAt: 'desc' },
  });
  if (!subscription?.planId) return null;
  const plan = await deps.db.prisma.plan.findUnique({ where: { id: subscription.planId } });
  if (!plan) return null;
  // Keys a plan may hold beyond the three limits are ignored, not enforced by accident.
  const parsed = planLimitsSchema.safeParse(plan.limits);
  return { planCode: plan.code, limits: parsed.success ? parsed.data : {} };
}

/**
 * Writes the tenant's plan limits where the gateway and identity read them (lib/plan-limits.ts).
 * Called after every change to a tenant's subscriptions, and for every tenant at start-up, so a
 * restarted in-memory store or a flushed Redis learns them again.
 */
export async function publishTenantLimits(deps: SubgraphDeps, tenantId: string): Promise<PlanLimits | null> {
  const current = await tenantPlanLimits(deps, tenantId);
  await writePlanLimits(deps.kv, tenantId, current?.limits ?? null);
  return current?.limits ?? null;
}

export async function publishAllTenantLimits(deps: SubgraphDeps): Promise<number> {
  const tenants = await deps.db.prisma.billingSubscription.findMany({
    where: { tenantId: { not: null } },
    distinct: ['tenantId'],
    select: { tenantId: true },
  });
  for (const { tenantId } of tenants) await publishTenantLimits(deps, tenantId!);
  return tenants.length;
}
