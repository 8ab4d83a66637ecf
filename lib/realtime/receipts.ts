import type { Kv } from '../runtime/kv.js';

/**
 * Delivery receipts: how a publisher (a broadcast) learns how many subscribers an event actually
 * reached across every gateway. The subgraph marks the event with a receipt (a reply channel and
 * the event id); each gateway, after handing the resolved event to its local subscribers, publishes
 * its own count on that channel; the publisher sums what arrives within a short bounded wait.
 * A gateway shares one resolution among identical subscriptions, so only it can count deliveries.
 */

export interface DeliveryReceipt {
  channel: string;
  eventId: string;
}

export interface GatewayDeliveryCount {
  eventId: string;
  gateway: string;
  delivered: number;
  failed: number;
  transports: string[];
}

/** How long a broadcast waits for the gateways' counts unless BROADCAST_RECEIPT_WAIT_MS says otherwise. */
export const DEFAULT_BROADCAST_RECEIPT_WAIT_MS = 300;

const RECEIPT_KEY = Symbol.for('platform.deliveryReceipt');

/** Called by a subscription resolver for the event it is resolving (the context is the subscription's). */
export function setDeliveryReceipt(context: object, receipt: DeliveryReceipt): void {
  (context as Record<symbol, unknown>)[RECEIPT_KEY] = receipt;
}

/** Read once by the transport after the event was executed, and attached as `extensions.deliveryReceipt`. */
export function takeDeliveryReceipt(context: unknown): DeliveryReceipt | undefined {
  if (!context || typeof context !== 'object') return undefined;
  const holder = context as Record<symbol, unknown>;
  const receipt = holder[RECEIPT_KEY] as DeliveryReceipt | undefined;
  delete holder[RECEIPT_KEY];
  return receipt;
}

export function receiptChannel(eventId: string): string {
  return `rt:receipts:${eventId}`;
}

export async function publishDeliveryCount(kv: Kv, channel: string, count: GatewayDeliveryCount): Promise<void> {
  await kv.pubsub.publish(channel, JSON.stringify(count));
}

export interface DeliveryTotals {
  delivered: number;
  failed: number;
  gateways: number;
  transports: string[];
}

/**
 * Listens on an event's receipt channel before it is published; `finish` waits until `waitMs`
 * after the publish and returns the sum of every gateway's count received by then.
 */
export async function collectDeliveryCounts(
  kv: Kv,
  eventId: string,
): Promise<{ channel: string; finish(waitMs: number): Promise<DeliveryTotals> }> {
  const channel = receiptChannel(eventId);
  const totals: DeliveryTotals = { delivered: 0, failed: 0, gateways: 0, transports: [] };
  const transports = new Set<string>();
  const unsubscribe = await kv.pubsub.subscribe(channel, (message) => {
    let count: Partial<GatewayDeliveryCount>;
    try {
      count = JSON.parse(message) as Partial<GatewayDeliveryCount>;
    } catch {
      return;
    }
    if (count.eventId !== eventId) return;
    totals.delivered += Math.max(0, Number(count.delivered) || 0);
    totals.failed += Math.max(0, Number(count.failed) || 0);
    totals.gateways += 1;
    for (const transport of count.transports ?? []) transports.add(String(transport));
  });
  return {
    channel,
    async finish(waitMs) {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      await unsubscribe();
      return { ...totals, transports: [...transports].sort() };
    },
  };
}
