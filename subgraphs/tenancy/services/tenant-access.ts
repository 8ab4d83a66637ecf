import { AppError } from '../../../lib/errors.js';
import { assertTenantAccess, requireScope, type Principal } from '../../../lib/principal.js';
import type { Scope } from '../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { Tenant } from '../../../prisma/generated/client.js';

/**
 * The tenant an operation acts on, as the caller named it: its id (`ten_…`) or its tenantsdb
 * `tenant_id` (the slug; slugs cannot start with `ten_` and hold no underscore, so the two never
 * collide). The scope is checked first, then the principal's own tenant and project: naming
 * another tenant is TENANT_MISMATCH, never a way around isolation.
 */
export async function loadTenantFor(
  deps: SubgraphDeps,
  principal: Principal | null,
  idOrSlug: string,
  scope: Scope,
): Promise<Tenant> {
  const caller = requireScope(principal, scope);
  const tenant = await deps.db.prisma.tenant.findFirst({ where: { OR: [{ id: idOrSlug }, { slug: idOrSlug }] } });
  if (!tenant || tenant.status === 'deleted') {
    throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: idOrSlug });
  }
  assertTenantAccess(caller, tenant);
  return tenant;
}
