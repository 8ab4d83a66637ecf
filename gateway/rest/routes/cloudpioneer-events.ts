import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute } from '../route.js';

// cloudpioneer event streaming (telemetry): create a stream, then connect to WS /v1/events/{id}
// (gateway/subscriptions/event-streams.ts) with the token from this answer. Topics with a real
// source: events (telemetry events), deployment_progress (edge rollouts), broadcasts. The
// document's `resource_metrics` example has no source on this platform yet and is refused.

const streamBody = z.object({
  topic: z.string().min(1).max(100).describe('events | deployment_progress | broadcasts'),
  filters: z
    .object({
      tenant_id: z.string().min(1).max(100).optional(),
      event_types: z.array(z.string().min(1).max(100)).max(50).optional(),
      deployment_id: z.string().min(1).max(64).optional(),
      channels: z.array(z.string().min(1).max(100)).max(20).optional(),
    })
    .passthrough()
    .optional(),
});

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

const createStream = defineRoute({
  dialect: 'cloudpioneer',
  method: 'POST',
  path: '/events/stream',
  summary:
    "Create an event stream: connect to websocket_url with the token (?token= or Bearer); ping every 30 s, closed without a pong in 10 s; the topic's scope is required",
  input: { body: streamBody },
  operation: graphql(`
    mutation CloudpioneerCreateEventStream($input: CreateEventStreamInput!) {
      createEventStream(input: $input) {
        streamId
        token
        topic
        expiresAt
      }
    }
  `),
  variables: ({ body }) => ({ input: { topic: body.topic, filters: body.filters ?? null } }),
  respond: ({ createEventStream: s }, { headers }) => {
    const host = first(headers?.['x-forwarded-host']) ?? first(headers?.host) ?? 'localhost';
    const secure = first(headers?.['x-forwarded-proto']) === 'https';
    return {
      stream_id: s.streamId,
      websocket_url: `${secure ? 'wss' : 'ws'}://${host}/v1/events/${s.streamId}`,
      token: s.token,
      topic: s.topic,
      expires_at: s.expiresAt,
    };
  },
});

export const cloudpioneerEventRoutes = [createStream];
