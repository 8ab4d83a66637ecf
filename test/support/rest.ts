import { randomBytes } from 'node:crypto';
import type { TadaDocumentNode } from 'gql.tada';
import { parse } from 'graphql';
import { expect } from 'vitest';
import type { DialectName } from '../../gateway/rest/dialects.js';

// The helpers every REST and end-to-end suite shares: a client address of its own, the error
// envelope each dialect documents, and waiting for background work the way a client would (poll).

let addressCounter = 0;

/**
 * A fresh documentation-range address (RFC 3849) per call, sent as X-Forwarded-For from loopback.
 * Random, not counted from zero: suites share one database with earlier runs, and sign-in threat
 * detection and rate limits remember an address's failures.
 */
export function uniqueClientIp(): string {
  addressCounter += 1;
  const hex = randomBytes(6).toString('hex');
  return `2001:db8:${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 12)}::${addressCounter.toString(16)}`;
}

/**
 * A test route's document: it selects fields the test's own `execute` answers, not the
 * supergraph's, so its result type is given here instead of read from the schema.
 */
export function testOperation<TData>(source: string): TadaDocumentNode<TData, Record<string, unknown>> {
  return parse(source) as unknown as TadaDocumentNode<TData, Record<string, unknown>>;
}

export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

// Bodies are checked by the assertions; typing each one would only restate them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** The error envelope each dialect documents (or, where undocumented, the one chosen in dialects.ts). */
export function expectDialectError(dialect: DialectName, body: Json, code: string): void {
  const error = { code, message: expect.any(String), details: expect.any(Object) };
  switch (dialect) {
    case 'core-platform':
      expect(body).toEqual({ status: 'error', error, request_id: expect.stringMatching(/^req_/) });
      break;
    case 'platform-forge':
      expect(body).toEqual({
        status: 'error',
        error,
        meta: { timestamp: expect.stringMatching(ISO_TIMESTAMP), request_id: expect.stringMatching(/^req_/) },
      });
      break;
    case 'nexus-core':
    case 'tenantsdb':
      expect(body).toEqual({ success: false, error });
      break;
    case 'cloudpioneer':
      expect(body).toEqual({ error, request_id: expect.stringMatching(/^req_/) });
      break;
  }
}

/** A REST answer's status and dialect error envelope in one assertion, the body in the failure message. */
export function expectRestError(
  dialect: DialectName,
  answer: { status: number; body: Json },
  status: number,
  code: string,
): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expectDialectError(dialect, answer.body, code);
}

/**
 * Polls until `probe` returns a value (not undefined), as a client of an asynchronous API would:
 * jobs finish after the response that started them, and the API offers no event to await.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
