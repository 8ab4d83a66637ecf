import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { listInvoices, type InvoicePage, type InvoiceView } from '../services/invoices.js';

const InvoiceRef = builder.objectRef<InvoiceView>('BillingInvoice').implement({
  description: 'A Stripe invoice.',
  fields: (t) => ({
    id: t.exposeID('id'),
    number: t.exposeString('number', { nullable: true }),
    customerId: t.exposeID('customerId'),
    subscriptionId: t.exposeID('subscriptionId', { nullable: true }),
    status: t.exposeString('status', { nullable: true, description: 'draft | open | paid | uncollectible | void' }),
    amountDue: t.exposeInt('amountDue', { description: 'In the currency’s smallest unit (cents)' }),
    amountPaid: t.exposeInt('amountPaid'),
    currency: t.exposeString('currency'),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => i.createdAt }),
    periodStart: t.field({ type: 'DateTime', resolve: (i) => i.periodStart }),
    periodEnd: t.field({ type: 'DateTime', resolve: (i) => i.periodEnd }),
    hostedInvoiceUrl: t.exposeString('hostedInvoiceUrl', { nullable: true }),
  }),
});

const InvoicePageRef = builder.objectRef<InvoicePage>('BillingInvoicePage').implement({
  fields: (t) => ({
    invoices: t.field({ type: [InvoiceRef], resolve: (p) => p.invoices }),
    hasMore: t.exposeBoolean('hasMore'),
    nextCursor: t.exposeString('nextCursor', { nullable: true, description: 'startingAfter of the next page' }),
  }),
});

builder.queryField('billingInvoices', (t) =>
  t.field({
    type: InvoicePageRef,
    description: 'Invoices from Stripe, newest first, one cursor page. Requires read:billing.',
    args: {
      customerId: t.arg.id(),
      status: t.arg.string(),
      limit: t.arg.int(),
      startingAfter: t.arg.string(),
    },
    resolve: (_root, args, ctx) =>
      listInvoices({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          customerId: args.customerId === null || args.customerId === undefined ? null : String(args.customerId),
          status: args.status as 'draft' | 'open' | 'paid' | 'uncollectible' | 'void' | null | undefined,
          limit: args.limit,
          startingAfter: args.startingAfter,
        },
      }),
  }),
);
