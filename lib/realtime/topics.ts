import { tenantScopeFor, type Principal } from '../principal.js';
import type { Kv } from '../runtime/kv.js';
import { createBoundedQueue, type BoundedQueue } from './bounded-queue.js';

/**
 * The platform's event bus: named topics on the kv pub/sub (in-memory embedded, Redis in
 * production), so an event published by any process reaches subscribers in every process.
 * Every message names its tenant; a subscriber scoped to a tenant never receives another's.
 */

export const REALTIME_TOPICS = [
  'telemetry.events',
  'telemetry.metrics',
  'telemetry.broadcast',
  'tenancy.progress',
  'identity.audit',
  'platform.tasks',
] as const;
export type RealtimeTopic = (typeof REALTIME_TOPICS)[number];

const CHANNEL_PREFIX = 'rt:';

export interface RealtimeEnvelope<T = unknown> {
  /** Null: a platform-wide message (only unscoped subscribers receive it). */
  tenantId: string | null;
  data: T;
  publishedAt: number;
}

/** Per-topic figures of this process's side of the bus: what the event-bus endpoints report. */
export interface TopicStats {
  published: number;
  publishedBytes: number;
  received: number;
  receivedBytes: number;
  /** Deliveries to local subscribers (one message reaching five subscribers counts five). */
  delivered: number;
  dropped: number;
  subscribers: Set<BoundedQueue<unknown>>;
}

const stats = new Map<RealtimeTopic, TopicStats>();

export function topicStats(topic: RealtimeTopic): TopicStats {
  let entry = stats.get(topic);
  if (!entry) {
    entry = {
      published: 0,
      publishedBytes: 0,
      received: 0,
      receivedBytes: 0,
      delivered: 0,
      dropped: 0,
      subscribers: new Set(),
    };
    stats.set(topic, entry);
  }
  return entry;
}

export function allTopicStats(): Array<[RealtimeTopic, TopicStats]> {
  return REALTIME_TOPICS.map((topic) => [topic, topicStats(topic)]);
}

/**
 * Envelopes (RealtimeEnvelope: tenantId, data, publishedAt) around data already serialized, as
 * JSON.stringify would give them, counted in the topic's stats. The one place the wire form is made.
 */
function envelopes(topic: RealtimeTopic, tenantId: string | null, dataJson: readonly string[]): string[] {
  const head = `{"tenantId":${JSON.stringify(tenantId)},"data":`;
  const tail = `,"publishedAt":${Date.now()}}`;
  const entry = topicStats(topic);
  const frame = Buffer.byteLength(head) + Buffer.byteLength(tail);
  const messages = dataJson.map((json) => {
    entry.publishedBytes += frame + Buffer.byteLength(json);
    return head + json + tail;
  });
  entry.published += messages.length;
  return messages;
}

export async function publishTopic<T>(kv: Kv, topic: RealtimeTopic, tenantId: string | null, data: T): Promise<void> {
  const [message] = envelopes(topic, tenantId, [JSON.stringify(data ?? null)]);
  await kv.pubsub.publish(CHANNEL_PREFIX + topic, message!);
}

/**
 * Publishes many messages of one tenant in one kv round trip, each still its own envelope (a
 * subscriber sees no difference). `dataJson` holds each message's data already serialized, so that
 * a caller holding the JSON (a batch of ingested events) does not serialize it a second time.
 */
export async function publishTopicJson(
  kv: Kv,
  topic: RealtimeTopic,
  tenantId: string | null,
  dataJson: readonly string[],
): Promise<void> {
  if (dataJson.length === 0) return;
  await kv.pubsub.publishMany(CHANNEL_PREFIX + topic, envelopes(topic, tenantId, dataJson));
}

/**
 * Listens to a topic on behalf of one subscriber. `tenantId` null receives every tenant's events
 * (platform operators); `accept` narrows further (event type, deployment id...). Stops listening
 * when the consumer stops iterating.
 */
export async function subscribeTopic<T>(options: {
  kv: Kv;
  topic: RealtimeTopic;
  tenantId: string | null;
  accept?: (data: T, envelope: RealtimeEnvelope<T>) => boolean;
  maxQueue?: number;
}): Promise<BoundedQueue<RealtimeEnvelope<T>>> {
  const { kv, topic, tenantId, accept } = options;
  const entry = topicStats(topic);
  let unsubscribe: (() => Promise<void>) | null = null;
  let closed = false;
  const queue = createBoundedQueue<RealtimeEnvelope<T>>({
    max: options.maxQueue,
    onClose: async () => {
      closed = true;
      entry.subscribers.delete(queue as BoundedQueue<unknown>);
      entry.dropped += queue.dropped;
      await unsubscribe?.();
    },
  });
  unsubscribe = await kv.pubsub.subscribe(CHANNEL_PREFIX + topic, (message) => {
    let envelope: RealtimeEnvelope<T>;
    try {
      envelope = JSON.parse(message) as RealtimeEnvelope<T>;
    } catch {
      return;
    }
    if (tenantId !== null && envelope.tenantId !== tenantId) return;
    if (accept && !accept(envelope.data, envelope)) return;
    entry.delivered += 1;
    queue.push(envelope);
  });
  if (closed) await unsubscribe();
  // Counted once its listener is live: from here on a published message reaches it.
  else entry.subscribers.add(queue as BoundedQueue<unknown>);
  return queue;
}

/**
 * Counts received messages once per process and topic (not once per subscriber), for the bus
 * figures; started by whoever reports them.
 */
export async function countTopicTraffic(kv: Kv): Promise<() => Promise<void>> {
  const stops = await Promise.all(
    REALTIME_TOPICS.map((topic) =>
      kv.pubsub.subscribe(CHANNEL_PREFIX + topic, (message) => {
        const entry = topicStats(topic);
        entry.received += 1;
        entry.receivedBytes += Buffer.byteLength(message);
      }),
    ),
  );
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}

/**
 * Listens to a raw pub/sub channel whose JSON messages name their tenant themselves (a subgraph's
 * own channel, such as edge's deployment progress), with the same tenant scoping and bounded queue
 * as a topic. Nothing to count here: the channel's owner reports its own figures.
 */
export async function subscribeChannel<T>(options: {
  kv: Kv;
  channel: string;
  tenantOf: (message: T) => string | null;
  tenantId: string | null;
  accept?: (message: T) => boolean;
  maxQueue?: number;
}): Promise<BoundedQueue<T>> {
  const { kv, channel, tenantOf, tenantId, accept } = options;
  let unsubscribe: (() => Promise<void>) | null = null;
  let closed = false;
  const queue = createBoundedQueue<T>({
    max: options.maxQueue,
    onClose: async () => {
      closed = true;
      await unsubscribe?.();
    },
  });
  unsubscribe = await kv.pubsub.subscribe(channel, (raw) => {
    let message: T;
    try {
      message = JSON.parse(raw) as T;
    } catch {
      return;
    }
    if (tenantId !== null && tenantOf(message) !== tenantId) return;
    if (accept && !accept(message)) return;
    queue.push(message);
  });
  if (closed) await unsubscribe();
  return queue;
}

/**
 * The tenant a subscriber receives: its own when bound to one (naming another is refused);
 * a platform operator names one, or null for every tenant's events.
 */
export function subscriptionTenantScope(principal: Principal, requested: string | null | undefined): string | null {
  if (principal.kind === 'operator' && principal.tenantId === null) return requested ?? null;
  return tenantScopeFor(principal, requested ?? null);
}
