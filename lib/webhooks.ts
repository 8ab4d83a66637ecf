import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { AppError } from './errors.js';
import { newId } from './ids.js';
import type { JobQueue } from './runtime/jobs.js';

/**
 * Outbound webhooks, the platform-wide part: any subgraph emits an event for a tenant with
 * `emitWebhookEvent(deps.jobs, ...)`. The event travels as a job to the platform subgraph, which
 * owns the endpoints, fans the event out to the tenant's matching endpoints and delivers each one
 * as jobs of its own (subgraphs/platform/services/webhooks/). No subgraph reads another's tables:
 * the job queue is the boundary.
 */

/** The platform's fan-out job; every process registers it, so any subgraph can enqueue it by name. */
export const WEBHOOK_EMIT_JOB = 'platform.webhook-emit';

/** About 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: the Standard Webhooks / Svix schedule. */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3600_000,
  5 * 3600_000,
  10 * 3600_000,
  10 * 3600_000,
];

/** Failed attempts in a row before an endpoint is disabled: five deliveries' whole schedules (~5 days of failure). */
export const WEBHOOK_DISABLE_AFTER_FAILURES = 40;

/** Event payloads sit in the queue and in the database: bounded, and never secrets. */
export const MAX_EVENT_DATA_BYTES = 64 * 1024;

export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export const webhookEmitPayload = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{3,100}$/)
    .describe("The event's id: idempotent, the same id is fanned out once"),
  tenantId: z.string().min(1).max(100),
  type: z.string().regex(EVENT_TYPE_PATTERN).max(100),
  data: z.record(z.string(), z.unknown()),
  createdAt: z.iso.datetime({ offset: true }),
});
export type WebhookEmitPayload = z.infer<typeof webhookEmitPayload>;

export interface EmitWebhookEvent {
  tenantId: string;
  /** Dotted, lower case: `deployment.completed`, `subscription.updated`. */
  type: string;
  data: Record<string, unknown>;
  /** The source's own id, so a retried emit is delivered once; default a new `evt_` id. */
  id?: string;
  createdAt?: Date;
}

/**
 * Queues an event for the tenant's webhook endpoints. Returns once the event is durably queued
 * (Redis or the in-process queue); delivery happens in the background.
 */
export async function emitWebhookEvent(jobs: JobQueue, event: EmitWebhookEvent): Promise<{ eventId: string }> {
  const id = event.id ?? newId('evt');
  const size = Buffer.byteLength(JSON.stringify(event.data));
  if (size > MAX_EVENT_DATA_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Webhook event data is over ${MAX_EVENT_DATA_BYTES} bytes`, { size });
  }
  const payload: WebhookEmitPayload = {
    id,
    tenantId: event.tenantId,
    type: event.type,
    data: event.data,
    createdAt: (event.createdAt ?? new Date()).toISOString(),
  };
  // The job id is the event id: emitting the same event twice queues it once.
  await jobs.enqueue(WEBHOOK_EMIT_JOB, payload, { jobId: `whe-${id}` });
  return { eventId: id };
}

// ---------------------------------------------------------------------------------------------
// Signing

const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  /** `v1,<base64>` per secret, space-separated: during a rotation the new and the old one. */
  'webhook-signature': string;
  /** platform-forge: hex HMAC-SHA256 of the body, keyed with the secret string as written. */
  'x-webhook-signature': string;
  /** core-platform: the same HMAC, under the name its document uses. */
  'x-signature': string;
  'x-event-type': string;
}

/**
 * Every signature header the documents name, for one body. `secrets` are newest first: Standard
 * Webhooks carries one signature per secret (receivers accept any); the single-valued documented
 * headers carry the newest secret's.
 */
export function signWebhook(options: {
  msgId: string;
  eventType: string;
  body: string;
  secrets: readonly string[];
  timestamp?: Date;
}): SignedHeaders {
  const [current] = options.secrets;
  if (!current) throw new Error('signWebhook needs a secret');
  const timestamp = options.timestamp ?? new Date();
  const signatures = options.secrets.map((secret) => new Webhook(secret).sign(options.msgId, timestamp, options.body));
  const hex = createHmac('sha256', current).update(options.body).digest('hex');
  return {
    'webhook-id': options.msgId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
    'x-webhook-signature': hex,
    'x-signature': hex,
    'x-event-type': options.eventType,
  };
}

/** Does an endpoint's filter take this event type? Empty: all; `prefix.*`: that family. */
export function matchesEventType(filters: readonly string[], type: string): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => (f.endsWith('.*') ? type.startsWith(f.slice(0, -1)) : f === type));
}
