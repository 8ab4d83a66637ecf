import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'password',
  'token',
  'secret',
  'apiKey',
  'api_key',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'mfaCode',
  'mfa_code',
  'backupCodes',
  'backup_codes',
];

/** Paths that may carry secrets anywhere in a log line (top level and two levels down); pino replaces them before writing. */
const REDACT = [
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-principal"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-principal"]',
  'connectionParams.authorization',
  'connectionParams.token',
];

export function createLogger(options: {
  level: string;
  pretty?: boolean;
  name?: string;
  /** Default stdout; tests pass a stream to read what would be written. */
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
