import { GraphQLError } from 'graphql';

/**
 * The one error model. Every code has exactly one HTTP status; subgraphs put the code on
 * `extensions.code`, and each REST dialect renders the same code in its own error shape.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_ERROR: 400,
  MALFORMED_JSON: 400,
  /** A GraphQL operation over one of the gateway's limits (tokens, aliases, depth, ...; details name it). */
  OPERATION_LIMIT_EXCEEDED: 400,
  /** A database type (workspaces) this deployment has no server for. */
  UNSUPPORTED_DATABASE: 400,
  /** A caller-named host the platform will not connect to (private, loopback, its own database…). */
  SOURCE_NOT_ALLOWED: 400,
  UNAUTHORIZED: 401,
  /** A card or payment the payment provider refused (Stripe card_error). */
  PAYMENT_FAILED: 402,
  /** Wrong email or password, or no such user: one answer, so accounts cannot be enumerated. */
  INVALID_CREDENTIALS: 401,
  TOKEN_EXPIRED: 401,
  /** A refresh token used twice: the whole session family is revoked. */
  TOKEN_REUSED: 401,
  MFA_REQUIRED: 401,
  INVALID_MFA_CODE: 401,
  FORBIDDEN: 403,
  TENANT_MISMATCH: 403,
  ACCOUNT_DISABLED: 403,
  /** The caller's tenant is suspended or deleted: refused at the gateway until it is resumed or restored. */
  TENANT_SUSPENDED: 403,
  REGISTRATION_CLOSED: 403,
  /** A temporary block placed by threat detection (ip or account). */
  ACCESS_BLOCKED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  /** Idempotency-Key: the first request with this key is still running. */
  IDEMPOTENCY_KEY_IN_USE: 409,
  PAYLOAD_TOO_LARGE: 413,
  /** Too many failed sign-ins: the account is locked for a while. */
  ACCOUNT_LOCKED: 423,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** Idempotency-Key: the key was first used with a different request. */
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMIT_EXCEEDED: 429,
  /** A plan limit (users, storage, API calls per day) is used up. */
  LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  /** A capability whose provider (SMS, SMTP) this deployment has not configured. */
  NOT_CONFIGURED: 501,
  /** A caller-named source could not be connected to: one answer for every cause, so it cannot probe ports. */
  SOURCE_UNREACHABLE: 502,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toGraphQLError(): GraphQLError {
    return new GraphQLError(this.message, {
      extensions: {
        code: this.code,
        http: { status: this.status },
        ...(this.details ? { details: this.details } : {}),
      },
    });
  }
}

/** Reads the AppError back out of a GraphQL error as it arrives at the gateway or a client. */
export function appErrorFromGraphQL(error: {
  message: string;
  extensions?: Record<string, unknown> | undefined;
}): AppError {
  const code = error.extensions?.code;
  const details = error.extensions?.details;
  if (isErrorCode(code)) {
    return new AppError(code, error.message, isRecord(details) ? details : undefined);
  }
  // Apollo's own codes for malformed operations.
  if (code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED' || code === 'BAD_USER_INPUT') {
    return new AppError('VALIDATION_ERROR', error.message);
  }
  return new AppError('INTERNAL_ERROR', 'Internal server error');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
