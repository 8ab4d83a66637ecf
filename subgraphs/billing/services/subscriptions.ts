import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { BillingSubscription } from '../../../prisma/generated/client.js';
import { findCustomerFor } from './customers.js';
import { publishTenantLimits } from './limits.js';
import { callStripe, stripeClient, type Stripe } from './stripe-client.js';

export type { BillingSubscription };

const priceId = z.string().regex(/^(price|plan)_\w{1,200}$/, 'must be a Stripe price id (price_...)');
const metadata = z
  .record(z.string().max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 20, 'at most 20 keys')
  .nullish();

const createSubscriptionInput = z.object({
  customerId: z.string().regex(/^cus_\w{1,200}$/, 'must be a Stripe customer id (cus_...)'),
  priceId,
  trialDays: z.number().int().min(1).max(730).nullish(),
  quantity: z.number().int().min(1).max(100_000).nullish(),
  metadata,
});

const PRORATION_BEHAVIORS = ['create_prorations', 'always_invoice', 'none'] as const;

const updateSubscriptionInput = z
  .object({
    priceId: priceId.nullish(),
    quantity: z.number().int().min(1).max(100_000).nullish(),
    prorationBehavior: z.enum(PRORATION_BEHAVIORS).nullish(),
    metadata,
  })
  .refine((v) => v.priceId || v.quantity || v.metadata, 'nothing to change: give price_id, quantity or metadata');

/** Stripe's subscription as our row: the first item carries the price, quantity and (since 2025) the period. */
async function saveSubscription(
  deps: SubgraphDeps,
  subscription: Stripe.Subscription,
  observedAt: Date,
): Promise<BillingSubscription> {
  const item = subscription.items.data[0];
  if (!item) throw new AppError('INTERNAL_ERROR', 'Stripe answered a subscription without items');
  const customerId = typeof subscription.customer === 'string' ? subscription.customer : subscription.customer.id;
  const known = await deps.db.prisma.billingCustomer.findUnique({ where: { id: customerId } });
  const tenantId = known?.tenantId ?? subscription.metadata?.tenant_id ?? null;
  if (!known) {
    // A subscription made outside the platform (the Stripe dashboard): its customer becomes known here.
    await deps.db.prisma.billingCustomer.upsert({
      where: { id: customerId },
      create: { id: customerId, tenantId },
      update: {},
    });
  }
  const plan = await deps.db.prisma.plan.findUnique({ where: { stripePriceId: item.price.id } });
  const at = (s: number | null | undefined) => (s ? new Date(s * 1000) : null);
  const fields = {
    customerId,
    tenantId,
    priceId: item.price.id,
    planId: plan?.id ?? null,
    status: subscription.status,
    quantity: item.quantity ?? 1,
    trialEnd: at(subscription.trial_end),
    currentPeriodStart: at(item.current_period_start),
    currentPeriodEnd: at(item.current_period_end),
    cancelAtPeriodEnd: subscription.cancel_at_period_end,
    canceledAt: at(subscription.canceled_at),
    metadata: subscription.metadata ?? {},
    stripeUpdatedAt: observedAt,
  };
  // Events can arrive late and out of order: a state older than the one stored changes nothing.
  const updated = await deps.db.prisma.billingSubscription.updateMany({
    where: { id: subscription.id, stripeUpdatedAt: { lte: observedAt } },
    data: fields,
  });
  if (updated.count === 0) {
    const exists = await deps.db.prisma.billingSubscription.findUnique({ where: { id: subscription.id } });
    if (exists) return exists;
    await deps.db.prisma.billingSubscription.create({ data: { id: subscription.id, ...fields } });
  }
  if (tenantId) await publishTenantLimits(deps, tenantId);
  return deps.db.prisma.billingSubscription.findUniqueOrThrow({ where: { id: subscription.id } });
}

export { saveSubscription };

export async function createSubscription({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createSubscriptionInput>;
}): Promise<BillingSubscription> {
  requireScope(principal, 'write:billing');
  const data = parseInput(createSubscriptionInput, input);
  const customer = await findCustomerFor(deps, principal, data.customerId);
  const claimed = data.metadata?.tenant_id;
  if (claimed && customer.tenantId && claimed !== customer.tenantId) {
    throw new AppError('TENANT_MISMATCH', "metadata.tenant_id is not the customer's tenant", { tenant_id: claimed });
  }
  const stripe = stripeClient(deps);
  const subscription = await callStripe(() =>
    stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: data.priceId, ...(data.quantity ? { quantity: data.quantity } : {}) }],
      ...(data.trialDays ? { trial_period_days: data.trialDays } : {}),
      metadata: { ...data.metadata, ...(customer.tenantId ? { tenant_id: customer.tenantId } : {}) },
    }),
  );
  return saveSubscription(deps, subscription, new Date());
}

async function findSubscriptionFor(deps: SubgraphDeps, principal: Principal, subscriptionId: string) {
  const subscription = await deps.db.prisma.billingSubscription.findUnique({ where: { id: subscriptionId } });
  if (!subscription) throw new AppError('NOT_FOUND', 'No such subscription', { subscription_id: subscriptionId });
  await findCustomerFor(deps, principal, subscription.customerId).catch(() => {
    throw new AppError('NOT_FOUND', 'No such subscription', { subscription_id: subscriptionId });
  });
  return subscription;
}

/** Plan or quantity change; Stripe prorates as asked (default create_prorations, Stripe's own default). */
export async function updateSubscription({
  deps,
  principal,
  subscriptionId,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  subscriptionId: string;
  input: z.input<typeof updateSubscriptionInput>;
}): Promise<BillingSubscription> {
  requireScope(principal, 'write:billing');
  const data = parseInput(updateSubscriptionInput, input);
  await findSubscriptionFor(deps, principal, subscriptionId);
  const stripe = stripeClient(deps);
  const current = await callStripe(() => stripe.subscriptions.retrieve(subscriptionId));
  const item = current.items.data[0];
  if (!item) throw new AppError('INTERNAL_ERROR', 'Stripe answered a subscription without items');
  if (current.status === 'canceled') {
    throw new AppError('CONFLICT', 'A canceled subscription cannot be changed', { subscription_id: subscriptionId });
  }
  const updated = await callStripe(() =>
    stripe.subscriptions.update(subscriptionId, {
      ...(data.priceId || data.quantity
        ? {
            // The existing item is changed in place: adding a second item would bill both prices.
            items: [
              {
                id: item.id,
                ...(data.priceId ? { price: data.priceId } : {}),
                ...(data.quantity ? { quantity: data.quantity } : {}),
              },
            ],
            proration_behavior: data.prorationBehavior ?? 'create_prorations',
          }
        : {}),
      ...(data.metadata ? { metadata: data.metadata } : {}),
    }),
  );
  return saveSubscription(deps, updated, new Date());
}

/** At period end: the plan runs to the end of what was paid. Now: Stripe ends it at once. */
export async function cancelSubscription({
  deps,
  principal,
  subscriptionId,
  atPeriodEnd,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  subscriptionId: string;
  atPeriodEnd: boolean;
}): Promise<BillingSubscription> {
  requireScope(principal, 'write:billing');
  await findSubscriptionFor(deps, principal, subscriptionId);
  const stripe = stripeClient(deps);
  const result = await callStripe(() =>
    atPeriodEnd
      ? stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true })
      : stripe.subscriptions.cancel(subscriptionId),
  );
  return saveSubscription(deps, result, new Date());
}

export async function planCodeOf(deps: SubgraphDeps, planId: string | null): Promise<string | null> {
  if (!planId) return null;
  return (await deps.db.prisma.plan.findUnique({ where: { id: planId }, select: { code: true } }))?.code ?? null;
}
