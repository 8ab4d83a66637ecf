import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimiter, RateLimitPolicy } from '../kv.js';

/** Rate-limit counters live under `<prefix>rl:<policy name>`. */
export const RATE_LIMIT_NAMESPACE = 'rl:';

/** One limiter per policy name, whichever backend builds it. */
export function createLimiterRegistry(build: (policy: RateLimitPolicy) => RateLimiterAbstract) {
  const limiters = new Map<string, RateLimiter>();
  return {
    get(policy: RateLimitPolicy): RateLimiter {
      const existing = limiters.get(policy.name);
      if (existing) {
        // Two policies under one name would share counters while disagreeing on the limit.
        if (existing.policy.points !== policy.points || existing.policy.durationSeconds !== policy.durationSeconds) {
          throw new Error(`Rate limit policy "${policy.name}" is already defined with different points or duration`);
        }
        return existing;
      }
      validatePolicy(policy);
      const frozen = Object.freeze({ ...policy });
      const limiter = build(frozen);
      const created: RateLimiter = {
        policy: frozen,
        async consume(key) {
          let res: RateLimiterRes;
          let allowed = true;
          try {
            res = await limiter.consume(key, 1);
          } catch (rejection) {
            // rate-limiter-flexible rejects with a RateLimiterRes when over the limit, an Error when the store fails.
            if (!(rejection instanceof RateLimiterRes)) throw rejection;
            res = rejection;
            allowed = false;
          }
          return {
            allowed,
            limit: frozen.points,
            remaining: Math.max(0, res.remainingPoints),
            resetAt: new Date(Date.now() + Math.max(0, res.msBeforeNext)),
          };
        },
      };
      limiters.set(policy.name, created);
      return created;
    },
  };
}

function validatePolicy(policy: RateLimitPolicy): void {
  if (!policy.name) throw new Error('Rate limit policy needs a name');
  if (!Number.isInteger(policy.points) || policy.points < 1) {
    throw new Error(`Rate limit policy "${policy.name}": points must be a positive integer`);
  }
  // rate-limiter-flexible stores whole seconds in Redis, and 0 would mean a window that never resets.
  if (!Number.isInteger(policy.durationSeconds) || policy.durationSeconds < 1) {
    throw new Error(`Rate limit policy "${policy.name}": durationSeconds must be a positive integer`);
  }
}
