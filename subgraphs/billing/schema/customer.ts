import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { createCustomer, type BillingCustomer } from '../services/customers.js';

export const BillingCustomerRef = builder.objectRef<BillingCustomer>('BillingCustomer').implement({
  description: 'A Stripe customer of a tenant.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "Stripe's customer id (cus_...)" }),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    name: t.exposeString('name', { nullable: true }),
    defaultPaymentMethod: t.exposeString('defaultPaymentMethod', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

const CreateBillingCustomerInput = builder.inputType('CreateBillingCustomerInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string(),
    paymentMethod: t.string({ description: 'A Stripe PaymentMethod (pm_...), made the default for invoices' }),
    tenantId: t.id({ description: 'Operators only; a tenant-bound caller gets its own tenant' }),
  }),
});

builder.mutationField('createBillingCustomer', (t) =>
  t.field({
    type: BillingCustomerRef,
    description: 'Creates the customer in Stripe, then records it. Requires write:billing.',
    args: { input: t.arg({ type: CreateBillingCustomerInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createCustomer({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), input }),
  }),
);
