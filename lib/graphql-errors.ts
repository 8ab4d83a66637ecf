import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { AppError, isErrorCode } from './errors.js';
import type { Logger } from './logger.js';

/** Apollo's own codes describe the caller's mistake and are safe to show as they are. */
const CALLER_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * formatError for every Apollo Server here: AppErrors keep their code and details, caller mistakes
 * keep Apollo's message, anything else is logged with the request id and shown only as INTERNAL_ERROR.
 */
export function createErrorMasker(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: original.code, ...(original.details ? { details: original.details } : {}) },
      };
    }
    const code = formatted.extensions?.code;
    if (isErrorCode(code) || (typeof code === 'string' && CALLER_CODES.has(code))) {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    logger.error({ err: original }, 'unexpected error in resolver');
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_ERROR' } };
  };
}
