import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import {
  assertTenantAccess,
  PROVISION_TENANT_ADMIN_SCOPE,
  requireScope,
  type Principal,
} from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type User } from '../../../prisma/generated/client.js';
import { tenantDirectory } from './auth.js';
import { assertPasswordPolicy, hashPassword, PASSWORD_MAX_LENGTH } from './passwords.js';

/**
 * A new tenant's first administrator, created while tenancy provisions the tenant. Identity owns
 * users, so tenancy cannot write this row itself: it calls here as its service principal, the
 * only holder of PROVISION_TENANT_ADMIN_SCOPE. The password goes through the same policy and
 * argon2id hashing as every other password; a refusal (weak password, taken email) reaches
 * tenancy as the usual error code, and tenancy undoes the tenant.
 */

export const TENANT_ADMIN_ROLES = ['admin'] as const;

const createTenantAdminInput = z.object({
  tenantId: z.string().trim().min(1).max(100),
  email: z
    .email()
    .max(320)
    .transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1).max(200),
  // The policy checks the real bounds; this cap only keeps megabytes away from argon2.
  password: z
    .string()
    .min(1)
    .max(PASSWORD_MAX_LENGTH * 4),
});

export async function createTenantAdmin({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof createTenantAdminInput>;
}): Promise<User> {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Authentication required');
  if (principal.kind !== 'service' || !principal.scopes.includes(PROVISION_TENANT_ADMIN_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only tenant provisioning creates a tenant admin this way');
  }
  const data = parseInput(createTenantAdminInput, input);
  assertPasswordPolicy(data.password, { email: data.email });
  const passwordHash = await hashPassword(data.password);
  try {
    return await deps.db.prisma.user.create({
      data: {
        id: newId('usr'),
        tenantId: data.tenantId,
        directory: tenantDirectory(data.tenantId),
        email: data.email,
        name: data.name,
        roles: [...TENANT_ADMIN_ROLES],
        passwordHash,
      },
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'A user with this email already exists in the tenant');
    }
    throw error;
  }
}

/** Usage figure for GET /api/tenants/{id}: the tenant's users that are not deleted. */
export async function countTenantUsers({
  deps,
  principal,
  tenant,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenant: { id: string; projectId: string | null };
}): Promise<number> {
  requireScope(principal, 'read:tenants');
  assertTenantAccess(principal, tenant);
  return deps.db.prisma.user.count({ where: { tenantId: tenant.id, status: { not: 'deleted' } } });
}
