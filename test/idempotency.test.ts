import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestPipeline } from '../gateway/pipeline/index.js';
import { createRestHandler } from '../gateway/rest/handler.js';
import { createIdempotency } from '../gateway/rest/idempotency.js';
import { defineRoute } from '../gateway/rest/route.js';
import { createLogger } from '../lib/logger.js';
import { createKv, type Kv } from '../lib/runtime/kv.js';
import {
  bootPlatform,
  deleteRedisKeys,
  uniqueSlug,
  type RestAnswer,
  type RestInit,
  type TestPlatform,
} from './support/platform.js';
import { testOperation } from './support/rest.js';

// Idempotency-Key on the REST POSTs of every dialect that has one (nexus-core documents no POST),
// with Stripe's semantics: same key and body replays the first answer without running the work
// again; another body is 422; a key still running is 409; keys belong to the caller.

const PASSWORD = 'Idempotent-Passphrase-9';
const FORWARDED = {
  'x-forwarded-for': `198.20.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};

const newKey = () => `key-${randomBytes(8).toString('hex')}`;

describe('Idempotency-Key on every REST dialect', () => {
  let t: TestPlatform;
  let tenantId: string;
  let adminEmail: string;
  let adminToken: string;

  const post = (path: string, body: unknown, key: string | null, init: RestInit = {}) =>
    t.rest(path, {
      ...init,
      method: 'POST',
      body,
      headers: { ...FORWARDED, ...(key ? { 'Idempotency-Key': key } : {}), ...init.headers },
    });

  const sameAnswer = (first: RestAnswer, second: RestAnswer) => {
    expect(second.status).toBe(first.status);
    expect(second.body).toEqual(first.body);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
  };

  const tenantRows = async (slug: string) =>
    (
      await t.platform.db.prisma.$queryRawUnsafe<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM tenancy.tenants WHERE slug = $1`,
        slug,
      )
    )[0]!.n;

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1', '::1'] });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('core-platform POST /api/tenants: a retry replays the first answer and creates nothing', async () => {
    const slug = uniqueSlug('idem');
    adminEmail = `admin-${slug}@example.com`;
    const body = {
      tenant: {
        name: `Idem ${slug}`,
        schema_name: slug.replaceAll('-', '_'),
        admin_user: { email: adminEmail, name: 'Idem Admin', password: PASSWORD },
      },
    };
    const key = newKey();
    const first = await post('/api/tenants', body, key);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    tenantId = first.body.data.tenant.id;
    const second = await post('/api/tenants', body, key);
    sameAnswer(first, second);
    // Had the retry run, its schema_name would have conflicted: the 201 came from the store.
    expect(await t.platform.db.prisma.tenant.count({ where: { name: body.tenant.name } })).toBe(1);
    const users = await t.platform.db.prisma.user.count({ where: { tenantId } });
    expect(users).toBe(1);

    // The same key with another body is a client bug, told in the dialect's shape.
    const other = await post('/api/tenants', { ...body, tenant: { ...body.tenant, name: 'Other' } }, key);
    expect(other.status).toBe(422);
    // core-platform spells codes in lower case.
    expect(other.body).toMatchObject({ status: 'error', error: { code: 'idempotency_key_reused' } });

    const { body: login } = await t.graphql<{ login: { accessToken: string } }>(
      `mutation ($email: String!, $password: String!, $tenantId: ID) {
        login(email: $email, password: $password, tenantId: $tenantId) { accessToken }
      }`,
      { email: adminEmail, password: PASSWORD, tenantId },
      { token: null, headers: FORWARDED },
    );
    adminToken = login.data!.login.accessToken;
  });

  it('tenantsdb POST /tenants: a retry replays, another body is 422', async () => {
    const slug = uniqueSlug('idem');
    const key = newKey();
    const first = await post('/tenants', { tenant_id: slug }, key);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    sameAnswer(first, await post('/tenants', { tenant_id: slug }, key));
    expect(await tenantRows(slug)).toBe(1);
    const other = await post('/tenants', { tenant_id: `${slug}-b` }, key);
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ success: false, error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    // Without a key the request simply runs: here a second create of the same tenant conflicts.
    expect((await post('/tenants', { tenant_id: slug }, null)).status).toBe(409);
  });

  it('platform-forge POST /api/v1/auth/register: keys belong to the caller who sent them', async () => {
    const body = {
      email: `user-${randomBytes(4).toString('hex')}@example.com`,
      password: PASSWORD,
      name: 'U',
      tenant_id: tenantId,
    };
    const key = newKey();
    const first = await post('/api/v1/auth/register', body, key);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    sameAnswer(first, await post('/api/v1/auth/register', body, key));
    expect(await t.platform.db.prisma.user.count({ where: { tenantId, email: body.email } })).toBe(1);

    // Another principal with the same key and body is not replayed the operator's answer: its
    // request runs (and finds the email taken).
    const other = await post('/api/v1/auth/register', body, key, { token: adminToken });
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ status: 'error', error: { code: 'CONFLICT' } });
  });

  it('cloudpioneer POST /auth/login: a replay hands back the same tokens instead of a new session', async () => {
    const body = { email: adminEmail, password: PASSWORD, tenant_id: tenantId };
    const key = newKey();
    const first = await post('/auth/login', body, key, { token: null });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const second = await post('/auth/login', body, key, { token: null });
    sameAnswer(first, second);
    // Without the key, a second sign-in is a new session with new tokens.
    const fresh = await post('/auth/login', body, null, { token: null });
    expect(fresh.body.access_token).not.toBe(first.body.access_token);
  });

  it('refuses a malformed key and ignores the header on other methods', async () => {
    const bad = await post('/tenants', { tenant_id: uniqueSlug('idem') }, 'has spaces in it');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    const get = await t.rest('/api/health', { headers: { ...FORWARDED, 'Idempotency-Key': newKey() } });
    expect(get.headers.get('idempotent-replayed')).toBeNull();
  });
});

/**
 * The handler with one route whose work waits for the test to release it, so "still running" is a
 * state the test holds rather than a race it hopes to win. Same store as the platform (Redis with
 * TEST_REDIS_URL, memory otherwise).
 */
describe('Idempotency-Key while the first request is still running', () => {
  let kv: Kv;
  let server: Server;
  let url: string;
  let runs = 0;
  let failNext = false;
  const gates: Array<() => void> = [];
  /** Lets every request waiting in its work finish. */
  const release = () => gates.splice(0).forEach((open) => open());
  const prefix = `test:idem:${randomBytes(4).toString('hex')}:`;

  const route = defineRoute({
    dialect: 'tenantsdb',
    method: 'POST',
    path: '/idempotency-probe',
    summary: 'test only',
    status: 201,
    operation: testOperation<{ probe: number }>('mutation Probe { probe }'),
    respond: (data) => ({ run: data.probe }),
  });

  beforeAll(async () => {
    const logger = createLogger({ level: 'silent' });
    kv = await createKv({ redisUrl: process.env.TEST_REDIS_URL || undefined, logger, keyPrefix: prefix });
    const handler = createRestHandler({
      routes: [route],
      execute: async () => {
        runs += 1;
        await new Promise<void>((resolve) => gates.push(resolve));
        if (failNext) {
          failNext = false;
          throw new Error('boom');
        }
        return { data: { probe: runs } };
      },
      pipeline: createRequestPipeline({
        authenticate: async (headers) =>
          headers.authorization
            ? {
                kind: 'user',
                id: String(headers.authorization),
                projectId: null,
                tenantId: null,
                roles: [],
                scopes: [],
              }
            : null,
        rateLimiter: (policy) => kv.rateLimiter(policy),
        rateLimitEnabled: false,
        logger,
      }),
      idempotency: createIdempotency({ cache: kv.cache, logger }),
    });
    server = createServer((req, res) => void handler(req, res, 'req_test'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await kv?.close();
    if (process.env.TEST_REDIS_URL) await deleteRedisKeys(process.env.TEST_REDIS_URL, prefix);
  });

  const send = async (key: string, body: unknown, who = 'alice') => {
    const response = await fetch(`${url}/idempotency-probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key, authorization: who },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      replayed: response.headers.get('idempotent-replayed'),
      body: await response.json(),
    };
  };
  const started = async (count: number) => expect.poll(() => runs).toBe(count);

  it('answers 409 while the work runs, then replays its answer once it is done', async () => {
    const before = runs;
    const key = newKey();
    const first = send(key, { a: 1 });
    await started(before + 1);
    const busy = await send(key, { a: 1 });
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ success: false, error: { code: 'IDEMPOTENCY_KEY_IN_USE' } });
    // A different body under the running key is still the caller's mistake.
    expect((await send(key, { a: 2 })).status).toBe(422);
    release();
    const done = await first;
    expect(done).toMatchObject({ status: 201, replayed: null, body: { success: true, run: before + 1 } });
    const replay = await send(key, { a: 1 });
    expect(replay).toEqual({ ...done, replayed: 'true' });
    expect(runs).toBe(before + 1);
  });

  it('keeps keys per caller: another principal with the same key runs its own request', async () => {
    const before = runs;
    const key = newKey();
    const mine = send(key, { a: 1 }, 'alice');
    await started(before + 1);
    const theirs = send(key, { a: 1 }, 'bob');
    await started(before + 2);
    release();
    const answers = await Promise.all([mine, theirs]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
  });

  it('does not keep a 5xx answer: the retry runs the work', async () => {
    const before = runs;
    const key = newKey();
    failNext = true;
    const failed = send(key, { a: 1 });
    await started(before + 1);
    release();
    expect((await failed).status).toBe(500);
    const retry = send(key, { a: 1 });
    await started(before + 2);
    release();
    expect(await retry).toMatchObject({ status: 201, replayed: null });
  });
});
