import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { claimEventStream, createEventStream } from '../services/event-streams.js';

const EventStreamRef = builder
  .objectRef<{ streamId: string; token: string; topic: string; expiresAt: Date }>('EventStream')
  .implement({
    fields: (t) => ({
      streamId: t.exposeID('streamId'),
      token: t.exposeString('token', { description: 'Shown once: presented on the WebSocket (?token= or Bearer)' }),
      topic: t.exposeString('topic'),
      expiresAt: t.field({ type: 'DateTime', resolve: (s) => s.expiresAt }),
    }),
  });

const EventStreamClaimRef = builder
  .objectRef<NonNullable<Awaited<ReturnType<typeof claimEventStream>>>>('EventStreamClaim')
  .implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      topic: t.exposeString('topic'),
      filters: t.field({ type: 'JSON', resolve: (s) => s.filters }),
      principal: t.field({ type: 'JSON', resolve: (s) => s.principal }),
      expiresAt: t.field({ type: 'DateTime', resolve: (s) => s.expiresAt }),
    }),
  });

const CreateEventStreamInput = builder.inputType('CreateEventStreamInput', {
  fields: (t) => ({
    topic: t.string({ required: true, description: 'events | deployment_progress | broadcasts' }),
    filters: t.field({ type: 'JSON' }),
  }),
});

builder.mutationField('createEventStream', (t) =>
  t.field({
    type: EventStreamRef,
    description:
      "An event stream for a WebSocket client: the topic's scope is required (events: read:telemetry, " +
      'deployment_progress: read:edge); the stream runs as its creator.',
    args: { input: t.arg({ type: CreateEventStreamInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createEventStream({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { topic: input.topic, filters: (input.filters ?? null) as Record<string, unknown> | null },
      }),
  }),
);

builder.queryField('eventStreamClaim', (t) =>
  t.field({
    type: EventStreamClaimRef,
    nullable: true,
    description: 'The gateway only: the stream a WebSocket client names, when its token matches.',
    args: { id: t.arg.id({ required: true }), token: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      claimEventStream({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: String(args.id), token: args.token }),
  }),
);
