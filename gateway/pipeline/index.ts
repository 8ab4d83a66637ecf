import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.js';
import type { ClientInfo, Principal } from '../../lib/principal.js';
import type { Authenticate } from './authenticate.js';
import {
  createPolicyLimiters,
  enforceRateLimit,
  resolveRateLimitKey,
  type RateLimiter,
  type RateLimiterFactory,
  type RateLimitOverrides,
  type RateLimitPolicyName,
} from './rate-limit.js';

/** Who is calling, as every entry point of the gateway sees it. */
export interface Caller {
  requestId: string;
  /** Always an address here (the socket's peer at worst), so limits can key on it. */
  client: ClientInfo & { ip: string };
  principal: Principal | null;
}

/**
 * The one way a request enters the gateway, for /graphql, the REST routes and the SSO callbacks
 * alike: request id → client address → authenticate → rate limit. One sequence, so no door is a
 * cheaper place to guess credentials or to skip a limit than another.
 */
export interface RequestPipeline {
  /**
   * Runs the steps for one request. A bad credential is thrown only after the caller's allowance of
   * `policy` is spent, so guessing keys costs the guesser. `anonymous`: the entry point never reads
   * a credential (an SSO callback learns who the user is from the IdP's verified answer).
   */
  admit(
    req: IncomingMessage,
    res: ServerResponse,
    step: { requestId: string; policy: RateLimitPolicyName; anonymous?: boolean },
  ): Promise<Caller>;
  /** Who a set of headers names (null: no credential); throws for a bad one. graphql-ws init uses it too. */
  readonly authenticate: Authenticate;
  /** The limiter of a policy, for limits spent inside an operation (sign-in mutations at /graphql). */
  limiter(policy: RateLimitPolicyName): RateLimiter;
  clientIp(req: IncomingMessage): string;
  /** False: limits are not enforced (tests and benchmarks that measure something else). */
  readonly rateLimitEnabled: boolean;
  /** The tenant of the principal admitted for this request (null: none, or not admitted yet): labels its metrics. */
  tenantOf(req: IncomingMessage): string | null;
  readonly logger: Logger;
}

export interface RequestPipelineOptions {
  authenticate: Authenticate;
  rateLimiter: RateLimiterFactory;
  logger: Logger;
  /** Default true. */
  rateLimitEnabled?: boolean;
  /** Replaces documented limits, so tests reach a 429 in a few requests. */
  policies?: RateLimitOverrides;
  /** The caller's address (client-ip.ts, with trusted proxies); default the socket's peer. */
  clientIp?: (req: IncomingMessage) => string;
}

export function createRequestPipeline(options: RequestPipelineOptions): RequestPipeline {
  const { authenticate, logger } = options;
  const limiter = createPolicyLimiters(options.rateLimiter, options.policies);
  const rateLimitEnabled = options.rateLimitEnabled ?? true;
  const clientIp = options.clientIp ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown');
  const admittedTenants = new WeakMap<IncomingMessage, string>();
  return {
    tenantOf: (req) => admittedTenants.get(req) ?? null,
    authenticate,
    limiter,
    clientIp,
    rateLimitEnabled,
    logger,
    async admit(req, res, { requestId, policy, anonymous = false }) {
      res.setHeader('X-Request-Id', requestId);
      const client = { ip: clientIp(req), userAgent: req.headers['user-agent'] ?? null };
      let principal: Principal | null = null;
      let authError: unknown;
      if (!anonymous) {
        try {
          principal = await authenticate(req.headers);
        } catch (error) {
          authError = error;
        }
      }
      if (rateLimitEnabled) {
        const key = resolveRateLimitKey(principal, client.ip);
        await enforceRateLimit({ limiter: limiter(policy), key, res, logger, requestId });
      }
      if (authError !== undefined) throw authError;
      if (principal?.tenantId) admittedTenants.set(req, principal.tenantId);
      return { requestId, client, principal };
    },
  };
}
