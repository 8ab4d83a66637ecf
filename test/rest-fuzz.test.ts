import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ENDPOINT_CATALOG } from '../gateway/rest/catalog.js';
import { attributeDialect, getDialect, type DialectName } from '../gateway/rest/dialects.js';
import { MAX_JSON_DEPTH, MAX_JSON_KEYS } from '../gateway/rest/input-guard.js';
import type { RestRoute } from '../gateway/rest/route.js';
import { allRoutes } from '../gateway/rest/routes/index.js';
import { bootPlatform, type TestPlatform } from './support/platform.js';

// Issue 8 part 9: malformed input must never be a 5xx. Every served route from the endpoint
// catalog is sent malformed JSON, wrong types, NUL and odd Unicode, huge and deep bodies and
// path traversal in its path parameters, as the operator (the caller that gets furthest in).
// The bar: no 5xx, and every 4xx in the route's dialect error shape.

interface Answer {
  status: number;
  body: string;
}

/** Raw HTTP: fetch would normalise `..` in paths and refuse some bodies; this sends bytes as given. */
function send(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: string | Buffer; contentType?: string } = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: 'close' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer 413 and close before an oversized body is written: the answer counts.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return;
      reject(error);
    });
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

interface Served {
  dialect: DialectName;
  method: string;
  path: string;
  route: RestRoute;
}

/** The catalog's endpoints that a route serves (the rest are reported by `npm run endpoints`). */
function servedEndpoints(): Served[] {
  const served: Served[] = [];
  for (const entry of ENDPOINT_CATALOG) {
    if (entry.method === 'WS') continue;
    const route = allRoutes.find(
      (r) =>
        r.method === entry.method &&
        r.path === entry.path &&
        (r.dialect === entry.dialect || (r.sharedWith ?? []).includes(entry.dialect)),
    );
    if (route) served.push({ dialect: entry.dialect, method: entry.method, path: entry.path, route });
  }
  return served;
}

/** Top-level body keys the route's schema names, so wrong types land on real fields. */
function bodyKeys(route: RestRoute): string[] {
  const schema = route.input?.body;
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  return ['name', 'id', 'parameters', 'query'];
}

const fill = (path: string, value: string) => path.replace(/\{\w+\}/g, value);

const PATH_VALUES = [
  '%00',
  'abc%00def',
  '..%2F..%2Fetc%2Fpasswd',
  '..',
  '%ED%A0%80', // a UTF-16 surrogate encoded as UTF-8: invalid
  '%E0%A4%A', // a cut-off escape
  '%F0%9F%92%A9',
  'x'.repeat(4000),
];

const QUERY_STRINGS = [
  '?limit=abc&page=-1&offset=1e400&limit=2&page[]=x',
  '?q=%00&search=a%00b&status=%00&name=%ED%A0%80',
  `?search=${'x'.repeat(4000)}&name=%F0%9F%92%A9`,
];

function deepArray(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Every malformed body for one route, as raw JSON text (or a non-JSON type). */
function bodyCases(route: RestRoute): Array<{ name: string; body: string; contentType?: string }> {
  const keys = bodyKeys(route);
  const each = (value: unknown) => JSON.stringify(Object.fromEntries(keys.map((k) => [k, value])));
  const manyKeys = JSON.stringify(
    Object.fromEntries(Array.from({ length: MAX_JSON_KEYS + 5 }, (_, i) => [`k${i}`, i])),
  );
  return [
    { name: 'truncated JSON', body: '{"a":' },
    { name: 'not JSON', body: "{'single': quotes}" },
    { name: 'array body', body: '[1,2,3]' },
    { name: 'null body', body: 'null' },
    { name: 'empty object', body: '{}' },
    { name: 'wrong type: objects', body: each({ $ne: 1 }) },
    { name: 'wrong type: numbers', body: each(1e20) },
    { name: 'wrong type: arrays', body: each(['x', 1, null]) },
    { name: 'NUL in strings', body: each('abc\u0000def') },
    { name: 'NUL in a key', body: JSON.stringify({ ['na\u0000me']: 'x' }) },
    { name: 'lone surrogate', body: `{${keys.map((k) => `"${k}":"a\\ud800b"`).join(',')}}` },
    { name: 'odd but valid unicode', body: each('\uFFFF\u202E\u{1F4A9}ñ\u200B') },
    { name: 'sql-ish text', body: each("'; DROP TABLE users; --") },
    { name: 'huge strings', body: each('x'.repeat(120_000)) },
    { name: 'deep nesting', body: `{${keys.map((k) => `"${k}":${deepArray(MAX_JSON_DEPTH + 50)}`).join(',')}}` },
    { name: 'very deep nesting', body: `{"parameters":${deepArray(20_000)}}` },
    { name: 'too many keys', body: manyKeys },
    { name: 'over 1 MB', body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }) },
    { name: 'text/plain', body: 'hello', contentType: 'text/plain' },
  ];
}

interface Finding {
  request: string;
  status: number;
  body: string;
}

/** Runs tasks a few at a time: PGlite is one session, more would only queue. */
async function pool<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

describe('REST fuzz: every served route, malformed input, no 5xx', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    // Rate limits off: a 429 would hide what the route itself answers.
    t = await bootPlatform({ rateLimitEnabled: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers every malformed request below 500, in the dialect error shape', async () => {
    const endpoints = servedEndpoints();
    // Every route in the table is reached through the catalog (none is undocumented).
    expect(new Set(endpoints.map((e) => e.route))).toEqual(new Set(allRoutes));
    const requests: Array<{
      label: string;
      dialect: DialectName;
      method: string;
      path: string;
      body?: string;
      contentType?: string;
      reportsHealth: boolean;
    }> = [];
    for (const e of endpoints) {
      const plain = fill(e.path, 'fuzz-id');
      const reportsHealth = e.route.statusFrom !== undefined;
      if (/\{\w+\}/.test(e.path)) {
        for (const value of PATH_VALUES) {
          requests.push({
            label: `path ${value.slice(0, 30)}`,
            dialect: e.route.dialect,
            method: e.method,
            path: fill(e.path, value),
            reportsHealth,
          });
        }
      }
      for (const query of QUERY_STRINGS) {
        requests.push({
          label: `query ${query.slice(0, 40)}`,
          dialect: e.route.dialect,
          method: e.method,
          path: `${plain}${query}`,
          reportsHealth,
        });
      }
      if (e.method !== 'GET') {
        for (const c of bodyCases(e.route)) {
          requests.push({
            label: c.name,
            dialect: e.route.dialect,
            method: e.method,
            path: plain,
            body: c.body,
            contentType: c.contentType,
            reportsHealth,
          });
        }
      }
    }

    const findings: Finding[] = [];
    const badShapes: Finding[] = [];
    const started = performance.now();
    const timings: Array<{ label: string; ms: number }> = [];
    await pool(requests, 6, async (r) => {
      const sent = performance.now();
      const answer = await send(t.url, r.method, r.path, {
        token: t.operatorKey,
        body: r.body,
        contentType: r.contentType,
      });
      const label = `${r.method} ${r.path.slice(0, 120)} [${r.label}]`;
      timings.push({ label, ms: performance.now() - sent });
      // 501 is a deliberate answer: a capability this deployment has not configured (mail, say);
      // a health route's 503 reports the platform's state, whatever the query string said.
      const deliberate = answer.status === 501 || (answer.status === 503 && r.reportsHealth);
      if (answer.status >= 500 && !deliberate) {
        findings.push({ request: label, status: answer.status, body: answer.body.slice(0, 300) });
        return;
      }
      if (answer.status >= 400 && answer.status < 500) {
        // A literal `..` is resolved by the client before sending (`/resources/../metrics` is sent as
        // `/metrics`): the path that arrives may belong to another dialect, whose shape then applies.
        const sentPath = new URL(r.path, 'http://fuzz.invalid').pathname;
        const dialect = sentPath === r.path.split('?')[0] ? r.dialect : attributeDialect(sentPath);
        const required = (getDialect(dialect).errorSchema.required ?? []) as string[];
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(answer.body) as Record<string, unknown>;
        } catch {
          // Not JSON: reported below as a bad shape.
        }
        const error = parsed.error as { code?: unknown; message?: unknown } | undefined;
        if (
          !required.every((k) => k in parsed) ||
          typeof error?.code !== 'string' ||
          typeof error.message !== 'string'
        ) {
          badShapes.push({ request: label, status: answer.status, body: answer.body.slice(0, 300) });
        }
      }
    });
    const slowest = timings.sort((a, b) => b.ms - a.ms).slice(0, 5);
    console.info(
      `REST fuzz: ${requests.length} requests in ${Math.round(performance.now() - started)} ms; slowest:\n` +
        slowest.map((s) => `  ${Math.round(s.ms)} ms ${s.label.slice(0, 160)}`).join('\n'),
    );
    expect(findings, JSON.stringify(findings.slice(0, 15), null, 2)).toEqual([]);
    expect(badShapes, JSON.stringify(badShapes.slice(0, 10), null, 2)).toEqual([]);
  }, 240_000);

  it('names the problem: NUL in a path id, a lone surrogate, deep parameters, too many keys', async () => {
    const nul = await send(t.url, 'GET', '/api/tenants/abc%00def', { token: t.operatorKey });
    expect(nul.status).toBe(400);
    expect(JSON.parse(nul.body)).toMatchObject({
      status: 'error',
      error: { code: 'validation_error', details: { fields: [{ in: 'params', path: 'tenant_id' }] } },
    });

    const surrogate = await send(t.url, 'POST', '/api/v1/auth/login', {
      body: '{"email":"a@b.test","password":"x\\udc00"}',
    });
    expect(surrogate.status).toBe(400);
    expect(JSON.parse(surrogate.body)).toMatchObject({
      status: 'error',
      error: { code: 'VALIDATION_ERROR', details: { fields: [{ in: 'body', path: 'password' }] } },
    });

    const deep = await send(t.url, 'POST', '/api/database/query', {
      token: t.operatorKey,
      body: `{"query":"select $1","parameters":${deepArray(10_000)}}`,
    });
    expect(deep.status).toBe(400);
    expect(deep.body).toContain(`Nested deeper than ${MAX_JSON_DEPTH} levels`);

    const keys = await send(t.url, 'POST', '/api/tenants', {
      token: t.operatorKey,
      body: JSON.stringify(Object.fromEntries(Array.from({ length: MAX_JSON_KEYS + 1 }, (_, i) => [`k${i}`, 1]))),
    });
    expect(keys.status).toBe(400);
    expect(keys.body).toContain(`More than ${MAX_JSON_KEYS} keys`);
  });

  it('maps a PostgreSQL data exception that reaches a subgraph to VALIDATION_ERROR, not a masked 500', async () => {
    // GraphQL is not behind the REST guard: the NUL reaches the database, which refuses it (22021).
    const { status, body } = await t.graphql('query ($id: ID!) { tenant(id: $id) { id } }', { id: 'abc\u0000def' });
    expect(status).toBe(200);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_ERROR', details: { sqlstate: '22021' } });
    expect(body.errors?.[0]?.message).toMatch(/^Invalid input value/);
  });
});
