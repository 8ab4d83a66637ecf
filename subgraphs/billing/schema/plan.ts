import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { createPlan, listPlans, type Plan } from '../services/plans.js';

const PlanRef = builder.objectRef<Plan>('Plan').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    code: t.exposeString('code'),
    name: t.exposeString('name'),
    priceCents: t.exposeInt('priceCents'),
    currency: t.exposeString('currency'),
    interval: t.exposeString('interval'),
    limits: t.field({
      type: 'JSON',
      description: 'users, storage_gb, api_calls_per_day: enforced for tenants on this plan',
      resolve: (p) => p.limits,
    }),
    stripePriceId: t.exposeString('stripePriceId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
  }),
});

builder.queryField('plans', (t) =>
  t.field({
    type: [PlanRef],
    description: 'Active plans, cheapest first. Requires read:billing.',
    resolve: (_root, _args, ctx) => listPlans({ deps: ctx.deps, principal: requirePrincipal(ctx.principal) }),
  }),
);

const CreatePlanInput = builder.inputType('CreatePlanInput', {
  fields: (t) => ({
    code: t.string({ required: true }),
    name: t.string({ required: true }),
    priceCents: t.int({ required: true }),
    currency: t.string(),
    interval: t.string(),
    limits: t.field({ type: 'JSON', description: 'users, storage_gb, api_calls_per_day (each optional)' }),
    stripePriceId: t.string({ description: 'The Stripe price (price_...) subscriptions to this plan use' }),
  }),
});

builder.mutationField('createPlan', (t) =>
  t.field({
    type: PlanRef,
    description: 'Requires write:billing, from a caller bound to no tenant.',
    args: { input: t.arg({ type: CreatePlanInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createPlan({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          code: input.code,
          name: input.name,
          priceCents: input.priceCents,
          currency: input.currency ?? undefined,
          interval: (input.interval ?? undefined) as 'month' | 'year' | undefined,
          limits: (input.limits ?? undefined) as Record<string, number> | undefined,
          stripePriceId: input.stripePriceId,
        },
      }),
  }),
);
