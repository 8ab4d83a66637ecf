import { AppError } from '../../../../lib/errors.js';
import { assertTenantAccess, requireScope, type Principal } from '../../../../lib/principal.js';
import type { Scope } from '../../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import type { Tenant } from '../../../../prisma/generated/client.js';

/**
 * A tenant by its id (`ten_…`) or its tenantsdb `tenant_id` (the slug; slugs cannot start with
 * `ten_` and hold no underscore, so the two never collide). Deleted tenants included: callers
 * decide what a deleted one means for them.
 */
export function findTenant(deps: SubgraphDeps, ref: string): Promise<Tenant | null> {
  return deps.db.prisma.tenant.findFirst({ where: { OR: [{ id: ref }, { slug: ref }] } });
}

/**
 * The tenant an operation acts on, as the caller named it (see findTenant). The scope is checked first, then the principal's own tenant and project: naming
 * another tenant is TENANT_MISMATCH, never a way around isolation.
 */
export async function loadTenantFor(
  deps: SubgraphDeps,
  principal: Principal | null,
  idOrSlug: string,
  scope: Scope,
): Promise<Tenant> {
  const caller = requireScope(principal, scope);
  const tenant = await findTenant(deps, idOrSlug);
  if (!tenant || tenant.status === 'deleted') {
    throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: idOrSlug });
  }
  assertTenantAccess(caller, tenant);
  return tenant;
}
