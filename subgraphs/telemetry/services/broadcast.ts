import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { BoundedQueue } from '../../../lib/realtime/bounded-queue.js';
import {
  collectDeliveryCounts,
  DEFAULT_BROADCAST_RECEIPT_WAIT_MS,
  type DeliveryReceipt,
} from '../../../lib/realtime/receipts.js';
import { publishTopic, subscribeTopic, type RealtimeEnvelope } from '../../../lib/realtime/topics.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { telemetrySubscriptionTenant } from './tenant-scope.js';

/**
 * Broadcast channels: an event sent to the subscribers of a tenant, optionally narrowed to named
 * channels and to user ids. `recipients` is what the gateways report: each gateway, after handing
 * the resolved event to its local subscribers, publishes its count on the event's receipt channel
 * (lib/realtime/receipts.ts); the sender sums the counts that arrive within a short bounded wait
 * (BROADCAST_RECEIPT_WAIT_MS, default 300 ms). A gateway that answers later is not counted.
 */

const MAX_BROADCAST_DATA_BYTES = 64 * 1024;

export interface BroadcastMessage {
  id: string;
  type: string;
  data: Record<string, unknown>;
  tenantId: string | null;
  channels: string[];
  userIds: string[];
  metadata: Record<string, unknown> | null;
  senderId: string;
  broadcastAt: string;
  receipt: DeliveryReceipt;
}

export interface BroadcastResult {
  eventId: string;
  broadcastAt: Date;
  totalSubscribers: number;
  deliveredCount: number;
  failedCount: number;
  /** Transports that reached at least one subscriber (websocket, sse). */
  channels: string[];
  /** Gateways that reported a count within the wait. */
  gateways: number;
}

const name = z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/);
const broadcastInput = z.object({
  type: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/),
  data: z.record(z.string(), z.unknown()).nullish(),
  tenantId: z.string().min(1).max(100).nullish(),
  channels: z.array(name).max(20).nullish(),
  userIds: z.array(z.string().min(1).max(100)).max(1000).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});
export type BroadcastInput = z.input<typeof broadcastInput>;

/**
 * Requires write:telemetry. A caller bound to a tenant broadcasts to its own tenant; the operator
 * names one (or none: every subscriber not bound to a tenant, i.e. operators, receives it).
 */
export async function broadcastEvent({
  deps,
  principal,
  input,
  waitMs = deps.realtime?.broadcastReceiptWaitMs ?? DEFAULT_BROADCAST_RECEIPT_WAIT_MS,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: BroadcastInput;
  waitMs?: number;
}): Promise<BroadcastResult> {
  requireScope(principal, 'write:telemetry');
  const parsed = parseInput(broadcastInput, input);
  const tenantId = await telemetrySubscriptionTenant(deps, principal, parsed.tenantId);
  const data = parsed.data ?? {};
  const size = Buffer.byteLength(JSON.stringify({ data, metadata: parsed.metadata }));
  if (size > MAX_BROADCAST_DATA_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Broadcast data is over ${MAX_BROADCAST_DATA_BYTES} bytes`, { size });
  }
  const eventId = newId('evt');
  const broadcastAt = new Date();
  // Listen for the gateways' counts before publishing, so no count arrives before we listen.
  const receipts = await collectDeliveryCounts(deps.kv, eventId);
  const message: BroadcastMessage = {
    id: eventId,
    type: parsed.type,
    data,
    tenantId,
    channels: parsed.channels ?? [],
    userIds: parsed.userIds ?? [],
    metadata: parsed.metadata ?? null,
    senderId: principal.id,
    broadcastAt: broadcastAt.toISOString(),
    receipt: { channel: receipts.channel, eventId },
  };
  await publishTopic(deps.kv, 'telemetry.broadcast', tenantId, message);
  const totals = await receipts.finish(waitMs);
  return {
    eventId,
    broadcastAt,
    totalSubscribers: totals.delivered + totals.failed,
    deliveredCount: totals.delivered,
    failedCount: totals.failed,
    channels: totals.transports.map((t) => (t === 'ws' ? 'websocket' : t)),
    gateways: totals.gateways,
  };
}

/**
 * Any authenticated caller subscribes to its tenant's broadcasts (the operator: a named tenant, or
 * the platform-wide ones). `channels`: only events sent to one of them (events sent without
 * channels reach every subscriber). Events addressed to user ids reach only those users.
 */
export async function subscribeBroadcasts({
  deps,
  principal,
  tenantId,
  channels,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId: string | null;
  channels: readonly string[] | null;
}): Promise<BoundedQueue<RealtimeEnvelope<BroadcastMessage>>> {
  if (channels && channels.length > 20) {
    throw new AppError('VALIDATION_ERROR', 'At most 20 channels', { field: 'channels' });
  }
  const scope = await telemetrySubscriptionTenant(deps, principal, tenantId);
  const wanted = channels && channels.length > 0 ? new Set(channels) : null;
  return subscribeTopic<BroadcastMessage>({
    kv: deps.kv,
    topic: 'telemetry.broadcast',
    // Platform-wide broadcasts (no tenant) reach only subscribers bound to no tenant.
    tenantId: scope,
    accept: (message) => {
      if (message.channels.length > 0 && wanted && !message.channels.some((c) => wanted.has(c))) return false;
      if (message.userIds.length > 0 && !(principal.kind === 'user' && message.userIds.includes(principal.id))) {
        return false;
      }
      return true;
    },
  });
}
