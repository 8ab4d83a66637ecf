import { AppError } from '../../../../lib/errors.js';
import { assertTenantAccess, requireScope, TENANT_OWNERSHIP_SCOPE, type Principal } from '../../../../lib/principal.js';
import type { Scope } from '../../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import type { Tenant } from '../../../../prisma/generated/client.js';
import { REFUSED_TENANT_STATUSES } from '../../contract.js';

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

export interface TenantOwnership {
  id: string;
  projectId: string | null;
  /** Refused like a suspended tenant's own callers are (REFUSED_TENANT_STATUSES). */
  suspended: boolean;
}

/**
 * Which project owns a tenant (by id or slug), for the telemetry subgraph deciding whether a
 * project's API key may act on that tenant's events. Telemetry's service principal only; null for
 * an unknown or deleted tenant.
 */
export async function tenantOwnership(
  deps: SubgraphDeps,
  principal: Principal | null,
  ref: string,
): Promise<TenantOwnership | null> {
  if (principal?.kind !== 'service' || !principal.scopes.includes(TENANT_OWNERSHIP_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Tenant ownership is read by the telemetry service only');
  }
  if (ref.length > 128) return null;
  const tenant = await findTenant(deps, ref);
  if (!tenant || tenant.status === 'deleted') return null;
  return { id: tenant.id, projectId: tenant.projectId, suspended: REFUSED_TENANT_STATUSES.has(tenant.status) };
}
