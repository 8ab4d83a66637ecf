import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import type { Logger } from '../../../lib/logger.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Event } from '../../../prisma/generated/client.js';
import { publishEvents } from './events.js';
import { telemetryTenant } from './tenant-scope.js';

/**
 * Event ingestion with Segment's limits: 32 KB an event, 500 KB a batch (an oversized item is
 * named by its index), and its messageId dedup (a resend with the same id for the same tenant is
 * stored once). A batch is one INSERT … SELECT FROM unnest(…) statement, never a row per statement.
 */

export const MAX_EVENT_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_EVENTS = 2_500;

const eventSchema = z.object({
  type: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/, 'letters, digits and _ . : - (at most 100), e.g. page_view'),
  properties: z.record(z.string(), z.unknown()).default({}),
  context: z.record(z.string(), z.unknown()).nullish(),
  messageId: z.string().min(1).max(200).nullish(),
  occurredAt: z.date().nullish(),
  source: z.string().max(200).nullish(),
});

export type IngestEventInput = z.input<typeof eventSchema>;

export interface IngestResult {
  accepted: number;
  duplicates: number;
  eventIds: string[];
}

function byteSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null));
}

export async function ingestEvents({
  deps,
  principal,
  tenantId,
  events,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId?: string | null;
  events: readonly IngestEventInput[];
  logger?: Logger;
}): Promise<IngestResult> {
  requireScope(principal, 'write:telemetry');
  const scope = await telemetryTenant(deps, principal, tenantId);
  if (events.length === 0) throw new AppError('VALIDATION_ERROR', 'events must not be empty', { field: 'events' });
  if (events.length > MAX_BATCH_EVENTS) {
    throw new AppError('VALIDATION_ERROR', `At most ${MAX_BATCH_EVENTS} events per batch`, {
      limit: MAX_BATCH_EVENTS,
      received: events.length,
    });
  }
  let total = 0;
  const parsed = events.map((event, index) => {
    const size = byteSize(event);
    if (size > MAX_EVENT_BYTES) {
      throw new AppError('VALIDATION_ERROR', `Event ${index} is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`, {
        index,
        bytes: size,
        limit: MAX_EVENT_BYTES,
      });
    }
    total += size;
    if (total > MAX_BATCH_BYTES) {
      throw new AppError('VALIDATION_ERROR', `The batch passes ${MAX_BATCH_BYTES} bytes at event ${index}`, {
        index,
        limit: MAX_BATCH_BYTES,
      });
    }
    try {
      return parseInput(eventSchema, event);
    } catch (error) {
      if (error instanceof AppError)
        throw new AppError(error.code, `Event ${index}: ${error.message}`, { index, ...error.details });
      throw error;
    }
  });

  const now = new Date();
  const actorId = principal.kind === 'user' ? principal.id : null;
  const columns = {
    id: [] as string[],
    type: [] as string[],
    source: [] as Array<string | null>,
    payload: [] as string[],
    context: [] as Array<string | null>,
    messageId: [] as Array<string | null>,
    occurredAt: [] as string[],
  };
  // The same messageId twice in one batch is one event too (ON CONFLICT cannot see its own rows).
  const seen = new Set<string>();
  for (const event of parsed) {
    if (event.messageId) {
      if (seen.has(event.messageId)) continue;
      seen.add(event.messageId);
    }
    columns.id.push(newId('evt'));
    columns.type.push(event.type);
    columns.source.push(event.source ?? null);
    columns.payload.push(JSON.stringify(event.properties));
    columns.context.push(event.context ? JSON.stringify(event.context) : null);
    columns.messageId.push(event.messageId ?? null);
    columns.occurredAt.push((event.occurredAt ?? now).toISOString());
  }
  const inserted = await deps.db.prisma.$queryRawUnsafe<
    Array<{
      id: string;
      tenant_id: string;
      type: string;
      source: string | null;
      payload: unknown;
      actor_id: string | null;
      occurred_at: Date;
      received_at: Date;
      message_id: string | null;
      context: unknown;
    }>
  >(
    `INSERT INTO telemetry.events (id, tenant_id, actor_id, type, source, payload, context, message_id, occurred_at, received_at)
     SELECT u.id, $1, $2, u.type, u.source, u.payload::jsonb, u.context::jsonb, u.message_id, u.occurred_at::timestamptz, $10::timestamptz
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
         AS u(id, type, source, payload, context, message_id, occurred_at)
     ON CONFLICT (tenant_id, message_id) DO NOTHING
     RETURNING id, tenant_id, type, source, payload, actor_id, occurred_at, received_at, message_id, context`,
    scope,
    actorId,
    columns.id,
    columns.type,
    columns.source,
    columns.payload,
    columns.context,
    columns.messageId,
    columns.occurredAt,
    now.toISOString(),
  );
  const stored: Event[] = inserted.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    source: row.source,
    payload: row.payload as Event['payload'],
    actorId: row.actor_id,
    occurredAt: new Date(row.occurred_at),
    receivedAt: new Date(row.received_at),
    messageId: row.message_id,
    context: row.context as Event['context'],
  }));
  await publishEvents(deps, stored, logger);
  return {
    accepted: stored.length,
    duplicates: parsed.length - stored.length,
    eventIds: stored.map((event) => event.id),
  };
}
