import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import { GATEWAY_PRINCIPAL, type Principal } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import {
  REFUSED_TENANT_STATUSES,
  TENANT_STATUS_CHANNEL,
  tenantStatusKey,
  tenantStatusMessage,
} from '../../subgraphs/tenancy/contract.js';
import type { Gateway } from '../server.js';
import type { Authenticate } from './authenticate.js';

/**
 * Tenant lifecycle at the gateway: a principal bound to a suspended or deleted tenant is refused
 * with TENANT_SUSPENDED before any subgraph sees the request, on REST and GraphQL alike (both
 * authenticate through createGatewayAuthenticator, which wraps its result with this).
 *
 * The status comes from kv (`tenant:status:<id>`, written by tenancy on every change) and is kept
 * in this gateway's memory for a short while; tenancy publishes every change and every gateway
 * drops its entry at once, so a suspension takes effect on the next request. When kv has no
 * entry the gateway asks tenancy (as its own service principal). A tenant tenancy does not know
 * is not refused: there is no lifecycle to enforce for it.
 */

export const TENANT_STATUS_QUERY = /* GraphQL */ `
  query TenantLifecycleStatus($id: ID!) {
    tenantLifecycleStatus(id: $id)
  }
`;

export const TENANT_STATUS_CACHE_TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;
const RESUBSCRIBE_AFTER_MS = 5_000;

interface Entry {
  status: string | null;
  expiresAt: number;
}

export interface TenantStatusGuardOptions {
  execute: Gateway['execute'];
  kv: Kv;
  logger: Logger;
  ttlMs?: number;
}

/** Throws TENANT_SUSPENDED for a principal whose tenant is suspended or deleted; otherwise returns. */
export type TenantStatusGuard = (principal: Principal) => Promise<void>;

export function createTenantStatusGuard(options: TenantStatusGuardOptions): TenantStatusGuard {
  const { execute, kv } = options;
  const logger = options.logger.child({ component: 'tenant-status' });
  const ttlMs = options.ttlMs ?? TENANT_STATUS_CACHE_TTL_MS;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<string | null>>();
  /** Bumped by every announced change: a lookup that started before it must not cache its answer. */
  const changes = new Map<string, number>();
  let changeCounter = 0;

  const onChange = (message: string) => {
    let parsed;
    try {
      parsed = tenantStatusMessage.safeParse(JSON.parse(message));
    } catch {
      return;
    }
    if (!parsed.success) return;
    cache.delete(parsed.data.id);
    changes.set(parsed.data.id, ++changeCounter);
    if (changes.size > MAX_ENTRIES) changes.delete(changes.keys().next().value!);
  };

  let subscription: Promise<boolean> | null = null;
  let failedAt = 0;
  const subscribed = (): Promise<boolean> => {
    if (subscription === null && Date.now() - failedAt >= RESUBSCRIBE_AFTER_MS) {
      subscription = kv.pubsub.subscribe(TENANT_STATUS_CHANNEL, onChange).then(
        () => true,
        (error: unknown) => {
          logger.warn(
            { err: error },
            'cannot subscribe to tenant status changes: statuses are not cached until it works',
          );
          failedAt = Date.now();
          subscription = null;
          return false;
        },
      );
    }
    return subscription ?? Promise.resolve(false);
  };
  void subscribed();

  const askTenancy = async (tenantId: string): Promise<string | null> => {
    const result = await execute({
      document: TENANT_STATUS_QUERY,
      variables: { id: tenantId },
      principal: GATEWAY_PRINCIPAL,
      requestId: newId('auth'),
    });
    if (result.errors?.length || !result.data) {
      logger.error({ errors: result.errors }, 'tenant status lookup through tenancy failed');
      // Fail closed: a suspension must not lapse because tenancy is briefly unreachable.
      throw new AppError('SERVICE_UNAVAILABLE', 'Tenant status cannot be verified right now');
    }
    return (result.data as { tenantLifecycleStatus: string | null }).tenantLifecycleStatus;
  };

  const lookup = async (tenantId: string): Promise<string | null> => {
    const live = subscribed();
    const before = changes.get(tenantId) ?? 0;
    let status: string | null = null;
    try {
      status = await kv.cache.get(tenantStatusKey(tenantId));
    } catch (error) {
      logger.warn({ err: error }, 'kv unavailable for tenant status: asking tenancy');
    }
    status ??= await askTenancy(tenantId);
    if ((await live) && (changes.get(tenantId) ?? 0) === before) {
      cache.set(tenantId, { status, expiresAt: Date.now() + ttlMs });
      while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    }
    return status;
  };

  return async (principal) => {
    const tenantId = principal.tenantId;
    if (tenantId === null) return;
    const cached = cache.get(tenantId);
    let status: string | null;
    if (cached && cached.expiresAt > Date.now()) {
      status = cached.status;
    } else {
      let pending = inFlight.get(tenantId);
      if (!pending) {
        pending = lookup(tenantId).finally(() => inFlight.delete(tenantId));
        inFlight.set(tenantId, pending);
      }
      status = await pending;
    }
    if (status !== null && REFUSED_TENANT_STATUSES.has(status)) {
      throw new AppError(
        'TENANT_SUSPENDED',
        status === 'deleted' ? 'This tenant has been deleted' : 'This tenant is suspended',
        { tenant_id: tenantId, tenant_status: status },
      );
    }
  };
}

/** The authenticator, then the tenant's lifecycle check for the principal it found. */
export function withTenantStatus(authenticate: Authenticate, guard: TenantStatusGuard): Authenticate {
  return async (headers) => {
    const principal = await authenticate(headers);
    if (principal) await guard(principal);
    return principal;
  };
}
