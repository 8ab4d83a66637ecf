import { requirePrincipal } from '../../../lib/principal.js';
import { setDeliveryReceipt } from '../../../lib/realtime/receipts.js';
import { builder } from '../builder.js';
import {
  broadcastEvent,
  subscribeBroadcasts,
  type BroadcastMessage,
  type BroadcastResult,
} from '../services/broadcast.js';

const BroadcastRef = builder.objectRef<BroadcastMessage>('Broadcast').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type'),
    data: t.field({ type: 'JSON', resolve: (m) => m.data }),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    channels: t.exposeStringList('channels'),
    metadata: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.metadata }),
    senderId: t.exposeID('senderId'),
    broadcastAt: t.field({ type: 'DateTime', resolve: (m) => new Date(m.broadcastAt) }),
  }),
});

const BroadcastResultRef = builder.objectRef<BroadcastResult>('BroadcastResult').implement({
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    broadcastAt: t.field({ type: 'DateTime', resolve: (r) => r.broadcastAt }),
    totalSubscribers: t.exposeInt('totalSubscribers', {
      description: 'Subscribers the gateways reported the event was resolved for, within the receipt wait',
    }),
    deliveredCount: t.exposeInt('deliveredCount'),
    failedCount: t.exposeInt('failedCount'),
    channels: t.exposeStringList('channels', { description: 'Transports that reached someone: websocket, sse' }),
    gateways: t.exposeInt('gateways', { description: 'Gateways that reported a count in time' }),
  }),
});

const BroadcastInput = builder.inputType('BroadcastEventInput', {
  fields: (t) => ({
    type: t.string({ required: true }),
    data: t.field({ type: 'JSON' }),
    tenantId: t.id(),
    channels: t.stringList(),
    userIds: t.idList(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

builder.mutationField('broadcastEvent', (t) =>
  t.field({
    type: BroadcastResultRef,
    description:
      "Requires write:telemetry. Sends an event to the tenant's broadcast subscribers (narrowed to channels " +
      'and user ids) and answers how many it reached, as counted by the gateways.',
    args: { input: t.arg({ type: BroadcastInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      broadcastEvent({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          type: input.type,
          data: (input.data ?? null) as Record<string, unknown> | null,
          tenantId: input.tenantId === null || input.tenantId === undefined ? null : String(input.tenantId),
          channels: input.channels ?? null,
          userIds: input.userIds?.map(String) ?? null,
          metadata: (input.metadata ?? null) as Record<string, unknown> | null,
        },
      }),
  }),
);

builder.subscriptionField('broadcasts', (t) =>
  t.field({
    type: BroadcastRef,
    description:
      "Broadcast events of the caller's tenant (the operator: a named tenant, or the platform-wide ones). " +
      'channels: only events sent to one of these (events without channels reach everyone).',
    args: { tenantId: t.arg.id(), channels: t.arg.stringList() },
    subscribe: (_root, args, ctx) =>
      subscribeBroadcasts({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        channels: args.channels ?? null,
      }),
    resolve: (envelope, _args, ctx) => {
      // The gateway reports how many subscribers this event reached (broadcast recipients).
      setDeliveryReceipt(ctx, envelope.data.receipt);
      return envelope.data;
    },
  }),
);
