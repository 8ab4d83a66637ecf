import type { Logger } from '../../../../lib/logger.js';
import type { Kv } from '../../../../lib/runtime/kv.js';
import { TENANT_STATUS_CHANNEL, tenantStatusKey } from '../../contract.js';

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
