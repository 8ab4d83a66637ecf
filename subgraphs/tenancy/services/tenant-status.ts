import { z } from 'zod';
import type { Logger } from '../../../lib/logger.js';
import type { Kv } from '../../../lib/runtime/kv.js';

/**
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

/**
 * Records and announces a status change. Called after the database commit: the row is the truth,
 * this is the notice. A failure here is logged, not thrown, since the change itself happened;
 * the gateway's cache entries expire on their own within their TTL.
 */
export async function announceTenantStatus(
  kv: Kv,
  logger: Logger,
  tenant: { id: string; status: string },
): Promise<void> {
  try {
    await kv.cache.set(tenantStatusKey(tenant.id), tenant.status);
    await kv.pubsub.publish(TENANT_STATUS_CHANNEL, JSON.stringify({ id: tenant.id, status: tenant.status }));
  } catch (error) {
    logger.error({ err: error, tenantId: tenant.id, status: tenant.status }, 'could not announce tenant status');
  }
}
