import { AppError } from '../../../lib/errors.js';
import type { Principal } from '../../../lib/principal.js';

/** The owner of the operator's own files and secrets. */
export const PLATFORM_OWNER = 'platform';

const TENANT_ID = /^[A-Za-z0-9][\w-]{0,63}$/;

/**
 * Whose storage and secrets a call touches, from the principal alone: a tenant-bound caller its
 * own tenant (naming another is TENANT_MISMATCH); a project-bound caller its project's own space
 * (it cannot name a tenant: whether that tenant is the project's is tenancy's knowledge); the
 * operator the platform's space, or a tenant it names.
 */
export function resolveOwner(principal: Principal, requestedTenantId?: string | null): string {
  const requested = requestedTenantId ?? null;
  if (requested !== null && !TENANT_ID.test(requested)) {
    throw new AppError('VALIDATION_ERROR', 'Invalid tenant_id', { tenant_id: requested.slice(0, 80) });
  }
  if (principal.tenantId !== null) {
    if (requested !== null && requested !== principal.tenantId) {
      throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: requested });
    }
    return principal.tenantId;
  }
  if (principal.kind === 'operator') return requested ?? PLATFORM_OWNER;
  if (requested !== null) {
    throw new AppError('TENANT_MISMATCH', 'Only a caller bound to that tenant (or the operator) may act for it', {
      tenant_id: requested,
    });
  }
  if (principal.projectId !== null) return `project.${principal.projectId}`;
  throw new AppError('FORBIDDEN', 'This caller has no storage or secrets space');
}
