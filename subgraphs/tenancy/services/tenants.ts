import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { assertTenantAccess, requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type Tenant } from '../../../prisma/generated/client.js';

export type { Tenant };

const createTenantInput = z.object({
  name: z.string().trim().min(1).max(200),
  slug: z
    .string()
    .regex(
      /^[a-z][a-z0-9-]{1,48}[a-z0-9]$/,
      'lowercase letters, digits and dashes; 3 to 50 characters; starts with a letter',
    ),
});

/** Postgres schema names are identifiers: the slug's dashes become underscores under a fixed prefix. */
export function schemaNameFor(slug: string): string {
  return `t_${slug.replaceAll('-', '_')}`;
}

/** The tenant row and its Postgres schema are created together or not at all. */
export async function createTenant({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createTenantInput>;
}): Promise<Tenant> {
  requireScope(principal, 'write:tenants');
  if (principal.tenantId !== null) {
    throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot create tenants');
  }
  const data = parseInput(createTenantInput, input);
  const schemaName = schemaNameFor(data.slug);
  try {
    return await deps.db.prisma.$transaction(async (tx) => {
      const tenant = await tx.tenant.create({
        data: { id: newId('ten'), projectId: principal.projectId, name: data.name, slug: data.slug, schemaName },
      });
      // schemaName is derived from a slug that the regex above limits to [a-z0-9_].
      await tx.$executeRawUnsafe(`CREATE SCHEMA "${schemaName}"`);
      return tenant;
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'A tenant with this slug already exists', { slug: data.slug });
    }
    throw error;
  }
}

export async function getTenant({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
}): Promise<Tenant> {
  requireScope(principal, 'read:tenants');
  const tenant = await deps.db.prisma.tenant.findUnique({ where: { id } });
  if (!tenant || tenant.status === 'deleted') throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: id });
  assertTenantAccess(principal, tenant);
  return tenant;
}

/** Only the tenants the caller may see: its own, its project's, or (operator) all. */
export async function listTenants({
  deps,
  principal,
  limit,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  limit: number;
}): Promise<Tenant[]> {
  requireScope(principal, 'read:tenants');
  const take = parseInput(z.number().int().min(1).max(100), limit);
  return deps.db.prisma.tenant.findMany({
    where: {
      status: { not: 'deleted' },
      ...(principal.tenantId !== null ? { id: principal.tenantId } : {}),
      ...(principal.projectId !== null ? { projectId: principal.projectId } : {}),
    },
    orderBy: { createdAt: 'asc' },
    take,
  });
}
