import { z } from 'zod';

/**
 * Tenancy's public contract: what other parts of the platform (the gateway) may rely on without
 * importing tenancy's services. Everything here is data — channel names, key formats, message
 * shapes — so a change to it is a change to the contract, visible in one small file.
 *
 * How the gateway learns a tenant's lifecycle status without asking tenancy on every request:
 * tenancy writes `tenant:status:<id>` on every change and publishes it on one channel; each
 * gateway keeps what it read in memory and drops an entry when a change for it arrives.
 */

export const TENANT_STATUSES = ['provisioning', 'active', 'suspended', 'deleted'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** Statuses whose tenant-bound callers the gateway refuses. */
export const REFUSED_TENANT_STATUSES: ReadonlySet<string> = new Set<TenantStatus>(['suspended', 'deleted']);

export const TENANT_STATUS_CHANNEL = 'tenant:status';

export function tenantStatusKey(tenantId: string): string {
  return `tenant:status:${tenantId}`;
}

export const tenantStatusMessage = z.object({ id: z.string(), status: z.enum(TENANT_STATUSES) });
