import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets anywhere in a log line; pino replaces them before writing. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-principal"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-principal"]',
  'connectionParams.authorization',
  'connectionParams.token',
];

export function createLogger(options: { level: string; pretty?: boolean; name?: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
