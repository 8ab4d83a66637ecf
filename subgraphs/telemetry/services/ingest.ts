import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newIds } from '../../../lib/ids.js';
import type { Logger } from '../../../lib/logger.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { publishEventJson } from './events.js';
import { telemetryTenant } from './tenant-scope.js';

/**
 * Event ingestion with Segment's limits: 32 KB an event, 500 KB a batch (an oversized item is
 * named by its index), and its messageId dedup (a resend with the same id for the same tenant is
 * stored once). A batch is one INSERT … SELECT FROM unnest(…) statement, never a row per statement.
 *
 * Batches of thousands of events make per-event costs the whole cost, so each event's properties
 * and context are serialized once: that JSON is what the size limits measure, what the database
 * stores and what the bus announces. The statement returns only the ids it stored (the rest of
 * each row is what was sent), so nothing is decoded back from the database.
 */

export const MAX_EVENT_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_EVENTS = 2_500;

const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;

const eventSchema = z.object({
  type: z.string().regex(TYPE_PATTERN, 'letters, digits and _ . : - (at most 100), e.g. page_view'),
  properties: z.record(z.string(), z.unknown()).default({}),
  context: z.record(z.string(), z.unknown()).nullish(),
  messageId: z.string().min(1).max(200).nullish(),
  occurredAt: z.date().nullish(),
  source: z.string().max(200).nullish(),
});

export type IngestEventInput = z.input<typeof eventSchema>;
type ParsedEvent = z.output<typeof eventSchema>;

export interface IngestResult {
  accepted: number;
  duplicates: number;
  eventIds: string[];
}

// zod drops an own __proto__ key from a record: such an object takes the zod path.
const isRecord = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(value, '__proto__');
};
const isOptionalString = (value: unknown, min: number, max: number) =>
  value === null || value === undefined || (typeof value === 'string' && value.length >= min && value.length <= max);

/**
 * The common case checked by hand (zod costs microseconds an event, which a 2,500-event batch
 * multiplies): a narrower test than eventSchema, so whatever it accepts eventSchema accepts too,
 * and it keeps the very objects it was given. Anything else goes through eventSchema, which gives
 * the error or a copy.
 */
function parseEvent(event: IngestEventInput): ParsedEvent {
  if (
    typeof event.type === 'string' &&
    TYPE_PATTERN.test(event.type) &&
    (event.properties === undefined || isRecord(event.properties)) &&
    (event.context === null || event.context === undefined || isRecord(event.context)) &&
    isOptionalString(event.messageId, 1, 200) &&
    isOptionalString(event.source, 0, 200) &&
    (event.occurredAt === null ||
      event.occurredAt === undefined ||
      (event.occurredAt instanceof Date && !Number.isNaN(event.occurredAt.getTime())))
  ) {
    return {
      type: event.type,
      properties: event.properties ?? {},
      context: event.context,
      messageId: event.messageId,
      occurredAt: event.occurredAt,
      source: event.source,
    };
  }
  return parseInput(eventSchema, event);
}

/**
 * Byte size of the event as JSON, from its serialized properties and context: what
 * Buffer.byteLength(JSON.stringify(event)) gives for an event with these fields, without
 * serializing the properties a second time.
 */
function eventBytes(event: IngestEventInput, propertiesJson: string | undefined, contextJson: string | undefined) {
  // Each present field is `"name":json` and a comma; the braces take the place of one comma.
  let bytes = 1;
  const type = JSON.stringify(event.type) as string | undefined;
  if (type !== undefined) bytes += 'type'.length + 4 + Buffer.byteLength(type);
  if (propertiesJson !== undefined) bytes += 'properties'.length + 4 + Buffer.byteLength(propertiesJson);
  if (contextJson !== undefined) bytes += 'context'.length + 4 + Buffer.byteLength(contextJson);
  const messageId = JSON.stringify(event.messageId) as string | undefined;
  if (messageId !== undefined) bytes += 'messageId'.length + 4 + Buffer.byteLength(messageId);
  const occurredAt = JSON.stringify(event.occurredAt) as string | undefined;
  if (occurredAt !== undefined) bytes += 'occurredAt'.length + 4 + Buffer.byteLength(occurredAt);
  const source = JSON.stringify(event.source) as string | undefined;
  if (source !== undefined) bytes += 'source'.length + 4 + Buffer.byteLength(source);
  return bytes;
}

// A character JSON.stringify would escape its own way (\n, \u0000, a lone surrogate's \udxxx).
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const JSON_ESCAPED = /[\u0000-\u001f\ud800-\udfff]/;

/**
 * A text[] parameter as PostgreSQL's array literal. JSON.stringify quotes a string as array_in
 * reads it (a backslash before each " and \) unless it holds a character JSON escapes its own
 * way; those strings take the plain escape. One native call an element instead of node-postgres'
 * two regular-expression replacements, for thousands of elements a batch.
 */
export function textArrayLiteral(values: ReadonlyArray<string | null>): string {
  const items = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) items[i] = 'NULL';
    else if (!JSON_ESCAPED.test(value)) items[i] = JSON.stringify(value);
    else items[i] = `"${value.replace(/[\\"]/g, '\\$&')}"`;
  }
  return `{${items.join(',')}}`;
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

  const now = new Date();
  const nowIso = now.toISOString();
  const actorId = principal.kind === 'user' ? principal.id : null;
  const columns = {
    type: [] as string[],
    source: [] as Array<string | null>,
    payload: [] as string[],
    context: [] as Array<string | null>,
    messageId: [] as Array<string | null>,
    // Null: when it was received (the common case costs no timestamp to format or parse).
    occurredAt: [] as Array<string | null>,
  };
  // The same messageId twice in one batch is one event too (ON CONFLICT cannot see its own rows).
  const seen = new Set<string>();
  let total = 0;
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    // Serialized as sent, before validation, so that the limits hold for any input.
    const propertiesJson = event.properties === undefined ? undefined : JSON.stringify(event.properties);
    const contextJson = event.context === undefined ? undefined : JSON.stringify(event.context);
    const size = eventBytes(event, propertiesJson, contextJson);
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
    let parsed: ParsedEvent;
    try {
      parsed = parseEvent(event);
    } catch (error) {
      if (error instanceof AppError)
        throw new AppError(error.code, `Event ${index}: ${error.message}`, { index, ...error.details });
      throw error;
    }
    if (parsed.messageId) {
      if (seen.has(parsed.messageId)) continue;
      seen.add(parsed.messageId);
    }
    columns.type.push(parsed.type);
    columns.source.push(parsed.source ?? null);
    // The JSON at hand when the parse kept the object; a copy made by zod is serialized anew.
    columns.payload.push(parsed.properties === event.properties ? propertiesJson! : JSON.stringify(parsed.properties));
    columns.context.push(
      !parsed.context ? null : parsed.context === event.context ? contextJson! : JSON.stringify(parsed.context),
    );
    columns.messageId.push(parsed.messageId ?? null);
    columns.occurredAt.push(parsed.occurredAt ? parsed.occurredAt.toISOString() : null);
  }

  const ids = newIds('evt', columns.type.length);
  // On the driver itself: Prisma's handling of seven 2,500-element array parameters cost more
  // CPU than node-postgres' (bench:ingest).
  const inserted = await deps.db.query<{ id: string }>(
    `INSERT INTO telemetry.events (id, tenant_id, actor_id, type, source, payload, context, message_id, occurred_at, received_at)
     SELECT u.id, $1, $2, u.type, u.source, u.payload::jsonb, u.context::jsonb, u.message_id,
            coalesce(u.occurred_at::timestamptz, $10::timestamptz), $10::timestamptz
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
         AS u(id, type, source, payload, context, message_id, occurred_at)
     ON CONFLICT (tenant_id, message_id) DO NOTHING
     RETURNING id`,
    [
      scope,
      actorId,
      textArrayLiteral(ids),
      textArrayLiteral(columns.type),
      textArrayLiteral(columns.source),
      textArrayLiteral(columns.payload),
      textArrayLiteral(columns.context),
      textArrayLiteral(columns.messageId),
      textArrayLiteral(columns.occurredAt),
      nowIso,
    ],
  );

  // Rows come back in no promised order, and without the ones a stored messageId turned away.
  const stored = new Set<string>();
  for (const row of inserted) stored.add(row.id);
  const eventIds: string[] = [];
  const announced: string[] = [];
  const tenantJson = JSON.stringify(scope);
  const actorJson = JSON.stringify(actorId);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!stored.has(id)) continue;
    eventIds.push(id);
    // The Event as the database holds it (prisma's Event, JSON.stringify'd), built from the JSON at hand.
    announced.push(
      `{"id":"${id}","tenantId":${tenantJson},"type":${JSON.stringify(columns.type[i])},` +
        `"source":${JSON.stringify(columns.source[i])},"payload":${columns.payload[i]},"actorId":${actorJson},` +
        `"occurredAt":"${columns.occurredAt[i] ?? nowIso}","receivedAt":"${nowIso}",` +
        `"messageId":${JSON.stringify(columns.messageId[i])},"context":${columns.context[i] ?? 'null'}}`,
    );
  }
  await publishEventJson(deps, scope, announced, logger);
  return { accepted: eventIds.length, duplicates: events.length - eventIds.length, eventIds };
}
