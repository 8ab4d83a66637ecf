import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { Kind } from 'graphql';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { GatewayContext } from '../context.js';
import { computeRetryAfter, resolveRateLimitKey, type RateLimiter } from '../pipeline/rate-limit.js';

/**
 * Mutations that take a password, a code or a one-time token: the ones worth guessing at. The
 * REST routes that run them spend the documented auth allowance already (platform-forge 20 per
 * minute); this plugin gives /graphql the same, so GraphQL is not the cheaper door for guessing.
 */
export const SIGN_IN_FIELDS: ReadonlySet<string> = new Set([
  'login',
  'register',
  'refreshSession',
  'loginAccount',
  'signupAccount',
  'enableMfa',
  'verifyMfa',
  'completeOidcLogin',
  'completeSamlLogin',
]);

export function createSignInRateLimitPlugin(options: {
  limiter: RateLimiter;
  logger: Logger;
}): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          // REST routes were limited by their own policy before the operation ran.
          if (contextValue.viaRest || operation?.operation !== 'mutation') return;
          const signIn = operation.selectionSet.selections.some(
            (selection) => selection.kind === Kind.FIELD && SIGN_IN_FIELDS.has(selection.name.value),
          );
          if (!signIn) return;
          const key = resolveRateLimitKey(contextValue.principal, contextValue.client.ip ?? 'unknown');
          let result;
          try {
            result = await options.limiter.consume(key);
          } catch (error) {
            // Fail open, as the other limits do: lockout and threat blocks still stand behind it.
            options.logger.warn({ err: error, requestId: contextValue.requestId }, 'sign-in rate limiter unavailable');
            return;
          }
          if (result.allowed) return;
          const retryAfter = computeRetryAfter(result);
          const error = new AppError('RATE_LIMIT_EXCEEDED', `Rate limit exceeded: retry after ${retryAfter} seconds`, {
            limit: result.limit,
            retry_after_seconds: retryAfter,
          }).toGraphQLError();
          error.extensions.http = { status: 429, headers: new HeaderMap([['retry-after', String(retryAfter)]]) };
          throw error;
        },
      };
    },
  };
}
