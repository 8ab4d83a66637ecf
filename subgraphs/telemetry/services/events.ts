import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { newId } from '../../../lib/ids.js';
import type { BoundedQueue } from '../../../lib/realtime/bounded-queue.js';
import { publishTopic, publishTopicJson, subscribeTopic, type RealtimeEnvelope } from '../../../lib/realtime/topics.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Event, Prisma } from '../../../prisma/generated/client.js';
import { telemetrySubscriptionTenant, telemetryTenant } from './tenant-scope.js';

export type { Event };

const recordEventInput = z.object({
  tenantId: z.string().nullish(),
  type: z.string().regex(/^[a-z][a-z0-9_.-]{0,99}$/, 'dotted lowercase name, e.g. user.signed_up'),
  source: z.string().max(200).nullish(),
  payload: z.record(z.string(), z.unknown()).default({}),
  occurredAt: z.date().nullish(),
});

export async function recordEvent({
  deps,
  principal,
  input,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof recordEventInput>;
  logger?: Logger;
}): Promise<Event> {
  requireScope(principal, 'write:telemetry');
  const data = parseInput(recordEventInput, input);
  const tenantId = await telemetryTenant(deps, principal, data.tenantId);
  const event = await deps.db.prisma.event.create({
    data: {
      id: newId('evt'),
      tenantId,
      actorId: principal.kind === 'user' ? principal.id : null,
      type: data.type,
      source: data.source ?? null,
      payload: data.payload as Prisma.InputJsonObject,
      occurredAt: data.occurredAt ?? new Date(),
    },
  });
  await publishEvents(deps, [event], logger);
  return event;
}

/**
 * Announces stored events on the bus. Delivery is best effort: the event is already recorded,
 * and a bus outage must not fail the write that recorded it.
 */
export async function publishEvents(deps: SubgraphDeps, events: Event[], logger?: Logger): Promise<void> {
  await Promise.all(
    events.map((event) =>
      publishTopic(deps.kv, 'telemetry.events', event.tenantId, event).catch((error: unknown) => {
        logger?.warn({ err: error }, 'telemetry event not announced on the bus');
      }),
    ),
  );
}

/**
 * publishEvents for a batch of one tenant whose events are already JSON (each as
 * JSON.stringify(event) would give it): one bus round trip, no second serialization. Best effort
 * as well.
 */
export async function publishEventJson(
  deps: SubgraphDeps,
  tenantId: string,
  eventJson: readonly string[],
  logger?: Logger,
): Promise<void> {
  await publishTopicJson(deps.kv, 'telemetry.events', tenantId, eventJson).catch((error: unknown) => {
    logger?.warn({ err: error, events: eventJson.length }, 'telemetry events not announced on the bus');
  });
}

const MAX_TYPE_FILTERS = 50;

export async function subscribeEvents({
  deps,
  principal,
  tenantId,
  types,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId: string | null;
  types: readonly string[] | null;
}): Promise<BoundedQueue<RealtimeEnvelope<Event>>> {
  requireScope(principal, 'read:telemetry');
  const scope = await telemetrySubscriptionTenant(deps, principal, tenantId);
  if (types && types.length > MAX_TYPE_FILTERS) {
    throw new AppError('VALIDATION_ERROR', `At most ${MAX_TYPE_FILTERS} event types`, { field: 'types' });
  }
  const wanted = types && types.length > 0 ? new Set(types) : null;
  return subscribeTopic<Event>({
    kv: deps.kv,
    topic: 'telemetry.events',
    tenantId: scope,
    accept: (event) => wanted === null || wanted.has(event.type),
  });
}

export async function listEvents({
  deps,
  principal,
  tenantId,
  limit,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId?: string | null;
  limit: number;
}): Promise<Event[]> {
  requireScope(principal, 'read:telemetry');
  const scope = await telemetryTenant(deps, principal, tenantId);
  const take = parseInput(z.number().int().min(1).max(100), limit);
  return deps.db.prisma.event.findMany({ where: { tenantId: scope }, orderBy: { occurredAt: 'desc' }, take });
}
