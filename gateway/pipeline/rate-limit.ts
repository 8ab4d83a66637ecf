import type { ServerResponse } from 'node:http';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';

/**
 * The limiter contract the REST layer codes against. Declared here rather than imported from
 * lib/runtime/kv.ts so this layer only depends on the shape (kv's limiters satisfy it structurally).
 */
export interface RateLimitPolicy {
  name: string;
  points: number;
  durationSeconds: number;
}

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetAt: Date;
}

export interface RateLimiter {
  /** Over the limit is a result (allowed: false); a throw means the store failed. */
  consume(key: string): Promise<RateLimitResult>;
}

export type RateLimiterFactory = (policy: RateLimitPolicy) => RateLimiter;

type PolicyLimits = Pick<RateLimitPolicy, 'points' | 'durationSeconds'>;

const MINUTE = 60;
const HOUR = 3600;

/**
 * Every limit the dialects document, plus the ones chosen where a document names none. A route
 * picks one by name; otherwise its dialect's default applies.
 */
export const RATE_LIMIT_POLICIES = {
  // core-platform "Rate Limits" table. "System Health" is also the default for endpoints the
  // table does not name (metrics, status, tenants, schema): it is the doc's general-purpose row.
  'core-platform.system': { points: 1000, durationSeconds: MINUTE },
  'core-platform.database-query': { points: 100, durationSeconds: MINUTE },
  'core-platform.cache': { points: 500, durationSeconds: MINUTE },
  'core-platform.storage-upload': { points: 100, durationSeconds: MINUTE },
  'core-platform.secrets': { points: 50, durationSeconds: MINUTE },
  'core-platform.events-broadcast': { points: 200, durationSeconds: MINUTE },
  // platform-forge "Rate Limiting": per tenant.
  'platform-forge.default': { points: 1000, durationSeconds: HOUR },
  'platform-forge.auth': { points: 20, durationSeconds: MINUTE },
  'platform-forge.admin': { points: 100, durationSeconds: HOUR },
  // nexus-core documents no limit. Its endpoints are the same kind of system-operations reads as
  // core-platform's, so it gets the same 1000/minute.
  'nexus-core.default': { points: 1000, durationSeconds: MINUTE },
  // tenantsdb documents no limit. Per minute rather than per hour because its GET /health is
  // polled by load balancers keyed by address; an hourly window would trip a 5-second poller.
  'tenantsdb.default': { points: 1000, durationSeconds: MINUTE },
  // cloudpioneer "Rate Limiting": the free tier; tiers are not modelled yet.
  'cloudpioneer.default': { points: 1000, durationSeconds: HOUR },
  // GraphQL at /graphql: no document names one; the same as the system-operations dialects.
  'graphql.default': { points: 1000, durationSeconds: MINUTE },
  // Sign-in mutations at /graphql: the documented platform-forge auth limit, so GraphQL is not a
  // cheaper door for password guessing than the REST auth routes.
  'graphql.sign-in': { points: 20, durationSeconds: MINUTE },
} as const satisfies Record<string, PolicyLimits>;

export type RateLimitPolicyName = keyof typeof RATE_LIMIT_POLICIES;

export type RateLimitOverrides = Partial<Record<RateLimitPolicyName, PolicyLimits>>;

/**
 * Whose allowance a request spends: the tenant (platform-forge limits "per tenant"), else the
 * project, else the principal; anonymous callers by client address (see client-ip.ts for when
 * X-Forwarded-For is believed).
 */
export function resolveRateLimitKey(principal: Principal | null, clientIp: string): string {
  if (principal?.tenantId) return `tenant:${principal.tenantId}`;
  if (principal?.projectId) return `project:${principal.projectId}`;
  if (principal) return `principal:${principal.id}`;
  return `ip:${clientIp}`;
}

/**
 * Spends one point and sets the X-RateLimit-* headers; throws RATE_LIMIT_EXCEEDED (with
 * Retry-After set) when spent. The one enforcement for REST and /graphql alike.
 */
export async function enforceRateLimit(options: {
  limiter: RateLimiter;
  key: string;
  res: ServerResponse;
  logger: Logger;
  requestId: string;
}): Promise<void> {
  let result;
  try {
    result = await options.limiter.consume(options.key);
  } catch (error) {
    // Fail open: a broken limiter store must not take the API down with it.
    options.logger.warn({ err: error, requestId: options.requestId }, 'rate limiter unavailable; request let through');
    return;
  }
  for (const [name, value] of Object.entries(formatRateLimitHeaders(result))) options.res.setHeader(name, value);
  if (!result.allowed) {
    const retryAfter = computeRetryAfter(result);
    options.res.setHeader('Retry-After', String(retryAfter));
    throw new AppError('RATE_LIMIT_EXCEEDED', `Rate limit exceeded: retry after ${retryAfter} seconds`, {
      limit: result.limit,
      retry_after_seconds: retryAfter,
    });
  }
}

export function formatRateLimitHeaders(result: RateLimitResult): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(result.limit),
    'X-RateLimit-Remaining': String(Math.max(0, result.remaining)),
    'X-RateLimit-Reset': String(Math.ceil(result.resetAt.getTime() / 1000)),
  };
}

/** Whole seconds until the window reopens; never 0, which clients read as "retry at once". */
export function computeRetryAfter(result: RateLimitResult, now = Date.now()): number {
  return Math.max(1, Math.ceil((result.resetAt.getTime() - now) / 1000));
}

/** One limiter per policy for the handler's lifetime, with test overrides applied. */
export function createPolicyLimiters(
  factory: RateLimiterFactory,
  overrides: RateLimitOverrides = {},
): (name: RateLimitPolicyName) => RateLimiter {
  const limiters = new Map<RateLimitPolicyName, RateLimiter>();
  return (name) => {
    let limiter = limiters.get(name);
    if (!limiter) {
      limiter = factory({ name, ...RATE_LIMIT_POLICIES[name], ...overrides[name] });
      limiters.set(name, limiter);
    }
    return limiter;
  };
}
