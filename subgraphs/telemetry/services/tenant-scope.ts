import { AppError, appErrorFromGraphQL } from '../../../lib/errors.js';
import { TELEMETRY_SERVICE_PRINCIPAL, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/**
 * The tenant a telemetry read, write or subscription acts on, decided from the principal:
 * - a caller bound to a tenant: its own (naming another is TENANT_MISMATCH);
 * - a project's caller (a tenantsdb API key): a tenant its project owns, by id or slug, asked of
 *   tenancy, which owns that record (another project's tenant is TENANT_MISMATCH, a suspended one
 *   TENANT_SUSPENDED); the answer is the tenant's id, whatever the caller typed;
 * - the operator: the tenant it names.
 * Asked on every call rather than cached: a deleted or moved tenant stops at once, and it costs one
 * indexed lookup per request or batch, not per event.
 */
export async function telemetryTenant(
  deps: SubgraphDeps,
  principal: Principal,
  requested: string | null | undefined,
): Promise<string> {
  if (principal.tenantId !== null || principal.projectId === null || principal.kind === 'operator') {
    return tenantScopeFor(principal, requested);
  }
  if (!requested) throw new AppError('VALIDATION_ERROR', 'tenantId is required for a caller not bound to a tenant');
  const owner = await tenantOwnership(deps, requested);
  if (!owner) throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: requested });
  if (owner.projectId !== principal.projectId) {
    throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: requested });
  }
  if (owner.suspended) {
    throw new AppError('TENANT_SUSPENDED', 'The tenant is suspended', { tenant_id: owner.id });
  }
  return owner.id;
}

/** As telemetryTenant, except that the operator may name no tenant: every tenant's messages (subscriptions). */
export async function telemetrySubscriptionTenant(
  deps: SubgraphDeps,
  principal: Principal,
  requested: string | null | undefined,
): Promise<string | null> {
  if (principal.kind === 'operator' && principal.tenantId === null) return requested ?? null;
  return telemetryTenant(deps, principal, requested);
}

const OWNERSHIP = /* GraphQL */ `
  query TelemetryTenantOwnership($tenant: ID!) {
    tenantOwnership(tenant: $tenant) {
      id
      projectId
      suspended
    }
  }
`;

async function tenantOwnership(
  deps: SubgraphDeps,
  tenant: string,
): Promise<{ id: string; projectId: string | null; suspended: boolean } | null> {
  if (!deps.subgraphs) throw new AppError('SERVICE_UNAVAILABLE', 'tenancy is not reachable from telemetry here');
  const answer = await deps.subgraphs.call<{
    tenantOwnership: { id: string; projectId: string | null; suspended: boolean } | null;
  }>('tenancy', { document: OWNERSHIP, variables: { tenant }, principal: TELEMETRY_SERVICE_PRINCIPAL });
  if (answer.errors?.[0]) throw appErrorFromGraphQL(answer.errors[0]);
  return answer.data?.tenantOwnership ?? null;
}
