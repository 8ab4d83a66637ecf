import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  cancelSubscription,
  createSubscription,
  planCodeOf,
  updateSubscription,
  type BillingSubscription,
} from '../services/subscriptions.js';

const BillingSubscriptionRef = builder.objectRef<BillingSubscription>('BillingSubscription').implement({
  description: "A tenant's Stripe subscription, as last answered by Stripe or told by its webhooks.",
  fields: (t) => ({
    id: t.exposeID('id', { description: "Stripe's subscription id (sub_...)" }),
    customerId: t.exposeID('customerId'),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    priceId: t.exposeString('priceId'),
    planCode: t.string({
      nullable: true,
      description: 'The plan billed with this price; null when the price is no plan of ours',
      resolve: (s, _args, ctx) => planCodeOf(ctx.deps, s.planId),
    }),
    status: t.exposeString('status', {
      description: 'trialing | active | past_due | canceled | unpaid | incomplete | incomplete_expired | paused',
    }),
    quantity: t.exposeInt('quantity'),
    trialEnd: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.trialEnd }),
    currentPeriodStart: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.currentPeriodStart }),
    currentPeriodEnd: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.currentPeriodEnd }),
    cancelAtPeriodEnd: t.exposeBoolean('cancelAtPeriodEnd'),
    canceledAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.canceledAt }),
    metadata: t.field({ type: 'JSON', resolve: (s) => s.metadata }),
  }),
});

const CreateBillingSubscriptionInput = builder.inputType('CreateBillingSubscriptionInput', {
  fields: (t) => ({
    customerId: t.id({ required: true }),
    priceId: t.string({ required: true }),
    trialDays: t.int(),
    quantity: t.int(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

builder.mutationField('createBillingSubscription', (t) =>
  t.field({
    type: BillingSubscriptionRef,
    description: "Subscribes a tenant's customer to a price, with an optional trial. Requires write:billing.",
    args: { input: t.arg({ type: CreateBillingSubscriptionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createSubscription({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { ...input, metadata: input.metadata as Record<string, string> | null | undefined },
      }),
  }),
);

const UpdateBillingSubscriptionInput = builder.inputType('UpdateBillingSubscriptionInput', {
  fields: (t) => ({
    priceId: t.string(),
    quantity: t.int(),
    prorationBehavior: t.string({ description: 'create_prorations (default) | always_invoice | none' }),
    metadata: t.field({ type: 'JSON' }),
  }),
});

builder.mutationField('updateBillingSubscription', (t) =>
  t.field({
    type: BillingSubscriptionRef,
    description: 'Changes the plan (price) or quantity, prorated as asked. Requires write:billing.',
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateBillingSubscriptionInput, required: true }),
    },
    resolve: (_root, { id, input }, ctx) =>
      updateSubscription({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        subscriptionId: String(id),
        input: {
          ...input,
          prorationBehavior: input.prorationBehavior as 'create_prorations' | 'always_invoice' | 'none' | null,
          metadata: input.metadata as Record<string, string> | null | undefined,
        },
      }),
  }),
);

builder.mutationField('cancelBillingSubscription', (t) =>
  t.field({
    type: BillingSubscriptionRef,
    description: 'Cancels now, or at the end of the paid period. Requires write:billing.',
    args: { id: t.arg.id({ required: true }), atPeriodEnd: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, { id, atPeriodEnd }, ctx) =>
      cancelSubscription({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        subscriptionId: String(id),
        atPeriodEnd: atPeriodEnd ?? false,
      }),
  }),
);
