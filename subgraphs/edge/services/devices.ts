import { z } from 'zod';
import { newId } from '../../../lib/ids.js';
import { requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Device } from '../../../prisma/generated/client.js';

export type { Device };

const registerDeviceInput = z.object({
  tenantId: z.string().nullish(),
  name: z.string().trim().min(1).max(200),
  kind: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/),
});

export async function registerDevice({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof registerDeviceInput>;
}): Promise<Device> {
  requireScope(principal, 'write:edge');
  const data = parseInput(registerDeviceInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  return deps.db.prisma.device.create({ data: { id: newId('dev'), tenantId, name: data.name, kind: data.kind } });
}

export async function listDevices({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId?: string | null;
}): Promise<Device[]> {
  requireScope(principal, 'read:edge');
  const scope = tenantScopeFor(principal, tenantId);
  return deps.db.prisma.device.findMany({ where: { tenantId: scope }, orderBy: { createdAt: 'asc' }, take: 100 });
}
