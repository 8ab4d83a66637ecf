import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox, loadSecretsKey } from '../lib/secret-box.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';

describe('secret box', () => {
  const box = createSecretBox(randomBytes(32));

  it('seals with a fresh IV each time and opens back', () => {
    const a = box.seal('hunter2');
    const b = box.seal('hunter2');
    expect(a).toMatch(/^sb1:/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('hunter2');
    expect(box.open(a)).toBe('hunter2');
  });

  it('refuses a tampered value and another key', () => {
    const sealed = box.seal('hunter2');
    const tampered = `${sealed.slice(0, -2)}${sealed.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(() => box.open(tampered)).toThrow();
    expect(() => createSecretBox(randomBytes(32)).open(sealed)).toThrow();
  });

  it('derives the same secret for a label from the same key, and another for another label or key', () => {
    const key = randomBytes(32);
    const derived = createSecretBox(key).derive('tenant-login:tenant_a');
    expect(derived).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(createSecretBox(key).derive('tenant-login:tenant_a')).toBe(derived);
    expect(createSecretBox(key).derive('tenant-login:tenant_b')).not.toBe(derived);
    expect(createSecretBox(randomBytes(32)).derive('tenant-login:tenant_a')).not.toBe(derived);
  });

  it('reads a value stored before sealing as it is', () => {
    expect(box.open('plain-legacy')).toBe('plain-legacy');
  });

  it('generates one key per data folder, private to its owner, and reuses it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secrets-key-'));
    try {
      const first = await loadSecretsKey({ configured: undefined, dataDir: dir });
      expect(first).toHaveLength(32);
      expect((await stat(join(dir, 'secrets.key'))).mode & 0o777).toBe(0o600);
      expect(await loadSecretsKey({ configured: undefined, dataDir: dir })).toEqual(first);
      const configured = randomBytes(32).toString('hex');
      expect((await loadSecretsKey({ configured, dataDir: dir })).toString('hex')).toBe(configured);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('secrets at rest, through the platform', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    // Its own embedded database, always: rotating the signing key on a database other suites
    // share would retire the key their gateways just cached.
    t = await bootPlatform({ databaseUrl: undefined, redisUrl: undefined });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores the token signing key sealed, and tokens still verify', async () => {
    const created = await t.graphql<{ createTenant: { id: string } }>(
      'mutation ($i: CreateTenantInput!) { createTenant(input: $i) { id } }',
      { i: { name: 'Sealed', slug: uniqueSlug('sealed') } },
    );
    const tenantId = created.body.data!.createTenant.id;
    // A key made now, by this code.
    const rotated = await t.graphql<{ rotateSigningKey: { key: { kid: string } } }>(
      'mutation { rotateSigningKey { key { kid } } }',
    );
    expect(rotated.body.errors).toBeUndefined();
    const kid = rotated.body.data!.rotateSigningKey.key.kid;
    const stored = (await t.platform.db.prisma.signingKey.findUniqueOrThrow({ where: { kid } })).privateJwk as Record<
      string,
      unknown
    >;
    expect(stored.d).toBeUndefined();
    expect(String(stored.sealed)).toMatch(/^sb1:/);

    // Tokens signed with the sealed key verify at the gateway.
    const registered = await t.rest('/api/v1/auth/register', {
      method: 'POST',
      body: {
        email: `${uniqueSlug('u')}@example.com`,
        password: 'Sealed-secrets-passphrase',
        name: 'U',
        tenant_id: tenantId,
      },
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const token = registered.body.data.access_token as string;
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
    const me = await t.graphql<{ me: { id: string } }>('{ me { id } }', undefined, { token });
    expect(me.body.data?.me?.id).toBeTruthy();
  });
});
