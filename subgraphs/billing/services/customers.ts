import { z } from 'zod';
import { requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { AppError } from '../../../lib/errors.js';
import type { BillingCustomer } from '../../../prisma/generated/client.js';
import { callStripe, stripeClient } from './stripe-client.js';

export type { BillingCustomer };

const createCustomerInput = z.object({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(200).nullish(),
  /** A Stripe PaymentMethod (pm_...), attached and made the default for invoices. */
  paymentMethod: z
    .string()
    .regex(/^pm_\w{1,200}$/, 'must be a Stripe PaymentMethod id (pm_...)')
    .nullish(),
  /** Operators name the tenant; a tenant-bound caller's own tenant is used (another one is TENANT_MISMATCH). */
  tenantId: z.string().min(1).max(100).nullish(),
});

/** A Stripe customer for a tenant, made in Stripe first, then recorded with its tenant. */
export async function createCustomer({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createCustomerInput>;
}): Promise<BillingCustomer> {
  requireScope(principal, 'write:billing');
  const data = parseInput(createCustomerInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  const stripe = stripeClient(deps);
  const customer = await callStripe(() =>
    stripe.customers.create({
      email: data.email,
      ...(data.name ? { name: data.name } : {}),
      ...(data.paymentMethod
        ? { payment_method: data.paymentMethod, invoice_settings: { default_payment_method: data.paymentMethod } }
        : {}),
      // Lets a webhook about this customer find its tenant even before our row exists.
      metadata: { tenant_id: tenantId },
    }),
  );
  return deps.db.prisma.billingCustomer.create({
    data: {
      id: customer.id,
      tenantId,
      email: customer.email ?? data.email,
      name: customer.name ?? data.name ?? null,
      defaultPaymentMethod: data.paymentMethod ?? null,
    },
  });
}

/** A customer the caller may act on: one of its own tenant's, or any for an operator. */
export async function findCustomerFor(deps: SubgraphDeps, principal: Principal, customerId: string) {
  const customer = await deps.db.prisma.billingCustomer.findUnique({ where: { id: customerId } });
  // Another tenant's customer is answered like a missing one: its existence is not the caller's business.
  if (!customer || (principal.tenantId !== null && customer.tenantId !== principal.tenantId)) {
    throw new AppError('NOT_FOUND', 'No such customer', { customer_id: customerId });
  }
  if (principal.tenantId === null && principal.kind !== 'operator') {
    throw new AppError('FORBIDDEN', 'Only a caller bound to the tenant may act on its billing');
  }
  return customer;
}
