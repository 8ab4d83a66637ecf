import dns2 from 'dns2';
import { decodeJwt } from 'jose';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stagingCallerId, stagingPrefix } from '../lib/storage-url.js';
import { bootPlatform, uniqueSlug, type RestAnswer, type TestPlatform } from './support/platform.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';

// Whitelabel end to end through the gateway: brands validated, assets streamed as multipart into
// the staging area, claimed by tenancy and checked by their bytes, re-encoded with sharp into the
// object store, and custom domains verified against a real DNS server started here (dns2) that the platform is pointed at
// (WHITELABEL_DNS_SERVERS → deps.whitelabel.dnsServers).

const HEADERS = { 'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.9` };
const PASSWORD = 'Whitelabel-Admin-Passphrase-4';

function ok(answer: RestAnswer, status = 200) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.status).toBe('success');
  return answer.body.data;
}

function forgeError(answer: RestAnswer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ status: 'error', error: { code } });
}

describe('whitelabel', () => {
  let t: TestPlatform;
  let tenantId: string;
  let adminToken: string;
  let otherTenantId: string;
  const txt = new Map<string, string[]>();
  let dnsServer: ReturnType<typeof dns2.createServer>;

  const upload = async (fields: Record<string, string>, file?: { bytes: Buffer; name: string; type: string }) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (file) form.append('file', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
    const response = await fetch(`${t.url}/api/v1/whitelabel/assets/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, ...HEADERS },
      body: form,
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as RestAnswer['body'] };
  };

  beforeAll(async () => {
    dnsServer = dns2.createServer({
      udp: true,
      handle: (request, send) => {
        const response = dns2.Packet.createResponseFromRequest(request);
        const [question] = request.questions;
        const values = question ? txt.get(question.name.toLowerCase()) : undefined;
        if (!values) response.header.rcode = 3; // NXDOMAIN
        for (const value of values ?? []) {
          response.answers.push({
            name: question!.name,
            type: dns2.Packet.TYPE.TXT,
            class: dns2.Packet.CLASS.IN,
            ttl: 60,
            data: value,
          } as never);
        }
        send(response);
      },
    });
    const addresses = (await dnsServer.listen({ udp: { port: 0, address: '127.0.0.1' } })) as { udp: { port: number } };
    t = await bootPlatform({ whitelabelDnsServers: [`127.0.0.1:${addresses.udp.port}`] });
    tenantId = (await createTenant(t, t.operatorKey, HEADERS, 'wl')).id;
    otherTenantId = (await createTenant(t, t.operatorKey, HEADERS, 'wl')).id;
    adminToken = await signInTenantAdmin(t, tenantId, { password: PASSWORD, headers: HEADERS });
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await dnsServer?.close();
  });

  const admin = (path: string, body: unknown) =>
    t.rest(path, { method: 'POST', token: adminToken, headers: HEADERS, body });

  it('creates a brand with validated colours, fonts and email templates', async () => {
    const data = ok(
      await admin('/api/v1/whitelabel/brands', {
        name: 'Acme Corp',
        config: {
          primary_color: '#1976D2',
          secondary_color: '#dc004e',
          logo_url: 'https://cdn.example.com/logo.png',
          fonts: { primary: 'Inter', secondary: 'Roboto' },
          email_templates: { welcome: { subject: 'Welcome to {{tenant_name}}', html: '<p>Hi {{ user_name }}</p>' } },
        },
      }),
      201,
    );
    expect(data).toMatchObject({
      tenant_id: tenantId,
      name: 'Acme Corp',
      config: { primary_color: '#1976d2', fonts: { primary: 'Inter', secondary: 'Roboto' } },
    });
    forgeError(
      await admin('/api/v1/whitelabel/brands', { name: 'Acme Corp', config: { primary_color: '#000' } }),
      409,
      'CONFLICT',
    );
    const bad = await admin('/api/v1/whitelabel/brands', {
      name: 'Bad',
      config: {
        primary_color: 'red',
        logo_url: 'http://insecure.example.com/x.png',
        fonts: { primary: 'Inter; } body { x' },
      },
    });
    forgeError(bad, 400, 'VALIDATION_ERROR');
    const paths = (bad.body.error.details.fields as Array<{ path: string }>).map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['config.primary_color', 'config.logo_url', 'config.fonts.primary']));
    const script = await admin('/api/v1/whitelabel/brands', {
      name: 'Scripted',
      config: {
        primary_color: '#111111',
        email_templates: { welcome: { subject: 'Hi {{password}}', html: '<img src=x onerror=alert(1)>' } },
      },
    });
    forgeError(script, 400, 'VALIDATION_ERROR');
    expect(JSON.stringify(script.body.error.details)).toContain('unknown placeholder {{password}}');
    // Another tenant's brand: refused by the tenant in the principal.
    forgeError(
      await admin('/api/v1/whitelabel/brands', {
        name: 'X',
        config: { primary_color: '#111' },
        tenant_id: otherTenantId,
      }),
      403,
      'TENANT_MISMATCH',
    );
  });

  it('uploads assets as multipart, sniffs the bytes, re-encodes with sharp into the object store', async () => {
    const png = await sharp({ create: { width: 2000, height: 1000, channels: 4, background: '#1976d2' } })
      .png()
      .withMetadata({ exif: { IFD0: { Copyright: 'secret-location' } } })
      .toBuffer();
    const answer = await upload({ type: 'logo' }, { bytes: png, name: 'logo.png', type: 'image/png' });
    const data = ok(answer, 201);
    expect(data).toMatchObject({
      tenant_id: tenantId,
      type: 'logo',
      content_type: 'image/png',
      width: 1024,
      height: 512,
      original: { size: png.length, content_type: 'image/png' },
    });
    const info = await t.platform.deps.blobs.stat(data.storage_key);
    expect(info?.size).toBe(data.size);
    const meta = await sharp(await streamToBuffer(await t.platform.deps.blobs.get(data.storage_key))).metadata();
    expect(meta).toMatchObject({ width: 1024, height: 512, format: 'png' });
    expect(meta.exif).toBeUndefined();

    // Brand referencing the asset.
    ok(
      await admin('/api/v1/whitelabel/brands', {
        name: 'With asset',
        config: { primary_color: '#222222', logo_asset_id: data.id },
      }),
      201,
    );

    // A text file named .png is refused by its bytes; so is SVG.
    forgeError(
      await upload({ type: 'logo' }, { bytes: Buffer.from('not an image at all'), name: 'x.png', type: 'image/png' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    forgeError(
      await upload(
        { type: 'favicon' },
        {
          bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
          name: 'x.svg',
          type: 'image/svg+xml',
        },
      ),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    // Over 512 KiB: refused while reading.
    const big = await upload(
      { type: 'banner' },
      { bytes: Buffer.alloc(600 * 1024, 1), name: 'big.png', type: 'image/png' },
    );
    forgeError(big, 413, 'PAYLOAD_TOO_LARGE');
    // Missing file or bad type: validation.
    forgeError(await upload({ type: 'logo' }), 400, 'VALIDATION_ERROR');
    forgeError(
      await upload({ type: 'wallpaper' }, { bytes: png, name: 'a.png', type: 'image/png' }),
      400,
      'VALIDATION_ERROR',
    );
    // Another tenant: refused by tenancy when it claims the staged bytes.
    forgeError(
      await upload({ type: 'logo', tenant_id: otherTenantId }, { bytes: png, name: 'a.png', type: 'image/png' }),
      403,
      'TENANT_MISMATCH',
    );
    // Every upload above was streamed into the admin's staging area; accepted or refused, none is left.
    const staging = stagingPrefix(stagingCallerId({ kind: 'user', id: decodeJwt(adminToken).sub! }));
    const left: string[] = [];
    for await (const blob of t.platform.deps.blobs.list(`${staging}/`)) left.push(blob.key);
    expect(left).toEqual([]);
  });

  it('verifies a custom domain by its TXT record on a real DNS server, honest about TLS', async () => {
    const domain = `${uniqueSlug('app')}.example.com`;
    const added = ok(
      await admin('/api/v1/whitelabel/domains', { domain, ssl_enabled: true, auto_provision_ssl: true }),
      201,
    );
    expect(added).toMatchObject({
      domain,
      status: 'pending_verification',
      verified: false,
      ssl: { enabled: true, auto_provision: true, status: 'not_provisioned' },
    });
    const [record] = added.dns_records as Array<{ type: string; name: string; value: string }>;
    expect(record).toEqual({
      type: 'TXT',
      name: `_platformforge.${domain}`,
      value: expect.stringMatching(/^verify=[0-9a-f]{48}$/),
    });

    // Nothing published yet.
    const before = ok(await admin(`/api/v1/whitelabel/domains/${domain}/verify`, {}));
    expect(before).toMatchObject({ verified: false, status: 'pending_verification' });
    expect(before.last_check_error).toMatch(/No TXT record/);
    // A wrong value.
    txt.set(record!.name, ['verify=wrong', 'v=spf1 -all']);
    expect(ok(await admin(`/api/v1/whitelabel/domains/${domain}/verify`, {}))).toMatchObject({ verified: false });
    // The right one, among others.
    txt.set(record!.name, ['v=spf1 -all', record!.value]);
    const after = ok(await admin(`/api/v1/whitelabel/domains/${domain}/verify`, {}));
    expect(after).toMatchObject({
      verified: true,
      status: 'verified',
      last_check_error: null,
      ssl: { status: 'not_provisioned' },
    });
    expect(after.verified_at).toEqual(expect.any(String));

    forgeError(await admin('/api/v1/whitelabel/domains', { domain }), 409, 'CONFLICT');
    forgeError(await admin('/api/v1/whitelabel/domains', { domain: '10.0.0.1' }), 400, 'VALIDATION_ERROR');
    forgeError(await admin('/api/v1/whitelabel/domains', { domain: 'localhost' }), 400, 'VALIDATION_ERROR');
    forgeError(await admin(`/api/v1/whitelabel/domains/unknown-${domain}/verify`, {}), 404, 'NOT_FOUND');
  });
});

async function streamToBuffer(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
