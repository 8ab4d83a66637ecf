import { z } from 'zod';
import type { Kv } from './runtime/kv.js';
import type { Cache } from './runtime/kv.js';

/**
 * A tenant's plan limits and its metered API calls, as a small record in the shared KV store
 * (Redis in production, memory embedded). Billing owns plans and subscriptions and writes the
 * record whenever a tenant's subscription changes (and again at start-up); the gateway (API calls
 * per day) and identity (users) read it where the work happens, without reaching into billing's
 * tables or calling billing on every request. No record: no plan, so no limit.
 */

export const planLimitsSchema = z.object({
  users: z.number().int().min(0).optional(),
  storage_gb: z.number().min(0).optional(),
  api_calls_per_day: z.number().int().min(0).optional(),
});
export type PlanLimits = z.infer<typeof planLimitsSchema>;

const limitsKey = (tenantId: string) => `plan-limits:${tenantId}`;

/** Carries the tenant id whose limits changed, so readers holding a copy drop it at once. */
export const PLAN_LIMITS_CHANNEL = 'plan-limits:changed';

/** Billing only: the limits of the tenant's current plan, or null when it has none. */
export async function writePlanLimits(kv: Kv, tenantId: string, limits: PlanLimits | null): Promise<void> {
  if (limits === null) await kv.cache.del(limitsKey(tenantId));
  else await kv.cache.set(limitsKey(tenantId), JSON.stringify(limits));
  await kv.pubsub.publish(PLAN_LIMITS_CHANNEL, tenantId);
}

export async function readPlanLimits(cache: Cache, tenantId: string): Promise<PlanLimits | null> {
  const raw = await cache.get(limitsKey(tenantId));
  if (raw === null) return null;
  const parsed = planLimitsSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : null;
}

/** UTC day, YYYY-MM-DD: the metering period of API calls per day. */
export function utcDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

const apiCallsKey = (tenantId: string, day: string) => `usage:api-calls:${tenantId}:${day}`;

/** Two days: the day itself plus time for the usage report job to read a finished day. */
const API_CALLS_TTL_SECONDS = 2 * 24 * 3600;

/** Counts one API call of the tenant today (the gateway, per request); returns today's count. */
export function countApiCall(cache: Cache, tenantId: string, at: Date = new Date()): Promise<number> {
  return cache.increment(apiCallsKey(tenantId, utcDay(at)), API_CALLS_TTL_SECONDS);
}

export async function readApiCalls(cache: Cache, tenantId: string, day: string = utcDay()): Promise<number> {
  return Number((await cache.get(apiCallsKey(tenantId, day))) ?? 0);
}
