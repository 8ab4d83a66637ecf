import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { findCustomerFor } from './customers.js';
import { callStripe, stripeClient, type Stripe } from './stripe-client.js';

export interface InvoiceView {
  id: string;
  number: string | null;
  customerId: string;
  subscriptionId: string | null;
  status: string | null;
  amountDue: number;
  amountPaid: number;
  currency: string;
  createdAt: Date;
  periodStart: Date;
  periodEnd: Date;
  hostedInvoiceUrl: string | null;
}

export interface InvoicePage {
  invoices: InvoiceView[];
  hasMore: boolean;
  /** Pass as `startingAfter` for the next page; null on the last one. */
  nextCursor: string | null;
}

const listInvoicesInput = z.object({
  customerId: z
    .string()
    .regex(/^cus_\w{1,200}$/)
    .nullish(),
  status: z.enum(['draft', 'open', 'paid', 'uncollectible', 'void']).nullish(),
  limit: z
    .number()
    .int()
    .min(1)
    .max(100)
    .nullish()
    .transform((v) => v ?? 10),
  startingAfter: z
    .string()
    .regex(/^in_\w{1,200}$/)
    .nullish(),
});

function toView(invoice: Stripe.Invoice): InvoiceView {
  const subscription = invoice.parent?.subscription_details?.subscription ?? null;
  return {
    id: invoice.id!,
    number: invoice.number ?? null,
    customerId: typeof invoice.customer === 'string' ? invoice.customer : (invoice.customer?.id ?? ''),
    subscriptionId: typeof subscription === 'string' ? subscription : (subscription?.id ?? null),
    status: invoice.status ?? null,
    amountDue: invoice.amount_due,
    amountPaid: invoice.amount_paid,
    currency: invoice.currency,
    createdAt: new Date(invoice.created * 1000),
    periodStart: new Date(invoice.period_start * 1000),
    periodEnd: new Date(invoice.period_end * 1000),
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
  };
}

/**
 * Invoices as Stripe has them (the source of truth for money), one cursor page at a time. A
 * tenant's caller sees its own customers' invoices only; an operator may list every customer's.
 */
export async function listInvoices({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof listInvoicesInput>;
}): Promise<InvoicePage> {
  requireScope(principal, 'read:billing');
  const data = parseInput(listInvoicesInput, input);
  let customerId = data.customerId ?? null;
  if (customerId) {
    await findCustomerFor(deps, principal, customerId);
  } else if (principal.tenantId !== null) {
    const own = await deps.db.prisma.billingCustomer.findMany({
      where: { tenantId: principal.tenantId },
      select: { id: true },
      take: 2,
    });
    if (own.length === 0) return { invoices: [], hasMore: false, nextCursor: null };
    if (own.length > 1) {
      throw new AppError('VALIDATION_ERROR', 'This tenant has several customers: give customer_id');
    }
    customerId = own[0]!.id;
  } else if (principal.kind !== 'operator') {
    throw new AppError('FORBIDDEN', 'Only a caller bound to a tenant, or an operator, may list invoices');
  }
  const stripe = stripeClient(deps);
  const page = await callStripe(() =>
    stripe.invoices.list({
      limit: data.limit,
      ...(customerId ? { customer: customerId } : {}),
      ...(data.status ? { status: data.status } : {}),
      ...(data.startingAfter ? { starting_after: data.startingAfter } : {}),
    }),
  );
  const invoices = page.data.map(toView);
  return { invoices, hasMore: page.has_more, nextCursor: page.has_more ? (invoices.at(-1)?.id ?? null) : null };
}
