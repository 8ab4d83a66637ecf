import Stripe from 'stripe';
import { AppError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { Prisma } from '../../../prisma/generated/client.js';
import { emitWebhookEvent } from '../../../lib/webhooks.js';
import { BILLING_EVENTS_CHANNEL, type BillingEventMessage } from '../contract.js';
import { requireStripeSettings, stripeClient } from './stripe-client.js';
import { saveSubscription } from './subscriptions.js';

/** Stripe's own default: a signature older (or newer) than five minutes is refused, so a captured delivery cannot be replayed later. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The documented event types, and the platform event each becomes on the billing channel. */
export const HANDLED_EVENTS: Readonly<Record<string, string>> = {
  'customer.subscription.created': 'subscription.created',
  'customer.subscription.updated': 'subscription.updated',
  'customer.subscription.deleted': 'subscription.deleted',
  'invoice.payment_succeeded': 'payment.succeeded',
  'invoice.payment_failed': 'payment.failed',
  'payment_method.attached': 'payment_method.attached',
  'payment_method.detached': 'payment_method.detached',
};

export interface WebhookOutcome {
  eventId: string;
  type: string;
  /** This event id was applied before: nothing changed this time. */
  duplicate: boolean;
  /** False for an event type the platform does not act on (acknowledged so Stripe stops retrying). */
  handled: boolean;
}

const idOf = (value: string | { id: string } | null | undefined) =>
  value === null || value === undefined ? null : typeof value === 'string' ? value : value.id;

async function tenantOfCustomer(deps: SubgraphDeps, customerId: string | null): Promise<string | null> {
  if (!customerId) return null;
  return (await deps.db.prisma.billingCustomer.findUnique({ where: { id: customerId } }))?.tenantId ?? null;
}

/** Applies one event to local state; returns the tenant it concerns and the data to publish. */
async function applyEvent(
  deps: SubgraphDeps,
  event: Stripe.Event,
): Promise<{ tenantId: string | null; data: Record<string, unknown> }> {
  const observedAt = new Date(event.created * 1000);
  switch (event.type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const row = await saveSubscription(deps, event.data.object, observedAt);
      return {
        tenantId: row.tenantId,
        data: {
          subscription_id: row.id,
          customer_id: row.customerId,
          status: row.status,
          price_id: row.priceId,
          cancel_at_period_end: row.cancelAtPeriodEnd,
        },
      };
    }
    case 'invoice.payment_succeeded':
    case 'invoice.payment_failed': {
      const invoice = event.data.object;
      const customerId = idOf(invoice.customer)!;
      const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
      const fields = {
        customerId,
        subscriptionId,
        status: invoice.status ?? 'open',
        amountDue: invoice.amount_due,
        amountPaid: invoice.amount_paid,
        currency: invoice.currency,
      };
      await deps.db.prisma.billingInvoice.upsert({
        where: { id: invoice.id! },
        create: { id: invoice.id!, ...fields },
        update: fields,
      });
      return {
        tenantId: await tenantOfCustomer(deps, customerId),
        data: {
          invoice_id: invoice.id,
          customer_id: customerId,
          subscription_id: subscriptionId,
          amount_paid: invoice.amount_paid,
          amount_due: invoice.amount_due,
          currency: invoice.currency,
        },
      };
    }
    case 'payment_method.attached': {
      const method = event.data.object;
      const customerId = idOf(method.customer);
      // The first method attached becomes the default one we show; a later one leaves it.
      if (customerId) {
        await deps.db.prisma.billingCustomer.updateMany({
          where: { id: customerId, defaultPaymentMethod: null },
          data: { defaultPaymentMethod: method.id },
        });
      }
      return {
        tenantId: await tenantOfCustomer(deps, customerId),
        data: { payment_method_id: method.id, customer_id: customerId },
      };
    }
    case 'payment_method.detached': {
      const method = event.data.object;
      // After a detach the object has no customer any more; previous_attributes names it.
      const previous = event.data.previous_attributes as { customer?: string | null } | undefined;
      const customerId = previous?.customer ?? null;
      const cleared = await deps.db.prisma.billingCustomer.findMany({
        where: { defaultPaymentMethod: method.id },
        select: { id: true, tenantId: true },
      });
      await deps.db.prisma.billingCustomer.updateMany({
        where: { defaultPaymentMethod: method.id },
        data: { defaultPaymentMethod: null },
      });
      return {
        tenantId: cleared[0]?.tenantId ?? (await tenantOfCustomer(deps, customerId)),
        data: { payment_method_id: method.id, customer_id: customerId ?? cleared[0]?.id ?? null },
      };
    }
    default:
      return { tenantId: null, data: {} };
  }
}

/**
 * POST /api/v1/billing/webhooks/stripe: verifies Stripe-Signature over the raw body with the SDK,
 * applies the event once (its id is recorded; a replay changes nothing), and publishes it on the
 * platform's billing channel.
 */
export async function handleStripeWebhook({
  deps,
  logger,
  rawBody,
  signature,
}: {
  deps: SubgraphDeps;
  logger: Logger;
  rawBody: string;
  signature: string | null;
}): Promise<WebhookOutcome> {
  const settings = requireStripeSettings(deps);
  if (!settings.webhookSecret) {
    throw new AppError('NOT_CONFIGURED', 'The Stripe webhook is not configured (STRIPE_WEBHOOK_SECRET is unset)');
  }
  if (!signature) throw new AppError('UNAUTHORIZED', 'Stripe-Signature header is missing');
  let event: Stripe.Event;
  try {
    event = stripeClient(deps).webhooks.constructEvent(
      rawBody,
      signature,
      settings.webhookSecret,
      SIGNATURE_TOLERANCE_SECONDS,
    );
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      // Stripe's message says which check failed (no signature matched, timestamp outside tolerance).
      throw new AppError('UNAUTHORIZED', `Stripe-Signature verification failed: ${error.message}`);
    }
    throw new AppError('VALIDATION_ERROR', 'The webhook body is not a Stripe event');
  }

  const publicType = HANDLED_EVENTS[event.type];
  // Claim the event id first: of two concurrent deliveries only one applies it.
  try {
    await deps.db.prisma.stripeEvent.create({ data: { id: event.id, type: event.type } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      return { eventId: event.id, type: event.type, duplicate: true, handled: publicType !== undefined };
    }
    throw error;
  }
  if (!publicType) return { eventId: event.id, type: event.type, duplicate: false, handled: false };

  let applied: Awaited<ReturnType<typeof applyEvent>>;
  try {
    applied = await applyEvent(deps, event);
  } catch (error) {
    // Not applied: forget the claim so Stripe's retry of this delivery applies it.
    await deps.db.prisma.stripeEvent.delete({ where: { id: event.id } }).catch(() => undefined);
    throw error;
  }
  const message: BillingEventMessage = {
    id: event.id,
    type: publicType,
    stripe_type: event.type,
    data: applied.data,
    created_at: new Date(event.created * 1000).toISOString(),
    tenant_id: applied.tenantId,
  };
  // Applied and recorded: a lost publication is logged, not retried (Stripe would not resend).
  await deps.kv.pubsub
    .publish(BILLING_EVENTS_CHANNEL, JSON.stringify(message))
    .catch((error: unknown) => logger.error({ err: error, eventId: event.id }, 'billing event not published'));
  // The tenant's outbound webhooks; Stripe's event id keeps a repeated emit to one delivery.
  if (applied.tenantId) {
    await emitWebhookEvent(deps.jobs, {
      id: event.id,
      tenantId: applied.tenantId,
      type: publicType,
      data: applied.data,
      createdAt: new Date(event.created * 1000),
    }).catch((error: unknown) => logger.error({ err: error, eventId: event.id }, 'billing webhook event not queued'));
  }
  return { eventId: event.id, type: event.type, duplicate: false, handled: true };
}
