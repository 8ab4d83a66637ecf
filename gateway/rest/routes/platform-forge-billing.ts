import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// platform-forge "Billing Module". The document shows request bodies only; answers use Stripe's
// ids and snake_case fields like the rest of the document. Stripe is the source of truth for money
// (invoices are read from it); subscriptions are the local copy Stripe's answers and webhooks keep.
// Without STRIPE_SECRET_KEY every route answers 501 NOT_CONFIGURED.

const createCustomer = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/billing/customers',
  summary: "Create the tenant's Stripe customer (the payment method becomes its default)",
  status: 201,
  input: {
    body: z.object({
      email: z.email().max(254),
      name: z.string().trim().min(1).max(200).optional(),
      payment_method: z.string().min(1).max(255).optional(),
      tenant_id: z.string().min(1).max(100).optional().describe("Operators only; others get their own tenant's"),
    }),
  },
  operation: graphql(`
    mutation ForgeCreateCustomer($input: CreateBillingCustomerInput!) {
      createBillingCustomer(input: $input) {
        id
        tenantId
        email
        name
        defaultPaymentMethod
        createdAt
      }
    }
  `),
  variables: ({ body }) => ({
    input: { email: body.email, name: body.name, paymentMethod: body.payment_method, tenantId: body.tenant_id },
  }),
  respond: ({ createBillingCustomer: c }) => ({
    id: c.id,
    tenant_id: c.tenantId,
    email: c.email,
    name: c.name,
    payment_method: c.defaultPaymentMethod,
    created_at: c.createdAt,
  }),
  response: z.object({
    id: z.string().describe('Stripe customer id (cus_...)'),
    tenant_id: z.string().nullable(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    payment_method: z.string().nullable().describe('Default payment method for invoices'),
    created_at: isoTimestamp,
  }),
});

const SubscriptionFields = graphql(`
  fragment SubscriptionFields on BillingSubscription {
    id
    customerId
    tenantId
    priceId
    planCode
    status
    quantity
    trialEnd
    currentPeriodStart
    currentPeriodEnd
    cancelAtPeriodEnd
    canceledAt
    metadata
  }
`);

function toSubscription(s: ResultOf<typeof SubscriptionFields>) {
  return {
    id: s.id,
    customer_id: s.customerId,
    tenant_id: s.tenantId,
    price_id: s.priceId,
    plan: s.planCode,
    status: s.status,
    quantity: s.quantity,
    trial_end: s.trialEnd,
    current_period_start: s.currentPeriodStart,
    current_period_end: s.currentPeriodEnd,
    cancel_at_period_end: s.cancelAtPeriodEnd,
    canceled_at: s.canceledAt,
    metadata: s.metadata,
  };
}

const subscriptionSchema = z.object({
  id: z.string().describe('Stripe subscription id (sub_...)'),
  customer_id: z.string(),
  tenant_id: z.string().nullable(),
  price_id: z.string(),
  plan: z.string().nullable().describe('The platform plan billed with this price; its limits apply to the tenant'),
  status: z.string().describe('trialing | active | past_due | canceled | unpaid | incomplete | ...'),
  quantity: z.number().int(),
  trial_end: isoTimestamp.nullable(),
  current_period_start: isoTimestamp.nullable(),
  current_period_end: isoTimestamp.nullable(),
  cancel_at_period_end: z.boolean(),
  canceled_at: isoTimestamp.nullable(),
  metadata: z.record(z.string(), z.string()),
});

const metadataBody = z.record(z.string().max(40), z.string().max(500));

const createSubscription = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/billing/subscriptions',
  summary: 'Subscribe a customer to a price, with an optional trial',
  status: 201,
  input: {
    body: z.object({
      customer_id: z.string().min(1).max(255),
      price_id: z.string().min(1).max(255),
      trial_days: z.number().int().min(1).max(730).optional(),
      quantity: z.number().int().min(1).optional(),
      metadata: metadataBody.optional(),
    }),
  },
  operation: graphql(
    `
      mutation ForgeCreateSubscription($input: CreateBillingSubscriptionInput!) {
        createBillingSubscription(input: $input) {
          ...SubscriptionFields
        }
      }
    `,
    [SubscriptionFields],
  ),
  variables: ({ body }) => ({
    input: {
      customerId: body.customer_id,
      priceId: body.price_id,
      trialDays: body.trial_days,
      quantity: body.quantity,
      metadata: body.metadata,
    },
  }),
  respond: (data) => toSubscription(data.createBillingSubscription),
  response: subscriptionSchema,
});

const subscriptionParams = z.object({ subscription_id: z.string().min(1).max(255) });

const updateSubscription = defineRoute({
  dialect: 'platform-forge',
  method: 'PUT',
  path: '/api/v1/billing/subscriptions/{subscription_id}',
  summary: 'Change the plan (price) or quantity; prorated as asked (default create_prorations)',
  input: {
    params: subscriptionParams,
    body: z.object({
      price_id: z.string().min(1).max(255).optional(),
      quantity: z.number().int().min(1).optional(),
      proration_behavior: z.enum(['create_prorations', 'always_invoice', 'none']).optional(),
      metadata: metadataBody.optional(),
    }),
  },
  operation: graphql(
    `
      mutation ForgeUpdateSubscription($id: ID!, $input: UpdateBillingSubscriptionInput!) {
        updateBillingSubscription(id: $id, input: $input) {
          ...SubscriptionFields
        }
      }
    `,
    [SubscriptionFields],
  ),
  variables: ({ params, body }) => ({
    id: params.subscription_id,
    input: {
      priceId: body.price_id,
      quantity: body.quantity,
      prorationBehavior: body.proration_behavior,
      metadata: body.metadata,
    },
  }),
  respond: (data) => toSubscription(data.updateBillingSubscription),
  response: subscriptionSchema,
});

const cancelSubscription = defineRoute({
  dialect: 'platform-forge',
  method: 'DELETE',
  path: '/api/v1/billing/subscriptions/{subscription_id}',
  summary: 'Cancel now, or at the end of the paid period (at_period_end=true)',
  input: {
    params: subscriptionParams,
    query: z.object({
      at_period_end: z
        .enum(['true', 'false'])
        .optional()
        .transform((v) => v === 'true'),
    }),
  },
  operation: graphql(
    `
      mutation ForgeCancelSubscription($id: ID!, $atPeriodEnd: Boolean) {
        cancelBillingSubscription(id: $id, atPeriodEnd: $atPeriodEnd) {
          ...SubscriptionFields
        }
      }
    `,
    [SubscriptionFields],
  ),
  variables: ({ params, query }) => ({ id: params.subscription_id, atPeriodEnd: query.at_period_end }),
  respond: (data) => toSubscription(data.cancelBillingSubscription),
  response: subscriptionSchema,
});

const listInvoices = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/billing/invoices',
  summary: 'Invoices from Stripe, newest first; pass next_cursor as starting_after for the next page',
  input: {
    query: z.object({
      customer_id: z.string().min(1).max(255).optional(),
      status: z.enum(['draft', 'open', 'paid', 'uncollectible', 'void']).optional(),
      limit: z.coerce.number().int().min(1).max(100).optional(),
      starting_after: z.string().min(1).max(255).optional(),
    }),
  },
  operation: graphql(`
    query ForgeInvoices($customerId: ID, $status: String, $limit: Int, $startingAfter: String) {
      billingInvoices(customerId: $customerId, status: $status, limit: $limit, startingAfter: $startingAfter) {
        invoices {
          id
          number
          customerId
          subscriptionId
          status
          amountDue
          amountPaid
          currency
          createdAt
          periodStart
          periodEnd
          hostedInvoiceUrl
        }
        hasMore
        nextCursor
      }
    }
  `),
  variables: ({ query }) => ({
    customerId: query.customer_id,
    status: query.status,
    limit: query.limit,
    startingAfter: query.starting_after,
  }),
  respond: ({ billingInvoices: page }) => ({
    invoices: page.invoices.map((i) => ({
      id: i.id,
      number: i.number,
      customer_id: i.customerId,
      subscription_id: i.subscriptionId,
      status: i.status,
      amount_due: i.amountDue,
      amount_paid: i.amountPaid,
      currency: i.currency,
      created_at: i.createdAt,
      period_start: i.periodStart,
      period_end: i.periodEnd,
      hosted_invoice_url: i.hostedInvoiceUrl,
    })),
    has_more: page.hasMore,
    next_cursor: page.nextCursor,
  }),
  response: z.object({
    invoices: z.array(
      z.object({
        id: z.string(),
        number: z.string().nullable(),
        customer_id: z.string(),
        subscription_id: z.string().nullable(),
        status: z.string().nullable().describe('draft | open | paid | uncollectible | void'),
        amount_due: z.number().int().describe('Smallest currency unit (cents)'),
        amount_paid: z.number().int(),
        currency: z.string(),
        created_at: isoTimestamp,
        period_start: isoTimestamp,
        period_end: isoTimestamp,
        hosted_invoice_url: z.string().nullable(),
      }),
    ),
    has_more: z.boolean(),
    next_cursor: z.string().nullable().describe('starting_after for the next page; null on the last'),
  }),
});

const stripeWebhook = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/billing/webhooks/stripe',
  summary:
    'Stripe webhook endpoint. No credential: Stripe-Signature is verified over the raw body (300 s tolerance); a replayed event id changes nothing',
  operation: graphql(`
    mutation ForgeStripeWebhook($rawBody: String!, $signature: String) {
      receiveStripeWebhook(rawBody: $rawBody, signature: $signature) {
        eventId
        type
        duplicate
        handled
      }
    }
  `),
  // The signature covers the bytes as sent, so the body is passed raw, never re-serialized.
  variables: ({ rawBody, headers }) => {
    const signature = headers?.['stripe-signature'];
    return { rawBody: rawBody ?? '', signature: Array.isArray(signature) ? signature[0] : (signature ?? null) };
  },
  respond: ({ receiveStripeWebhook: r }) => ({
    received: true,
    event_id: r.eventId,
    type: r.type,
    duplicate: r.duplicate,
    handled: r.handled,
  }),
  response: z.object({
    received: z.literal(true),
    event_id: z.string(),
    type: z.string(),
    duplicate: z.boolean().describe('This event id was applied before: nothing changed'),
    handled: z.boolean().describe('False for event types the platform does not act on'),
  }),
});

export const platformForgeBillingRoutes: RestRoute[] = [
  createCustomer,
  createSubscription,
  updateSubscription,
  cancelSubscription,
  listInvoices,
  stripeWebhook,
];
