import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESPONSE_CACHE_STATS_PREFIX } from '../lib/response-cache.js';
import { uniqueClientIp, waitFor } from './support/rest.js';
import { bootPlatform, deleteRedisKeys, usingRealServices, type TestPlatform } from './support/platform.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';

// The gateway's response cache of reads (gateway/plugins/response-cache.ts), switched on through
// platform-forge PUT /api/v1/performance/cache/config, on whichever backend the run uses.

const PASSWORD = 'correct horse battery 42';
const rateLimitPolicies = { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } };
const USERS = /* GraphQL */ `
  query CachedUsers {
    users(limit: 50) {
      users {
        id
        name
        email
        tenantId
      }
    }
  }
`;

interface UsersAnswer {
  users: { users: Array<{ id: string; name: string; email: string; tenantId: string }> };
}

async function enableCache(t: TestPlatform, headers: Record<string, string>, enabled = true): Promise<void> {
  const put = await t.rest('/api/v1/performance/cache/config', {
    method: 'PUT',
    headers,
    body: {
      strategies: { api_responses: { enabled, ttl: 120, invalidation: 'tag-based', types: { user_page: 60 } } },
    },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  await waitFor(
    async () => (t.platform.gateway.responseCache.settings().enabled === enabled ? true : undefined),
    'settings',
    { timeoutMs: 15_000 },
  );
}

describe('response cache', () => {
  let t: TestPlatform;
  const headers = { 'x-forwarded-for': uniqueClientIp() };
  let tokenA: string;
  let tokenB: string;
  let tenantA: string;

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'], rateLimitPolicies });
    const [a, b] = await Promise.all([
      createTenant(t, t.operatorKey, headers, 'rca'),
      createTenant(t, t.operatorKey, headers, 'rcb'),
    ]);
    tenantA = a.id;
    [tokenA, tokenB] = await Promise.all([
      signInTenantAdmin(t, a.id, { password: PASSWORD, headers }),
      signInTenantAdmin(t, b.id, { password: PASSWORD, headers }),
    ]);
  }, 180_000);

  afterAll(async () => {
    // The suites share one database: leave the response cache off whatever happened above.
    if (t) await enableCache(t, headers, false).catch(() => undefined);
    await t?.close();
  });

  it('is off by default: reads are not cached', async () => {
    expect(t.platform.gateway.responseCache.settings().enabled).toBe(false);
    const first = await fetchUsers(t, tokenA, headers);
    expect(first.cache).toBeNull();
  });

  it('serves a cached read, keyed by principal and tenant, invalidated by a mutation of its type', async () => {
    await enableCache(t, headers);
    const miss = await fetchUsers(t, tokenA, headers);
    expect(miss.cache).toBe('MISS');
    const hit = await fetchUsers(t, tokenA, headers);
    expect(hit.cache).toBe('HIT');
    expect(hit.users).toEqual(miss.users);
    expect(miss.users.every((u) => u.tenantId === tenantA)).toBe(true);

    // Tenant B asks the very same document: its own answer, never A's cached one.
    const other = await fetchUsers(t, tokenB, headers);
    expect(other.cache).toBe('MISS');
    expect(other.users.some((u) => u.tenantId === tenantA)).toBe(false);
    expect(other.users.map((u) => u.id)).not.toEqual(miss.users.map((u) => u.id));
    expect((await fetchUsers(t, tokenB, headers)).cache).toBe('HIT');

    // The operator too: another principal scope, another entry.
    expect((await fetchUsers(t, t.operatorKey, headers)).cache).toBe('MISS');

    // A REST mutation touching User moves its generation on every gateway: the next read runs.
    const renamed = `Renamed ${randomBytes(3).toString('hex')}`;
    const put = await t.rest(`/api/v1/admin/users/${miss.users[0]!.id}`, {
      method: 'PUT',
      token: tokenA,
      headers,
      body: { name: renamed },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const after = await fetchUsers(t, tokenA, headers);
    expect(after.cache).toBe('MISS');
    expect(after.users.find((u) => u.id === miss.users[0]!.id)!.name).toBe(renamed);
    expect((await fetchUsers(t, tokenB, headers)).cache).toBe('MISS');
  });

  it('caches REST reads too, and counts hits and misses in the cache figures', async () => {
    await enableCache(t, headers);
    await t.platform.gateway.responseCache.flush();
    const before = (await t.rest('/api/cache/stats', { headers })).body.data.response_cache;
    expect(before.enabled).toBe(true);
    const first = await t.rest('/api/v1/admin/users', { token: tokenA, headers });
    const second = await t.rest('/api/v1/admin/users', { token: tokenA, headers });
    expect(second.status).toBe(200);
    expect(second.body.data).toEqual(first.body.data);
    await t.platform.gateway.responseCache.flush();
    const after = (await t.rest('/api/cache/stats', { headers })).body.data.response_cache;
    expect(after.hits).toBeGreaterThanOrEqual(before.hits + 1);
    expect(after.misses).toBeGreaterThanOrEqual(before.misses + 1);
    expect(after.invalidations).toBeGreaterThanOrEqual(1);
    expect(after.hit_rate).toBeGreaterThan(0);
    const nexus = await t.rest('/api/v1/cache/status', { headers });
    expect(nexus.body.data.response_cache.hits).toBe(after.hits);
  });

  it('never caches live figures, secrets or anonymous reads', async () => {
    await enableCache(t, headers);
    const stats = `query { cacheStats { totalKeys } }`;
    for (let i = 0; i < 2; i += 1) {
      const answer = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.operatorKey}`, ...headers },
        body: JSON.stringify({ query: stats }),
      });
      expect(answer.headers.get('x-cache')).toBeNull();
    }
    const health = await t.rest('/health', { token: null, headers });
    expect(health.headers.get('x-cache')).toBeNull();
  });

  it('switches off live', async () => {
    await enableCache(t, headers, false);
    expect((await fetchUsers(t, tokenA, headers)).cache).toBeNull();
    const counter = await t.platform.kv.cache.get(`${RESPONSE_CACHE_STATS_PREFIX}hits`);
    expect(Number(counter)).toBeGreaterThan(0);
  });
});

describe.runIf(usingRealServices)('response cache across gateways (Redis)', () => {
  let a: TestPlatform;
  let b: TestPlatform;
  const headers = { 'x-forwarded-for': uniqueClientIp() };
  const keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  let token: string;

  beforeAll(async () => {
    a = await bootPlatform({ trustedProxies: ['127.0.0.1'], keyPrefix, rateLimitPolicies });
    b = await bootPlatform({ trustedProxies: ['127.0.0.1'], keyPrefix, adminApiKey: a.operatorKey, rateLimitPolicies });
    const tenant = await createTenant(a, a.operatorKey, headers, 'rcx');
    token = await signInTenantAdmin(a, tenant.id, { password: PASSWORD, headers });
  }, 240_000);

  afterAll(async () => {
    if (a) await enableCache(a, headers, false).catch(() => undefined);
    await a?.close();
    await b?.close();
    await deleteRedisKeys(process.env.TEST_REDIS_URL!, keyPrefix);
  });

  it('shares entries and invalidations through Redis', async () => {
    await enableCache(a, headers);
    await waitFor(async () => b.platform.gateway.responseCache.settings().enabled || undefined, 'settings on b', {
      timeoutMs: 15_000,
    });
    const first = await fetchUsers(a, token, headers);
    expect(first.cache).toBe('MISS');
    expect((await fetchUsers(b, token, headers)).cache).toBe('HIT');
    const put = await b.rest(`/api/v1/admin/users/${first.users[0]!.id}`, {
      method: 'PUT',
      token,
      headers,
      body: { name: 'Changed on b' },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const after = await fetchUsers(a, token, headers);
    expect(after.cache).toBe('MISS');
    expect(after.users.find((u) => u.id === first.users[0]!.id)!.name).toBe('Changed on b');
    await enableCache(a, headers, false);
  });
});

async function fetchUsers(
  t: TestPlatform,
  token: string,
  headers: Record<string, string>,
): Promise<{ cache: string | null; users: UsersAnswer['users']['users'] }> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query: USERS }),
  });
  const body = (await response.json()) as { data?: UsersAnswer; errors?: unknown };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return { cache: response.headers.get('x-cache'), users: body.data!.users.users };
}
