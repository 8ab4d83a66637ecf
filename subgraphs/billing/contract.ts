// What other parts of the platform may import from billing (the gateway and app/ only).

/**
 * Platform pub/sub channel of billing events, one JSON message per handled Stripe event, in
 * platform-forge's webhook format: `{ id, type, data, created_at, tenant_id }` (`type` is the
 * platform's name, e.g. `subscription.updated`; `stripe_type` the Stripe event it came from).
 * Outbound webhooks and GraphQL subscriptions re-emit from here once they exist.
 */
export const BILLING_EVENTS_CHANNEL = 'billing:events';

export interface BillingEventMessage {
  id: string;
  type: string;
  stripe_type: string;
  data: Record<string, unknown>;
  created_at: string;
  tenant_id: string | null;
}
