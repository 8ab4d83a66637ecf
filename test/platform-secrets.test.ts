import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateDueSecrets } from '../subgraphs/platform/services/secrets/secret-store.js';
import { expectRestError, uniqueClientIp } from './support/rest.js';
import { bootPlatform, uniqueSlug, type RestInit, type TestPlatform } from './support/platform.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

// Secrets through the gateway: envelope encryption at rest, versions, TTL, rotation (by request
// and by policy), tenant scoping, and values that never appear in storage or answers unasked.

const rateLimitPolicies = {
  'platform-forge.auth': { points: 1000, durationSeconds: 60 },
  'core-platform.secrets': { points: 1000, durationSeconds: 60 },
};
const PASSWORD = 'correct horse battery 42';

let t: TestPlatform;
let tenantA: TenantInfo;
let tenantB: TenantInfo;
let tokenA: string;
let tokenB: string;
const headers = { 'x-forwarded-for': uniqueClientIp() };
const rest = (path: string, init: RestInit = {}) => t.rest(path, { ...init, headers: { ...headers, ...init.headers } });

beforeAll(async () => {
  t = await bootPlatform({ trustedProxies: ['127.0.0.1'], rateLimitPolicies });
  tenantA = await createTenant(t, t.operatorKey, headers, 'seca');
  tenantB = await createTenant(t, t.operatorKey, headers, 'secb');
  tokenA = await signInTenantAdmin(t, tenantA.id, { password: PASSWORD, headers });
  tokenB = await signInTenantAdmin(t, tenantB.id, { password: PASSWORD, headers });
}, 180_000);

afterAll(async () => {
  await t?.close();
});

describe('secrets', () => {
  it('stores versions sealed at rest and reads them back', async () => {
    const path = `api_keys/stripe/${uniqueSlug('prod')}`;
    const marker = `sk_live_${uniqueSlug('m')}`;
    const first = await rest(`/api/secrets/${path}`, {
      method: 'POST',
      token: tokenA,
      body: {
        data: { api_key: marker, webhook_secret: 'whsec_1234567890abcdef', environment: 'production' },
        ttl: '720h',
        metadata: { owner: 'billing_team', purpose: 'stripe_integration', rotation_policy: 'quarterly' },
      },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ status: 'success', data: { path, version: 1, ttl: '720h' } });

    const second = await rest(`/api/secrets/${path}`, {
      method: 'POST',
      token: tokenA,
      body: { data: { api_key: `${marker}-2`, environment: 'production' } },
    });
    expect(second.body.data).toMatchObject({ version: 2, ttl: null });

    const current = await rest(`/api/secrets/${path}`, { token: tokenA });
    expect(current.status, JSON.stringify(current.body)).toBe(200);
    expect(current.body.data).toMatchObject({
      path,
      version: 2,
      data: { api_key: `${marker}-2`, environment: 'production' },
      metadata: { owner: 'billing_team', rotation_policy: 'quarterly', last_rotated: null },
    });
    expect(current.body.data.metadata.created_by).toMatch(/^user:/);
    const v1 = await rest(`/api/secrets/${path}?version=1`, { token: tokenA });
    expect(v1.body.data.data.api_key).toBe(marker);
    expect(v1.body.data.expires_at).not.toBeNull();

    // At rest: neither the value nor its data key appears in the database in the clear.
    const rows = await t.platform.db.prisma.$queryRawUnsafe<Array<{ row: string }>>(
      `SELECT row_to_json(v)::text AS row FROM platform.secret_versions v JOIN platform.secrets s ON s.id = v.secret_id WHERE s.path = $1`,
      path,
    );
    expect(rows).toHaveLength(2);
    for (const { row } of rows) {
      expect(row).not.toContain(marker);
      expect(row).toContain('sb1:');
    }
  });

  it('is tenant-scoped: another tenant neither reads nor names it', async () => {
    const path = `database/credentials/${uniqueSlug('iso')}`;
    await rest(`/api/secrets/${path}`, { method: 'POST', token: tokenA, body: { data: { password: 'a' } } });
    const other = await rest(`/api/secrets/${path}`, { token: tokenB });
    expectRestError('core-platform', other, 404, 'not_found');
    const named = await rest(`/api/secrets/${path}?tenant_id=${tenantA.id}`, { token: tokenB });
    expectRestError('core-platform', named, 403, 'tenant_access_denied');
    // The operator reaches a tenant's secret by naming the tenant.
    const operator = await rest(`/api/secrets/${path}?tenant_id=${tenantA.id}`);
    expect(operator.body.data.data).toEqual({ password: 'a' });
    const operatorOwn = await rest(`/api/secrets/${path}`);
    expectRestError('core-platform', operatorOwn, 404, 'not_found');
  });

  it('rotates credential fields into a new version, redacted in the answer', async () => {
    const path = `database/credentials/${uniqueSlug('rot')}`;
    await rest(`/api/secrets/${path}`, {
      method: 'POST',
      token: tokenA,
      body: { data: { username: 'prod_user', password: 'generated_password_123', host: 'db', port: 5432 } },
    });
    const rotated = await rest(`/api/secrets/${path}/rotate`, { method: 'POST', token: tokenA });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body.data).toMatchObject({
      path,
      old_version: 1,
      new_version: 2,
      changes: [{ field: 'password', old_value: '[REDACTED]', new_value: '[REDACTED]' }],
    });
    expect(JSON.stringify(rotated.body)).not.toContain('generated_password_123');
    const after = await rest(`/api/secrets/${path}`, { token: tokenA });
    expect(after.body.data.data).toMatchObject({ username: 'prod_user', host: 'db', port: 5432 });
    expect(after.body.data.data.password).not.toBe('generated_password_123');
    expect(after.body.data.data.password.length).toBeGreaterThanOrEqual(32);
    expect(after.body.data.metadata.last_rotated).not.toBeNull();

    const plain = `config/${uniqueSlug('plain')}`;
    await rest(`/api/secrets/${plain}`, { method: 'POST', token: tokenA, body: { data: { region: 'eu' } } });
    const nothing = await rest(`/api/secrets/${plain}/rotate`, { method: 'POST', token: tokenA });
    expectRestError('core-platform', nothing, 400, 'validation_error');
  });

  it('rotates by policy when due', async () => {
    const path = `policy/${uniqueSlug('due')}`;
    await rest(`/api/secrets/${path}`, {
      method: 'POST',
      token: tokenA,
      body: { data: { token: 'tok_old' }, metadata: { rotation_policy: 'daily' } },
    });
    await t.platform.db.prisma.secret.updateMany({
      where: { path },
      data: { rotateAfter: new Date(Date.now() - 1000) },
    });
    const result = await rotateDueSecrets(t.platform.deps);
    expect(result.rotated).toBeGreaterThanOrEqual(1);
    const after = await rest(`/api/secrets/${path}`, { token: tokenA });
    expect(after.body.data.version).toBe(2);
    expect(after.body.data.data.token).toMatch(/^tok_/);
    expect(after.body.data.data.token).not.toBe('tok_old');
  });

  it('validates paths, ttl and scopes; expired versions are gone', async () => {
    const badPath = await rest('/api/secrets/..%2Fetc', { method: 'POST', token: tokenA, body: { data: { a: 1 } } });
    expectRestError('core-platform', badPath, 400, 'validation_error');
    const badTtl = await rest(`/api/secrets/x/${uniqueSlug('y')}`, {
      method: 'POST',
      token: tokenA,
      body: { data: { a: 1 }, ttl: 'forever' },
    });
    expectRestError('core-platform', badTtl, 400, 'validation_error');
    const anonymous = await rest('/api/secrets/a/b', { token: null });
    expectRestError('core-platform', anonymous, 401, 'unauthorized');

    const path = `short/${uniqueSlug('ttl')}`;
    const before = Date.now();
    await rest(`/api/secrets/${path}`, { method: 'POST', token: tokenA, body: { data: { a: 1 }, ttl: '1h' } });
    const [stored] = await t.platform.db.prisma.secretVersion.findMany({ where: { secret: { path } } });
    expect(stored!.ttlSeconds).toBe(3600);
    expect(stored!.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 3600_000);
    expect(stored!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect((await rest(`/api/secrets/${path}`, { token: tokenA })).status).toBe(200);
    // The hour passes: its expiry is moved into the past, as the rotation test above moves rotateAfter.
    await t.platform.db.prisma.secretVersion.updateMany({
      where: { secret: { path } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await rest(`/api/secrets/${path}`, { token: tokenA });
    expectRestError('core-platform', expired, 404, 'not_found');
    expect(expired.body.error.details.reason).toBe('expired');
  });
});
