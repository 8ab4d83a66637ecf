import type { Logger } from '../../../../lib/logger.js';
import { newId } from '../../../../lib/ids.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { emitWebhookEvent, matchesEventType, signWebhook, type WebhookEmitPayload } from '../../../../lib/webhooks.js';
import { outboundRequest } from '../outbound-request.js';

export const WEBHOOK_DELIVER_JOB = 'platform.webhook-deliver';

/** The notice a tenant's other endpoints receive when one of its endpoints is disabled. */
export const ENDPOINT_DISABLED_EVENT = 'webhook.endpoint_disabled';

/** ±20 %: receivers that failed together do not all get their retries in the same second. */
export function withJitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** One attempt is one job; its id names the attempt, so a fan-out or replay run twice queues it once. */
export async function enqueueDeliveryAttempt(
  deps: SubgraphDeps,
  deliveryId: string,
  attempt: number,
  delayMs: number,
): Promise<void> {
  await deps.jobs.enqueue(
    WEBHOOK_DELIVER_JOB,
    { deliveryId, attempt },
    { jobId: `whd-${deliveryId}-${attempt}`, delayMs },
  );
}

/**
 * The emit job: records the event once and makes one delivery per matching enabled endpoint of
 * the tenant. Idempotent: a rerun finds the event and deliveries made and queues only what is missing.
 */
export async function fanOutWebhookEvent(
  deps: SubgraphDeps,
  event: WebhookEmitPayload,
): Promise<{ eventId: string; deliveries: number }> {
  const prisma = deps.db.prisma;
  await prisma.webhookEvent.createMany({
    data: [
      {
        id: event.id,
        tenantId: event.tenantId,
        type: event.type,
        data: event.data as object,
        createdAt: new Date(event.createdAt),
      },
    ],
    skipDuplicates: true,
  });
  const endpoints = await prisma.webhookEndpoint.findMany({ where: { tenantId: event.tenantId, enabled: true } });
  const matching = endpoints.filter((e) => matchesEventType(e.eventTypes, event.type));
  if (matching.length === 0) return { eventId: event.id, deliveries: 0 };
  await prisma.webhookDelivery.createMany({
    data: matching.map((e) => ({ id: newId('whd'), eventId: event.id, endpointId: e.id, tenantId: event.tenantId })),
    skipDuplicates: true,
  });
  const fresh = await prisma.webhookDelivery.findMany({
    where: { eventId: event.id, endpointId: { in: matching.map((e) => e.id) }, attemptCount: 0, status: 'pending' },
    select: { id: true },
  });
  for (const d of fresh) await enqueueDeliveryAttempt(deps, d.id, 1, 0);
  return { eventId: event.id, deliveries: matching.length };
}

/** The body every receiver gets: platform-forge's documented webhook format. */
export function webhookBody(event: { id: string; type: string; data: unknown; createdAt: Date; tenantId: string }) {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    data: event.data,
    created_at: event.createdAt.toISOString(),
    tenant_id: event.tenantId,
  });
}

export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'skipped';

/**
 * The deliver job: one attempt at one delivery. Records the attempt, then either finishes the
 * delivery or queues the next attempt after the schedule's delay (with jitter). A failure streak
 * reaching the threshold disables the endpoint and sends a notice to the tenant's other endpoints.
 */
export async function runDeliveryAttempt(
  deps: SubgraphDeps,
  { deliveryId, attempt }: { deliveryId: string; attempt: number },
  logger: Logger,
): Promise<{ outcome: AttemptOutcome; status?: number }> {
  const prisma = deps.db.prisma;
  const delivery = await prisma.webhookDelivery.findUnique({
    where: { id: deliveryId },
    include: { endpoint: true, event: true },
  });
  // Gone (endpoint deleted), finished, or this attempt already made: nothing to do.
  if (!delivery || delivery.status !== 'pending' || delivery.attemptCount >= attempt) return { outcome: 'skipped' };
  const { endpoint, event } = delivery;
  if (!endpoint.enabled) {
    await prisma.webhookDelivery.update({
      where: { id: deliveryId },
      data: { status: 'failed', nextAttemptAt: null, lastError: 'endpoint disabled' },
    });
    return { outcome: 'failed' };
  }

  const body = webhookBody(event);
  const secrets = [deps.secretBox.open(endpoint.secret)];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > new Date()) {
    secrets.push(deps.secretBox.open(endpoint.previousSecret));
  }
  const headers = signWebhook({ msgId: event.id, eventType: event.type, body, secrets });
  const result = await outboundRequest({
    url: endpoint.url,
    method: 'POST',
    headers: { ...headers },
    body,
    settings: deps.outbound,
  });
  const succeeded = result.ok && result.status >= 200 && result.status < 300;
  const error = succeeded ? null : result.ok ? `receiver answered ${result.status}` : result.error;
  const schedule = deps.outbound.webhookRetryScheduleMs;
  const retryIndex = attempt - delivery.runStart;
  const willRetry = !succeeded && retryIndex < schedule.length;
  const delayMs = willRetry ? withJitter(schedule[retryIndex]!) : 0;
  const trigger = attempt === delivery.runStart ? (attempt === 1 ? 'initial' : 'replay') : 'retry';

  const updatedEndpoint = await prisma.$transaction(async (tx) => {
    await tx.webhookAttempt.create({
      data: {
        id: newId('wha'),
        deliveryId,
        number: attempt,
        trigger,
        statusCode: result.ok ? result.status : null,
        error,
        responseBody: result.ok ? result.body : null,
        durationMs: result.durationMs,
      },
    });
    await tx.webhookDelivery.update({
      where: { id: deliveryId },
      data: {
        attemptCount: attempt,
        status: succeeded ? 'succeeded' : willRetry ? 'pending' : 'failed',
        nextAttemptAt: willRetry ? new Date(Date.now() + delayMs) : null,
        lastError: error,
      },
    });
    return tx.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { failureStreak: succeeded ? 0 : { increment: 1 } },
    });
  });

  if (succeeded) return { outcome: 'succeeded', status: result.ok ? result.status : undefined };
  logger.warn({ deliveryId, endpointId: endpoint.id, attempt, error, willRetry }, 'webhook delivery attempt failed');
  if (updatedEndpoint.failureStreak >= deps.outbound.webhookDisableAfterFailures) {
    await disableFailingEndpoint(deps, endpoint.id, updatedEndpoint.failureStreak, logger);
  }
  if (willRetry) await enqueueDeliveryAttempt(deps, deliveryId, attempt + 1, delayMs);
  return { outcome: willRetry ? 'retrying' : 'failed', status: result.ok ? result.status : undefined };
}

async function disableFailingEndpoint(deps: SubgraphDeps, endpointId: string, streak: number, logger: Logger) {
  const reason = `disabled after ${streak} failed delivery attempts in a row`;
  // Only the attempt that flips it sends the notice.
  const flipped = await deps.db.prisma.webhookEndpoint.updateMany({
    where: { id: endpointId, enabled: true },
    data: { enabled: false, disabledAt: new Date(), disabledReason: reason },
  });
  if (flipped.count === 0) return;
  const endpoint = await deps.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
  logger.warn({ endpointId, tenantId: endpoint.tenantId, streak }, 'webhook endpoint disabled');
  await emitWebhookEvent(deps.jobs, {
    tenantId: endpoint.tenantId,
    type: ENDPOINT_DISABLED_EVENT,
    data: { endpoint_id: endpoint.id, url: endpoint.url, reason, failure_streak: streak },
  }).catch((err: unknown) => logger.error({ err, endpointId }, 'endpoint-disabled notice not queued'));
}
