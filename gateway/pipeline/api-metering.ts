import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { countApiCall, PLAN_LIMITS_CHANNEL, readPlanLimits } from '../../lib/plan-limits.js';
import type { Principal } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import type { Authenticate } from './authenticate.js';

/**
 * API calls per tenant per UTC day: every request of a principal bound to a tenant, REST and
 * GraphQL alike, counts once (one atomic INCR in Redis, or the in-memory counter embedded), and
 * beyond the plan's `api_calls_per_day` it is refused with LIMIT_EXCEEDED (429) until midnight UTC.
 * The counter is what GET /api/tenants/{id} shows and what billing reports to Stripe.
 *
 * The limit comes from the plan-limits record billing writes (lib/plan-limits.ts), kept here for a
 * short while; billing announces every change and each gateway drops its copy at once.
 */

export const PLAN_LIMITS_CACHE_TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;

export type ApiMeter = (principal: Principal) => Promise<void>;

function secondsToUtcMidnight(now: Date): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.ceil((midnight - now.getTime()) / 1000);
}

export function createApiMeter(options: { kv: Kv; logger: Logger; ttlMs?: number }): ApiMeter {
  const { kv } = options;
  const logger = options.logger.child({ component: 'api-metering' });
  const ttlMs = options.ttlMs ?? PLAN_LIMITS_CACHE_TTL_MS;
  const limits = new Map<string, { perDay: number | null; expiresAt: number }>();
  let live = false;
  kv.pubsub
    .subscribe(PLAN_LIMITS_CHANNEL, (tenantId) => limits.delete(tenantId))
    .then(() => (live = true))
    .catch((error: unknown) => logger.warn({ err: error }, 'no plan-limit change notices: limits are read every time'));

  const dailyLimit = async (tenantId: string): Promise<number | null> => {
    const cached = limits.get(tenantId);
    if (cached && cached.expiresAt > Date.now()) return cached.perDay;
    const perDay = (await readPlanLimits(kv.cache, tenantId))?.api_calls_per_day ?? null;
    // Without change notices a cached limit could outlive a plan change: then nothing is cached.
    if (live) {
      limits.set(tenantId, { perDay, expiresAt: Date.now() + ttlMs });
      while (limits.size > MAX_ENTRIES) limits.delete(limits.keys().next().value!);
    }
    return perDay;
  };

  return async (principal) => {
    const tenantId = principal.tenantId;
    if (tenantId === null) return;
    const now = new Date();
    let count: number;
    let perDay: number | null;
    try {
      [count, perDay] = await Promise.all([countApiCall(kv.cache, tenantId, now), dailyLimit(tenantId)]);
    } catch (error) {
      // Metering must not take the API down with the store: the call goes through uncounted.
      logger.error({ err: error, tenantId }, 'API call not metered: kv unavailable');
      return;
    }
    if (perDay !== null && count > perDay) {
      throw new AppError('LIMIT_EXCEEDED', `This tenant's plan allows ${perDay} API calls per day`, {
        limit: 'api_calls_per_day',
        allowed: perDay,
        used: count - 1,
        retry_after_seconds: secondsToUtcMidnight(now),
      });
    }
  };
}

/** The authenticator, then one metered call for the tenant of the principal it found. */
export function withApiMetering(authenticate: Authenticate, meter: ApiMeter): Authenticate {
  return async (headers) => {
    const principal = await authenticate(headers);
    if (principal) await meter(principal);
    return principal;
  };
}
