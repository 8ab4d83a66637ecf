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

/** How far the error tree (cause, meta, driverAdapterError) is searched for a SQLSTATE. */
const MAX_ERROR_DEPTH = 6;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * The SQLSTATE and message of a PostgreSQL "data exception" (class 22: invalid byte sequence
 * 22021, untranslatable character 22P05, invalid text representation 22P02, value too long 22001,
 * out of range 22003, ...) anywhere in an error: pg and PGlite put it on `code`, Prisma's driver
 * adapters on `cause.originalCode` inside `meta.driverAdapterError`.
 */
export function findDataException(error: unknown): { sqlstate: string; message?: string } | undefined {
  const seen = new Set<unknown>();
  const visit = (node: unknown, depth: number): { sqlstate: string; message?: string } | undefined => {
    if (typeof node !== 'object' || node === null || depth > MAX_ERROR_DEPTH || seen.has(node)) return undefined;
    seen.add(node);
    const record = node as Record<string, unknown>;
    for (const key of ['originalCode', 'code'] as const) {
      const code = record[key];
      if (typeof code === 'string' && SQLSTATE.test(code) && code.startsWith('22')) {
        const message = record.originalMessage ?? record.message;
        return { sqlstate: code, ...(typeof message === 'string' ? { message } : {}) };
      }
    }
    for (const key of ['cause', 'meta', 'driverAdapterError', 'originalError']) {
      const found = visit(record[key], depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return visit(error, 0);
}

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
    // A value the database cannot store or read (NUL in text, a malformed number): the caller's
    // input, so a 400 that says so rather than a masked 500. The message is PostgreSQL's, about
    // the value the caller sent; the statement is not shown.
    const dataException = findDataException(original);
    if (dataException) {
      logger.warn({ err: original, sqlstate: dataException.sqlstate }, 'database refused an input value');
      return {
        message: `Invalid input value${dataException.message ? `: ${dataException.message}` : ''}`,
        path: formatted.path,
        extensions: { code: 'VALIDATION_ERROR', details: { sqlstate: dataException.sqlstate } },
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
