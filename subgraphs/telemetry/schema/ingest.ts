import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { ingestEvents, type IngestResult } from '../services/ingest.js';

const IngestEventInput = builder.inputType('IngestEventInput', {
  fields: (t) => ({
    type: t.string({ required: true, description: 'The event name (page_view, user_action...)' }),
    properties: t.field({ type: 'JSON' }),
    context: t.field({ type: 'JSON', description: 'Where it happened (ip, user agent...), kept as sent' }),
    messageId: t.string({ description: 'The sender id of the event: a resend with the same id is stored once' }),
    occurredAt: t.field({ type: 'DateTime' }),
    source: t.string(),
  }),
});

const IngestResultRef = builder.objectRef<IngestResult>('IngestResult').implement({
  fields: (t) => ({
    accepted: t.exposeInt('accepted', { description: 'Events stored by this call' }),
    duplicates: t.exposeInt('duplicates', { description: 'Events whose messageId was already stored' }),
    eventIds: t.exposeIDList('eventIds'),
  }),
});

builder.mutationField('ingestEvents', (t) =>
  t.field({
    type: IngestResultRef,
    description:
      'Records a batch of events in one statement. Requires write:telemetry. Limits: 32 KB an event, ' +
      '500 KB and 2,500 events a batch (VALIDATION_ERROR naming the item). tenantId only for the operator.',
    args: {
      tenantId: t.arg.id(),
      events: t.arg({ type: [IngestEventInput], required: true }),
    },
    resolve: (_root, args, ctx) =>
      ingestEvents({
        deps: ctx.deps,
        logger: ctx.logger,
        principal: requirePrincipal(ctx.principal),
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        events: args.events.map((event) => ({
          type: event.type,
          properties: (event.properties ?? undefined) as Record<string, unknown> | undefined,
          context: (event.context ?? undefined) as Record<string, unknown> | undefined,
          messageId: event.messageId,
          occurredAt: event.occurredAt,
          source: event.source,
        })),
      }),
  }),
);
