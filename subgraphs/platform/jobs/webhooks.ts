import { z } from 'zod';
import { defineJob } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { WEBHOOK_EMIT_JOB, webhookEmitPayload } from '../../../lib/webhooks.js';
import { fanOutWebhookEvent, runDeliveryAttempt, WEBHOOK_DELIVER_JOB } from '../services/webhooks/deliver.js';

/** Any subgraph's emitted event, fanned out to the tenant's endpoints. Queue retries cover database hiccups. */
export function createWebhookEmitJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: WEBHOOK_EMIT_JOB,
    schema: webhookEmitPayload,
    attempts: 5,
    backoffMs: 2_000,
    handler: (payload) => fanOutWebhookEvent(deps(), payload),
  });
}

/**
 * One delivery attempt. The retry schedule (5 s … 10 h) is the delivery's own: each attempt queues
 * the next as a delayed job. The queue's own retries only cover a crash before the attempt was
 * recorded; the handler skips an attempt already recorded.
 */
export function createWebhookDeliverJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: WEBHOOK_DELIVER_JOB,
    schema: z.object({ deliveryId: z.string().min(1).max(100), attempt: z.number().int().min(1).max(10_000) }),
    attempts: 3,
    backoffMs: 5_000,
    handler: (payload, ctx) => runDeliveryAttempt(deps(), payload, ctx.logger),
  });
}
