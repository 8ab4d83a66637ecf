import { createHash, randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { expectRestError, uniqueClientIp } from './support/rest.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';

// The marketplace through its documented routes: publish (manifest, semver, checksum, package in
// the platform object store), the catalogue (category, search, sort, pages), install per tenant
// (configuration checked, secrets sealed, permissions granted), installs listed, uninstall, and
// the health endpoint's plugins block.

const headers = { 'x-forwarded-for': uniqueClientIp() };

function packageOf(content: string) {
  const bytes = Buffer.from(content);
  return { base64: bytes.toString('base64'), checksum: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

describe('extension marketplace', () => {
  let t: TestPlatform;
  let tenantId: string;
  let admin: string;
  const tag = randomBytes(4).toString('hex');
  const name = `Audit Export ${tag}`;
  let extensionId: string;

  const publish = (body: Record<string, unknown>, token?: string) =>
    t.rest('/api/v1/marketplace/extensions/publish', { method: 'POST', body, headers, token });
  const manifest = (checksum: string, extra: Record<string, unknown> = {}) => ({
    entrypoint: 'dist/index.js',
    permissions: ['read:telemetry', 'webhooks:receive'],
    configuration: {
      api_key: { type: 'string', required: true, secret: true },
      region: { type: 'string' },
      batch_size: { type: 'number' },
    },
    checksum,
    publisher: 'Acme',
    platform_version: '>=1.0.0',
    ...extra,
  });

  beforeAll(async () => {
    t = await bootPlatform();
    tenantId = (await createTenant(t, t.operatorKey, headers, 'mk')).id;
    admin = await signInTenantAdmin(t, tenantId, { password: 'Market-Admin-Passphrase-5', headers });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('publishes: manifest validated, package checksummed and stored in the object store', async () => {
    const pkg = packageOf(`console.log('audit export ${tag}')`);
    const answer = await publish({
      name,
      version: '1.0.0',
      description: `Exports audit logs ${tag}`,
      category: 'analytics',
      manifest: manifest(pkg.checksum),
      package: pkg.base64,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.data).toMatchObject({
      extension: {
        id: expect.stringMatching(/^ext_/),
        slug: `audit-export-${tag}`,
        name,
        category: 'analytics',
        publisher: 'Acme',
        latest_version: '1.0.0',
        install_count: 0,
        permissions: ['read:telemetry', 'webhooks:receive'],
      },
      version: '1.0.0',
      package: { sha256: pkg.checksum.slice(7), size: Buffer.from(pkg.base64, 'base64').length },
    });
    extensionId = answer.body.data.extension.id;
    const row = await t.platform.db.prisma.extensionVersion.findFirstOrThrow({ where: { extensionId } });
    expect(await text(await t.platform.deps.blobs.get(row.packageKey))).toBe(`console.log('audit export ${tag}')`);

    // A higher version is accepted; the same or a lower one is a conflict.
    const next = packageOf(`v1.1 ${tag}`);
    const v11 = await publish({
      name,
      version: '1.1.0',
      category: 'analytics',
      manifest: manifest(next.checksum),
      package: next.base64,
    });
    expect(v11.status).toBe(201);
    expect(v11.body.data.extension.latest_version).toBe('1.1.0');
    const old = await publish({
      name,
      version: '1.0.5',
      category: 'analytics',
      manifest: manifest(next.checksum),
      package: next.base64,
    });
    expectRestError('platform-forge', old, 409, 'CONFLICT');
  });

  it('refuses a bad manifest, version, checksum or caller', async () => {
    const pkg = packageOf('x');
    const base = { name: uniqueSlug('bad'), version: '1.0.0', category: 'analytics', package: pkg.base64 };
    expectRestError(
      'platform-forge',
      await publish({ ...base, manifest: manifest(packageOf('other').checksum) }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await publish({ ...base, version: 'v1', manifest: manifest(pkg.checksum) }),
      400,
      'VALIDATION_ERROR',
    );
    const badPermission = await publish({ ...base, manifest: manifest(pkg.checksum, { permissions: ['root'] }) });
    expectRestError('platform-forge', badPermission, 400, 'VALIDATION_ERROR');
    expect(JSON.stringify(badPermission.body.error.details)).toContain('manifest.permissions');
    expectRestError(
      'platform-forge',
      await publish({ ...base, manifest: manifest(pkg.checksum, { unknown: 1 }) }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await publish({ ...base, manifest: manifest(pkg.checksum, { platform_version: 'soon' }) }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await publish({ ...base, category: 'games', manifest: manifest(pkg.checksum) }),
      400,
      'VALIDATION_ERROR',
    );
    const big = Buffer.alloc(600 * 1024, 1);
    const bigSum = `sha256:${createHash('sha256').update(big).digest('hex')}`;
    const tooBig = await publish({ ...base, manifest: manifest(bigSum), package: big.toString('base64') });
    expect([400, 413]).toContain(tooBig.status);
    // Publishing is for platform operators, not tenant admins.
    expectRestError(
      'platform-forge',
      await publish({ ...base, manifest: manifest(pkg.checksum) }, admin),
      403,
      'FORBIDDEN',
    );
  });

  it('lists the catalogue with category, search, sort and pages', async () => {
    const second = packageOf(`sec ${tag}`);
    expect(
      (
        await publish({
          name: `Threat Feed ${tag}`,
          version: '0.1.0',
          category: 'security',
          manifest: manifest(second.checksum, { permissions: [], configuration: {} }),
          package: second.base64,
        })
      ).status,
    ).toBe(201);
    const all = await t.rest(`/api/v1/marketplace/extensions?search=${tag}&sort=name`, { headers, token: admin });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(all.body.data.extensions.map((e: { name: string }) => e.name)).toEqual([name, `Threat Feed ${tag}`]);
    expect(all.body.data.pagination).toEqual({ page: 1, limit: 20, total: 2, pages: 1 });
    const security = await t.rest(`/api/v1/marketplace/extensions?search=${tag}&category=security`, {
      headers,
      token: admin,
    });
    expect(security.body.data.extensions.map((e: { name: string }) => e.name)).toEqual([`Threat Feed ${tag}`]);
    const page2 = await t.rest(`/api/v1/marketplace/extensions?search=${tag}&sort=newest&limit=1&page=2`, {
      headers,
      token: admin,
    });
    expect(page2.body.data.extensions.map((e: { name: string }) => e.name)).toEqual([name]);
    expect(page2.body.data.pagination).toEqual({ page: 2, limit: 1, total: 2, pages: 2 });
    expectRestError(
      'platform-forge',
      await t.rest('/api/v1/marketplace/extensions?sort=rating', { headers }),
      501,
      'NOT_IMPLEMENTED',
    );
    expectRestError(
      'platform-forge',
      await t.rest('/api/v1/marketplace/extensions?limit=500', { headers }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await t.rest('/api/v1/marketplace/extensions', { headers, token: null }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('installs for the tenant with secrets sealed and permissions granted; lists, health plugins, uninstall', async () => {
    const install = (body: Record<string, unknown>, id = extensionId) =>
      t.rest(`/api/v1/marketplace/extensions/${id}/install`, { method: 'POST', body, headers, token: admin });
    expectRestError('platform-forge', await install({ configuration: { region: 'eu' } }), 400, 'VALIDATION_ERROR');
    expectRestError(
      'platform-forge',
      await install({ configuration: { api_key: 'k', nope: 1 } }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await install({ configuration: { api_key: 'k', batch_size: 'ten' } }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await install({ version: '9.9.9', configuration: { api_key: 'k' } }),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'platform-forge',
      await install({ configuration: { api_key: 'k' } }, 'ext_missing'),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'platform-forge',
      await install({ tenant_id: 'ten_else', configuration: { api_key: 'k' } }),
      403,
      'TENANT_MISMATCH',
    );

    const answer = await install({
      version: '1.0.0',
      configuration: { api_key: 'ext_key_123', region: 'eu', batch_size: 50 },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.data).toMatchObject({
      installation_id: expect.stringMatching(/^exi_/),
      extension_id: extensionId,
      tenant_id: tenantId,
      version: '1.0.0',
      status: 'active',
      configuration: { region: 'eu', batch_size: 50 },
      secret_keys: ['api_key'],
      granted_permissions: ['read:telemetry', 'webhooks:receive'],
    });
    expect(JSON.stringify(answer.body)).not.toContain('ext_key_123');
    const row = await t.platform.db.prisma.extensionInstall.findFirstOrThrow({ where: { tenantId, extensionId } });
    expect(row.sealedSecrets).toMatch(/^sb1:/);
    expect(JSON.parse(t.platform.secretBox.open(row.sealedSecrets!))).toEqual({ api_key: 'ext_key_123' });

    // Re-installing upgrades in place (the latest by default); the install count stays one.
    const upgraded = await install({ configuration: { api_key: 'ext_key_456' } });
    expect(upgraded.body.data).toMatchObject({ version: '1.1.0', installation_id: answer.body.data.installation_id });
    const listed = await t.graphql<{ extensionInstallations: { extensionId: string; version: string }[] }>(
      `{ extensionInstallations { extensionId version grantedPermissions grantedBy } }`,
      {},
      { token: admin, headers },
    );
    expect(listed.body.data!.extensionInstallations).toEqual([
      expect.objectContaining({ extensionId, version: '1.1.0' }),
    ]);
    const catalogue = await t.rest(`/api/v1/marketplace/extensions?search=${tag}&category=analytics`, {
      headers,
      token: admin,
    });
    expect(catalogue.body.data.extensions[0].install_count).toBe(1);

    const status = await t.rest('/api/v1/status', { headers });
    expect(status.status).toBe(200);
    expect(status.body.data.components.plugins).toMatchObject({ status: 'healthy', failed: null });
    expect(status.body.data.components.plugins.extensions).toContainEqual({
      extension_id: extensionId,
      name,
      version: '1.1.0',
      installs: 1,
    });

    const removed = await t.graphql(
      `mutation ($id: ID!) { uninstallExtension(extensionId: $id) }`,
      { id: extensionId },
      { token: admin, headers },
    );
    expect(removed.body.data).toEqual({ uninstallExtension: true });
    const again = await t.graphql(
      `mutation ($id: ID!) { uninstallExtension(extensionId: $id) }`,
      { id: extensionId },
      { token: admin, headers },
    );
    expect(again.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const after = await t.rest('/api/v1/status', { headers });
    expect(
      after.body.data.components.plugins.extensions.find(
        (e: { extension_id: string }) => e.extension_id === extensionId,
      ),
    ).toBeUndefined();
  });
});
