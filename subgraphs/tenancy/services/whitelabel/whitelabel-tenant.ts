import { AppError } from '../../../../lib/errors.js';
import type { Principal } from '../../../../lib/principal.js';
import type { Scope } from '../../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import type { Tenant } from '../../../../prisma/generated/client.js';
import { loadTenantFor } from '../tenants/tenant-access.js';

/** The tenant a whitelabel operation acts on: the caller's own, or (operators, project keys) the one named. */
export async function whitelabelTenant(
  deps: SubgraphDeps,
  principal: Principal | null,
  given: string | null | undefined,
  scope: Scope,
): Promise<Tenant> {
  const ref = given ?? principal?.tenantId ?? null;
  if (!ref) throw new AppError('VALIDATION_ERROR', 'tenant_id is required for a caller not bound to a tenant');
  return loadTenantFor(deps, principal, ref, scope);
}
