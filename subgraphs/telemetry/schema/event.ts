import { mapIterator } from '../../../lib/realtime/bounded-queue.js';
import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { listEvents, recordEvent, subscribeEvents, type Event } from '../services/events.js';

// Tenant is owned by tenancy: an event names it, and a selection may reach its fields (slug,
// name...) through federation, in queries and subscriptions alike.
const TenantRef = builder.externalRef('Tenant', builder.selection<{ id: string }>('id')).implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

const EventRef = builder.objectRef<Event>('Event').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    type: t.exposeString('type'),
    source: t.exposeString('source', { nullable: true }),
    payload: t.field({ type: 'JSON', resolve: (e) => e.payload }),
    occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt }),
    receivedAt: t.field({ type: 'DateTime', resolve: (e) => e.receivedAt }),
    actorId: t.exposeID('actorId', { nullable: true }),
    tenant: t.field({ type: TenantRef, resolve: (e) => ({ id: e.tenantId }) }),
  }),
});

builder.subscriptionField('telemetryEvents', (t) =>
  t.field({
    type: EventRef,
    description:
      'Events as they are recorded. Requires read:telemetry. A caller bound to a tenant receives only ' +
      "that tenant's events; the operator may name a tenant or receive all. types: only these event types.",
    args: { tenantId: t.arg.id(), types: t.arg.stringList() },
    subscribe: async (_root, args, ctx) =>
      mapIterator(
        await subscribeEvents({
          deps: ctx.deps,
          principal: requirePrincipal(ctx.principal),
          tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
          types: args.types ?? null,
        }),
        (envelope) => envelope.data,
      ),
    resolve: (event) => event,
  }),
);

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
        logger: ctx.logger,
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
