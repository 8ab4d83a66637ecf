import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { listEvents, recordEvent, type Event } from '../services/events.js';

const EventRef = builder.objectRef<Event>('Event').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    type: t.exposeString('type'),
    source: t.exposeString('source', { nullable: true }),
    payload: t.field({ type: 'JSON', resolve: (e) => e.payload }),
    occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt }),
    receivedAt: t.field({ type: 'DateTime', resolve: (e) => e.receivedAt }),
  }),
});

builder.queryField('events', (t) =>
  t.field({
    type: [EventRef],
    description: "Newest first. Requires read:telemetry; tenantId only for callers bound to no tenant.",
    args: { tenantId: t.arg.id(), limit: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) =>
      listEvents({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        limit: args.limit ?? 50,
      }),
  }),
);

const RecordEventInput = builder.inputType('RecordEventInput', {
  fields: (t) => ({
    tenantId: t.id(),
    type: t.string({ required: true }),
    source: t.string(),
    payload: t.field({ type: 'JSON' }),
    occurredAt: t.field({ type: 'DateTime' }),
  }),
});

builder.mutationField('recordEvent', (t) =>
  t.field({
    type: EventRef,
    description: 'Requires write:telemetry.',
    args: { input: t.arg({ type: RecordEventInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      recordEvent({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          tenantId: input.tenantId === null || input.tenantId === undefined ? null : String(input.tenantId),
          type: input.type,
          source: input.source,
          payload: (input.payload ?? undefined) as Record<string, unknown> | undefined,
          occurredAt: input.occurredAt,
        },
      }),
  }),
);
