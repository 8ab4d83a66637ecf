import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { AUTHENTICATE_SCOPE, principalSchema, requireScope, type Principal } from '../../../lib/principal.js';
import { randomSecret, safeEqual, sha256Hex } from '../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { telemetrySubscriptionTenant } from './tenant-scope.js';

/**
 * cloudpioneer event streams: `POST /events/stream` names a topic and filters and gets a stream id
 * and a token; the WebSocket `/v1/events/{stream_id}` (gateway/subscriptions/event-streams.ts)
 * presents the token, and the gateway runs the topic's GraphQL subscription as the caller who
 * created the stream. The stream lives in the platform cache (any gateway can serve it) for
 * STREAM_TTL_SECONDS; only the token's SHA-256 is stored.
 */

export const STREAM_TTL_SECONDS = 3600;

/** Topics with a real source; the document's `resource_metrics` has none yet (no metric store here). */
/**
 * `projectKeys`: whether the topic's owner lets a project's key watch a tenant of its project
 * (telemetry does; edge acts only for callers bound to the tenant, so such a stream is refused
 * here rather than failing when it connects).
 */
export const EVENT_STREAM_TOPICS = {
  events: { scope: 'read:telemetry', projectKeys: true },
  deployment_progress: { scope: 'read:edge', projectKeys: false },
  broadcasts: { scope: null, projectKeys: true },
} as const;
export type EventStreamTopic = keyof typeof EVENT_STREAM_TOPICS;

const filters = z
  .object({
    tenant_id: z.string().min(1).max(100).optional(),
    event_types: z.array(z.string().min(1).max(100)).max(50).optional(),
    deployment_id: z.string().min(1).max(64).optional(),
    channels: z.array(z.string().min(1).max(100)).max(20).optional(),
  })
  .passthrough();

const createInput = z.object({
  topic: z.string().min(1).max(100),
  filters: filters.nullish(),
});

const streamRecord = z.object({
  id: z.string(),
  tokenHash: z.string(),
  topic: z.string(),
  filters: z.record(z.string(), z.unknown()),
  principal: principalSchema,
  expiresAt: z.string(),
});
type StreamRecord = z.infer<typeof streamRecord>;

const key = (id: string) => `event-stream:${id}`;

export async function createEventStream({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createInput>;
}): Promise<{ streamId: string; token: string; topic: string; expiresAt: Date }> {
  const parsed = parseInput(createInput, input);
  const topic = parsed.topic as EventStreamTopic;
  const spec = EVENT_STREAM_TOPICS[topic];
  if (!Object.hasOwn(EVENT_STREAM_TOPICS, parsed.topic) || !spec) {
    throw new AppError(
      'VALIDATION_ERROR',
      `Unknown topic ${parsed.topic}: one of ${Object.keys(EVENT_STREAM_TOPICS).join(', ')}`,
      { field: 'topic' },
    );
  }
  if (spec.scope) requireScope(principal, spec.scope);
  if (!spec.projectKeys && principal.tenantId === null && principal.kind !== 'operator') {
    throw new AppError('FORBIDDEN', `${topic} streams need a caller bound to the tenant (a tenant user's token)`);
  }
  // Checked now, so a stream never exists for a tenant its creator may not see.
  const tenantId = await telemetrySubscriptionTenant(deps, principal, parsed.filters?.tenant_id);
  // The tenant's id, whatever the caller typed (a slug): the gateway ends the stream on its suspension.
  const id = newId('stream');
  const token = randomSecret('wst_', 24);
  const expiresAt = new Date(Date.now() + STREAM_TTL_SECONDS * 1000);
  const record: StreamRecord = {
    id,
    tokenHash: sha256Hex(token),
    topic,
    filters: { ...parsed.filters, ...(tenantId === null ? {} : { tenant_id: tenantId }) },
    principal,
    expiresAt: expiresAt.toISOString(),
  };
  await deps.kv.cache.set(key(id), JSON.stringify(record), STREAM_TTL_SECONDS);
  return { streamId: id, token, topic, expiresAt };
}

/** The gateway (only) exchanges a stream id and token for the stream; null when either is wrong. */
export async function claimEventStream({
  deps,
  principal,
  id,
  token,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
  token: string;
}): Promise<{
  id: string;
  topic: string;
  filters: Record<string, unknown>;
  principal: Principal;
  expiresAt: Date;
} | null> {
  if (principal.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway claims event streams');
  }
  if (id.length > 100 || token.length > 200) return null;
  const raw = await deps.kv.cache.get(key(id));
  if (!raw) return null;
  const parsed = streamRecord.safeParse(JSON.parse(raw));
  if (!parsed.success || !safeEqual(sha256Hex(token), parsed.data.tokenHash)) return null;
  const record = parsed.data;
  return { ...record, expiresAt: new Date(record.expiresAt) };
}
