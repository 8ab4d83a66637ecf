import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { assertTenantAccess, requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { assertUserLimit } from './user-limit.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type User } from '../../../prisma/generated/client.js';

export type { User };

/**
 * The address a deleted or erased account keeps, so the person's own email is free again: unique
 * per user (the directory's unique index holds) and undeliverable (.invalid, RFC 2606).
 */
export function releasedEmail(userId: string, why: 'deleted' | 'erased'): string {
  return `${why}+${userId}@${why}.invalid`;
}

const createUserInput = z.object({
  tenantId: z.string().min(1),
  email: z
    .email()
    .max(320)
    .transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1).max(200),
  roles: z
    .array(z.string().regex(/^[a-z][a-z_:-]{0,39}$/))
    .max(20)
    .default(['user']),
});

export async function createUser({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createUserInput>;
}): Promise<User> {
  requireScope(principal, 'write:users');
  const data = parseInput(createUserInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  await assertUserLimit(deps, tenantId);
  try {
    return await deps.db.prisma.user.create({
      data: {
        id: newId('usr'),
        tenantId,
        directory: `tenant:${tenantId}`,
        email: data.email,
        name: data.name,
        roles: data.roles,
      },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'A user with this email already exists in the tenant');
    }
    throw error;
  }
}

export async function listTenantUsers({
  deps,
  principal,
  tenant,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenant: { id: string; projectId: string | null };
}): Promise<User[]> {
  requireScope(principal, 'read:users');
  assertTenantAccess(principal, tenant);
  return deps.db.prisma.user.findMany({
    where: { tenantId: tenant.id, status: { not: 'deleted' } },
    orderBy: { createdAt: 'asc' },
    take: 100,
  });
}
