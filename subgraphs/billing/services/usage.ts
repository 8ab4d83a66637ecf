import { readApiCalls, utcDay } from '../../../lib/plan-limits.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { LIVE_SUBSCRIPTION_STATUSES } from './limits.js';
import { callStripe, requireStripeSettings, stripeClient } from './stripe-client.js';

export interface UsageReportResult {
  day: string;
  reported: Array<{ tenantId: string; customerId: string; apiCalls: number; sent: number }>;
}

/**
 * Reports each subscribed tenant's API calls of a day (metered by the gateway) to Stripe as billing
 * meter events. Only the increase since the last report is sent, and each event carries an
 * identifier naming the tenant, day and running total, so a retried run never bills twice: Stripe
 * drops a repeated identifier, and our own record moves only after Stripe accepted the event.
 */
export async function reportApiUsage(deps: SubgraphDeps, day: string = utcDay()): Promise<UsageReportResult> {
  const settings = requireStripeSettings(deps);
  const stripe = stripeClient(deps);
  const subscriptions = await deps.db.prisma.billingSubscription.findMany({
    where: { tenantId: { not: null }, status: { in: LIVE_SUBSCRIPTION_STATUSES } },
    distinct: ['tenantId'],
    orderBy: [{ tenantId: 'asc' }, { createdAt: 'desc' }],
    select: { tenantId: true, customerId: true },
  });
  const reported: UsageReportResult['reported'] = [];
  for (const { tenantId, customerId } of subscriptions) {
    const total = await readApiCalls(deps.kv.cache, tenantId!, day);
    const previous = await deps.db.prisma.usageReport.findUnique({
      where: { tenantId_day: { tenantId: tenantId!, day } },
    });
    const delta = total - (previous?.apiCalls ?? 0);
    if (delta <= 0) continue;
    await callStripe(() =>
      stripe.billing.meterEvents.create({
        event_name: settings.usageMeterEvent,
        payload: { stripe_customer_id: customerId, value: String(delta) },
        identifier: `api_calls:${tenantId}:${day}:${total}`,
        // The day's last second at most: usage of a finished day is never dated into the next.
        timestamp: Math.min(Math.floor(Date.now() / 1000), Date.parse(`${day}T23:59:59Z`) / 1000),
      }),
    );
    await deps.db.prisma.usageReport.upsert({
      where: { tenantId_day: { tenantId: tenantId!, day } },
      create: { tenantId: tenantId!, day, customerId, apiCalls: total },
      update: { apiCalls: total, customerId, reportedAt: new Date() },
    });
    reported.push({ tenantId: tenantId!, customerId, apiCalls: total, sent: delta });
  }
  return { day, reported };
}
