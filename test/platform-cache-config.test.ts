import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRestError, uniqueClientIp } from './support/rest.js';
import { bootPlatform, type RestInit, type TestPlatform } from './support/platform.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';

// Cache administration and runtime configuration through the gateway (core-platform, nexus-core,
// platform-forge and GraphQL), on whichever backend the run uses (in-memory or Redis/PostgreSQL).

const rateLimitPolicies = { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } };
const PASSWORD = 'correct horse battery 42';

let t: TestPlatform;
let tenantToken: string;
const headers = { 'x-forwarded-for': uniqueClientIp() };
const rest = (path: string, init: RestInit = {}) => t.rest(path, { ...init, headers: { ...headers, ...init.headers } });

beforeAll(async () => {
  t = await bootPlatform({ trustedProxies: ['127.0.0.1'], rateLimitPolicies });
  const tenant = await createTenant(t, t.operatorKey, headers, 'cache');
  tenantToken = await signInTenantAdmin(t, tenant.id, { password: PASSWORD, headers });
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('cache', () => {
  it('reports real figures that move with lookups', async () => {
    const cache = t.platform.kv.cache;
    await cache.set('probe:stats', 'x', 60);
    const before = await rest('/api/cache/stats');
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.status).toBe('success');
    const data = before.body.data;
    expect(data.backend).toBe(t.platform.kv.kind);
    expect(data.keys.total_keys).toBeGreaterThanOrEqual(1);
    expect(data.distribution.probe).toBeGreaterThanOrEqual(1);
    await cache.get('probe:stats');
    await cache.get('probe:missing');
    const after = (await rest('/api/cache/stats')).body.data;
    expect(after.keys.keyspace_hits).toBeGreaterThanOrEqual(data.keys.keyspace_hits + 1);
    expect(after.keys.keyspace_misses).toBeGreaterThanOrEqual(data.keys.keyspace_misses + 1);
    expect(after.performance.hit_rate).toBeGreaterThan(0);
    expect(after.memory.used_memory_mb).toBeGreaterThanOrEqual(0);

    const status = await rest('/api/v1/cache/status');
    expect(status.status).toBe(200);
    expect(status.body.success).toBe(true);
    expect(status.body.data.statistics.total_hits).toBeGreaterThanOrEqual(after.keys.keyspace_hits);
    expect(status.body.data.cache_levels).toEqual([
      expect.objectContaining({ level: t.platform.kv.kind === 'memory' ? 'L1' : 'L2', type: t.platform.kv.kind }),
    ]);
  });

  it('clears by pattern, keys and tenant scope, and only what matches', async () => {
    const cache = t.platform.kv.cache;
    await cache.set('user:123:profile', 'p', 60);
    await cache.set('user:123:preferences', 'q', 60);
    await cache.set('user:124:profile', 'r', 60);
    await cache.set('tenant:acme:thing', 's', 60);
    await cache.set('tenant:other:thing', 's', 60);

    const byPattern = await rest('/api/cache/clear', { method: 'DELETE', body: { pattern: 'user:123:*' } });
    expect(byPattern.status, JSON.stringify(byPattern.body)).toBe(200);
    expect(byPattern.body.data).toMatchObject({ cleared_keys_count: 2, affected_patterns: ['user:123:*'] });
    expect(byPattern.body.data.memory_freed_mb).toBeGreaterThanOrEqual(0);
    expect(await cache.get('user:124:profile')).toBe('r');

    const byKeys = await t.graphql<{ clearCache: { clearedKeysCount: number; memoryFreedBytes: number } }>(
      'mutation { clearCache(input: { keys: ["user:124:profile", "nope"] }) { clearedKeysCount memoryFreedBytes } }',
    );
    expect(byKeys.body.data!.clearCache.clearedKeysCount).toBe(1);
    // Redis MEMORY USAGE, or the entry's own bytes in memory: more than the 17-byte key alone.
    expect(byKeys.body.data!.clearCache.memoryFreedBytes).toBeGreaterThanOrEqual(17);

    const tenantScope = await rest('/api/cache/clear', {
      method: 'DELETE',
      body: { scope: 'tenant', tenant_id: 'acme', pattern: '*' },
    });
    expect(tenantScope.body.data).toMatchObject({ cleared_keys_count: 1, affected_patterns: ['tenant:acme:*'] });
    expect(await cache.get('tenant:other:thing')).toBe('s');

    const missingTenant = await rest('/api/cache/clear', { method: 'DELETE', body: { scope: 'tenant' } });
    expectRestError('core-platform', missingTenant, 400, 'validation_error');
    const badPattern = await rest('/api/cache/clear', { method: 'DELETE', body: { pattern: 'a b' } });
    expectRestError('core-platform', badPattern, 400, 'validation_error');

    await cache.set('user:9:x', '1', 60);
    const nexus = await rest('/api/v1/cache', { method: 'DELETE', body: { pattern: 'user:*' } });
    expect(nexus.status).toBe(200);
    expect(nexus.body).toEqual({
      success: true,
      data: { cleared_keys: 1, pattern: 'user:*', levels: [t.platform.kv.kind === 'memory' ? 'L1' : 'L2'] },
    });
    const otherLevel = t.platform.kv.kind === 'memory' ? 'L2' : 'L1';
    const none = await rest(`/api/v1/cache?pattern=user:*&level=${otherLevel}`, { method: 'DELETE' });
    expect(none.body.data).toEqual({ cleared_keys: 0, pattern: 'user:*', levels: [] });
  });

  it('warms the families that have loaders and reports the rest as failed', async () => {
    await t.platform.kv.cache.del('config:document');
    const answer = await rest('/api/cache/warm', {
      method: 'POST',
      body: { patterns: ['config:*', 'user:*:profile'], keys: ['system_settings'], concurrency: 2, timeout_seconds: 5 },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.data).toMatchObject({
      successful_loads: 1,
      failed_loads: 1,
      patterns_processed: 2,
      keys_processed: 1,
      unmatched: ['user:*:profile'],
      timed_out: false,
    });
    expect(answer.body.data.warm_id).toMatch(/^warm_/);
    expect(await t.platform.kv.cache.get('config:document')).not.toBeNull();
  });

  it('enforces scopes in the platform subgraph', async () => {
    for (const [path, method] of [
      ['/api/cache/stats', 'GET'],
      ['/api/cache/clear', 'DELETE'],
      ['/api/cache/warm', 'POST'],
    ] as const) {
      const answer = await rest(path, {
        method,
        token: tenantToken,
        body: method === 'GET' ? undefined : { pattern: 'x' },
      });
      expectRestError('core-platform', answer, 403, 'insufficient_permissions');
    }
    const anonymous = await rest('/api/v1/cache/status', { token: null });
    expectRestError('nexus-core', anonymous, 401, 'UNAUTHORIZED');
  });
});

describe('configuration', () => {
  it('shows sections with secrets masked, updates live, versions and validates', async () => {
    const got = await rest('/api/v1/config');
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    const doc = got.body.data;
    expect(Object.keys(doc)).toEqual(
      expect.arrayContaining(['runtime', 'database', 'cache', 'storage', 'secrets', 'maintenance']),
    );
    expect(doc.runtime.cache_backend).toBe(t.platform.kv.kind);
    if (doc.database.driver === 'postgres' && doc.database.password !== null) {
      expect(doc.database.password).toBe('***masked***');
    }
    expect(JSON.stringify(got.body)).not.toContain(process.env.TEST_DATABASE_URL ?? '\u0000');

    const section = await rest('/api/v1/config?section=storage');
    expect(Object.keys(section.body.data)).toEqual(['storage']);

    const put = await rest('/api/v1/config', {
      method: 'PUT',
      body: { storage: { url_default_expiry_seconds: 1801 }, maintenance: { maintenance_mode: false } },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.data.restart_required).toBe(false);
    expect(put.body.data.updated_keys).toContain('storage.url_default_expiry_seconds');
    const version = put.body.data.version as number;
    expect((await rest('/api/v1/config?section=storage')).body.data.storage.url_default_expiry_seconds).toBe(1801);

    // Other suites change the shared configuration concurrently: only this key's outcome is checked.
    const same = await rest('/api/v1/config', {
      method: 'PUT',
      body: { storage: { url_default_expiry_seconds: 1801 } },
    });
    expect(same.body.data.updated_keys).toEqual([]);
    expect(same.body.data.version).toBeGreaterThanOrEqual(version);

    const invalid = await rest('/api/v1/config', {
      method: 'PUT',
      body: { storage: { max_upload_mb: -1, nope: 1 } },
    });
    expectRestError('nexus-core', invalid, 400, 'VALIDATION_ERROR');
    expect(invalid.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual(
      expect.arrayContaining(['storage.nope', 'storage.max_upload_mb']),
    );
    const readOnly = await rest('/api/v1/config', { method: 'PUT', body: { database: { host: 'x' } } });
    expectRestError('nexus-core', readOnly, 400, 'VALIDATION_ERROR');

    const forge = await rest('/api/v1/admin/config', { method: 'PUT', body: { settings: { maintenance_mode: true } } });
    expect(forge.status, JSON.stringify(forge.body)).toBe(200);
    expect(forge.body.data).toMatchObject({ updated_keys: ['maintenance.maintenance_mode'], restart_required: false });
    const forgeGet = await rest('/api/v1/admin/config');
    expect(forgeGet.body.data.settings.maintenance.maintenance_mode).toBe(true);
    expect(forgeGet.body.data.version).toBeGreaterThanOrEqual(forge.body.data.version);
    // Live: the status page reads the switch on its next request.
    expect((await rest('/api/status')).body.data.system_status).toBe('maintenance');
    await rest('/api/v1/admin/config', { method: 'PUT', body: { settings: { maintenance_mode: false } } });

    const unsupported = await rest('/api/v1/admin/config', {
      method: 'PUT',
      body: { settings: { registration_enabled: true } },
    });
    expectRestError('platform-forge', unsupported, 400, 'VALIDATION_ERROR');

    const history = await t.graphql<{ runtimeConfig: { history: Array<{ version: number; updatedKeys: string[] }> } }>(
      '{ runtimeConfig { history(limit: 3) { version updatedKeys changedBy } } }',
    );
    expect(history.body.data!.runtimeConfig.history.map((h) => h.updatedKeys).flat()).toContain(
      'maintenance.maintenance_mode',
    );

    const denied = await rest('/api/v1/config', {
      method: 'PUT',
      token: tenantToken,
      body: { storage: { max_upload_mb: 8 } },
    });
    expectRestError('nexus-core', denied, 403, 'FORBIDDEN');
  });

  it('sets cache strategies through platform-forge, live', async () => {
    const answer = await rest('/api/v1/performance/cache/config', {
      method: 'PUT',
      body: {
        strategies: {
          api_responses: { enabled: true, ttl: 300, invalidation: 'tag-based', types: { storage_stats: 20 } },
          database_queries: { enabled: true, ttl: 60 },
        },
      },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.status).toBe('success');
    expect(answer.body.data.strategies.api_responses).toEqual({
      enabled: true,
      ttl: 300,
      invalidation: 'tag-based',
      types: { storage_stats: 20 },
    });
    const bad = await rest('/api/v1/performance/cache/config', {
      method: 'PUT',
      body: { strategies: { api_responses: { ttl: 0 } } },
    });
    expectRestError('platform-forge', bad, 400, 'VALIDATION_ERROR');
    // The suites share one database: leave the response cache off for the next one.
    const off = await rest('/api/v1/performance/cache/config', {
      method: 'PUT',
      body: { strategies: { api_responses: { enabled: false } } },
    });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
  });
});
