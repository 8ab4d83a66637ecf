import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { Cache } from '../../lib/runtime/kv.js';

/**
 * `Idempotency-Key` on every REST POST, with Stripe's semantics: the first request with a key runs
 * and its answer (status and body) is kept for 24 hours; the same key with the same request gets
 * that answer again without the work running twice (`Idempotent-Replayed: true`); the same key with
 * a different request is IDEMPOTENCY_KEY_REUSED (422); the same key while the first request still
 * runs is IDEMPOTENCY_KEY_IN_USE (409). Keys belong to the caller (its principal, or its address
 * when anonymous), so one caller's key never replays another's answer.
 *
 * Kept in the KV store (Redis in production, so every gateway replica sees it; memory embedded).
 * An answer of 5xx is not kept: the work may not have happened, and a retry must be able to run.
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/**
 * How long a started request holds its key. Longer than any request may run (the gateway's
 * timeout), so a crash mid-request frees the key after a while instead of answering 409 for a day.
 */
export const IDEMPOTENCY_LOCK_SECONDS = 120;
/** Answers larger than this are not kept (the key is released): the store is not a blob cache. */
const MAX_STORED_BYTES = 1024 * 1024;
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

interface Running {
  state: 'running';
  fingerprint: string;
}
interface Done {
  state: 'done';
  fingerprint: string;
  status: number;
  body: unknown;
}

export type IdempotencyOutcome =
  | { kind: 'replay'; status: number; body: unknown }
  | {
      kind: 'claimed';
      /** Keeps the answer for replays (or releases the key for a 5xx). */
      complete(status: number, body: unknown): Promise<void>;
      /** Frees the key without keeping anything (an answer that is not JSON, e.g. a redirect). */
      release(): Promise<void>;
    };

export interface Idempotency {
  /** Null when the request carries no key or is not a POST: it runs as usual. */
  begin(args: {
    req: IncomingMessage;
    method: string;
    /** Path and query as sent: the same key on another endpoint is a different request. */
    target: string;
    principal: Principal | null;
    clientIp: string;
    rawBody: string | undefined;
  }): Promise<IdempotencyOutcome | null>;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function createIdempotency(options: { cache: Cache; logger: Logger; ttlSeconds?: number }): Idempotency {
  const { cache } = options;
  const logger = options.logger.child({ component: 'idempotency' });
  const ttlSeconds = options.ttlSeconds ?? IDEMPOTENCY_TTL_SECONDS;

  return {
    async begin({ req, method, target, principal, clientIp, rawBody }) {
      if (method !== 'POST') return null;
      const header = req.headers[IDEMPOTENCY_HEADER];
      if (header === undefined) return null;
      const key = Array.isArray(header) ? header[0]! : header;
      if (!KEY_FORMAT.test(key)) {
        throw new AppError('VALIDATION_ERROR', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
      }
      const owner = principal ? `${principal.kind}:${principal.id}` : `anonymous:${clientIp}`;
      const storeKey = `idempotency:${sha256(`${owner}\n${key}`)}`;
      const fingerprint = sha256(`${method} ${target}\n${rawBody ?? ''}`);

      const running: Running = { state: 'running', fingerprint };
      if (!(await cache.setIfAbsent(storeKey, JSON.stringify(running), IDEMPOTENCY_LOCK_SECONDS))) {
        const raw = await cache.get(storeKey);
        // Gone between the two calls (expired or released): the caller may simply retry.
        if (raw === null) {
          throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key just finished; retry');
        }
        const stored = JSON.parse(raw) as Running | Done;
        if (stored.fingerprint !== fingerprint) {
          throw new AppError(
            'IDEMPOTENCY_KEY_REUSED',
            'This Idempotency-Key was used with a different request (method, path or body); use a new key',
          );
        }
        if (stored.state === 'running') {
          throw new AppError(
            'IDEMPOTENCY_KEY_IN_USE',
            'A request with this Idempotency-Key is still running; retry once it has finished',
          );
        }
        return { kind: 'replay', status: stored.status, body: stored.body };
      }

      const release = async () => {
        await cache
          .del(storeKey)
          .catch((error: unknown) => logger.warn({ err: error }, 'idempotency key not released'));
      };
      return {
        kind: 'claimed',
        release,
        async complete(status, body) {
          const done: Done = { state: 'done', fingerprint, status, body };
          const json = JSON.stringify(done);
          if (status >= 500 || json.length > MAX_STORED_BYTES) return release();
          await cache.set(storeKey, json, ttlSeconds).catch((error: unknown) => {
            // The work happened; only its replay is lost, so the answer still goes out.
            logger.error({ err: error }, 'idempotent answer not stored');
          });
        },
      };
    },
  };
}
