import { z } from 'zod';
import { newId } from '../../../lib/ids.js';
import { requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Event, Prisma } from '../../../prisma/generated/client.js';

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
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof recordEventInput>;
}): Promise<Event> {
  requireScope(principal, 'write:telemetry');
  const data = parseInput(recordEventInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  return deps.db.prisma.event.create({
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
  const scope = tenantScopeFor(principal, tenantId);
  const take = parseInput(z.number().int().min(1).max(100), limit);
  return deps.db.prisma.event.findMany({ where: { tenantId: scope }, orderBy: { occurredAt: 'desc' }, take });
}
