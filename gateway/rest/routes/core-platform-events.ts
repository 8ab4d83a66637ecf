import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute } from '../route.js';

// core-platform event broadcast (telemetry): an event to the subscribers of a tenant, narrowed to
// channels and user ids. `recipients` counts real deliveries: every gateway reports how many of its
// subscribers the event was handed to, summed within a short bounded wait (lib/realtime/receipts.ts).
// The document's `channels` are the transports that reached someone (websocket, sse); webhooks and
// email are not broadcast transports here, so they never appear.

const broadcastBody = z.object({
  event: z.object({
    type: z.string().min(1).max(100),
    data: z.record(z.string(), z.unknown()).default({}),
    targets: z
      .object({
        tenant_id: z.string().min(1).max(100).optional(),
        channels: z.array(z.string().min(1).max(100)).max(20).optional(),
        user_ids: z.array(z.string().min(1).max(100)).max(1000).optional(),
      })
      .default({}),
    metadata: z.record(z.string(), z.unknown()).optional(),
  }),
});

const broadcast = defineRoute({
  dialect: 'core-platform',
  method: 'POST',
  path: '/api/events/broadcast',
  summary:
    "Broadcast an event to the tenant's subscribers (graphql-ws, SSE, event streams); recipients are the deliveries the gateways counted; requires write:telemetry",
  rateLimit: 'core-platform.events-broadcast',
  input: { body: broadcastBody },
  operation: graphql(`
    mutation CorePlatformBroadcastEvent($input: BroadcastEventInput!) {
      broadcastEvent(input: $input) {
        eventId
        broadcastAt
        totalSubscribers
        deliveredCount
        failedCount
        channels
      }
    }
  `),
  variables: ({ body }) => ({
    input: {
      type: body.event.type,
      data: body.event.data,
      tenantId: body.event.targets.tenant_id ?? null,
      channels: body.event.targets.channels ?? null,
      userIds: body.event.targets.user_ids ?? null,
      metadata: body.event.metadata ?? null,
    },
  }),
  respond: ({ broadcastEvent: b }) => ({
    event_id: b.eventId,
    broadcast_at: b.broadcastAt,
    recipients: {
      total_subscribers: b.totalSubscribers,
      delivered_count: b.deliveredCount,
      failed_count: b.failedCount,
      channels: b.channels,
    },
  }),
});

export const corePlatformEventRoutes = [broadcast];
