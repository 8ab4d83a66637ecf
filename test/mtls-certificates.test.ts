import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, type TestPlatform } from './support/platform.js';
import { expectRestError, uniqueClientIp } from './support/rest.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';

// The internal CA through the documented route: certificates it issues are real X.509, their key
// sealed CA survives in the database only sealed, and a node:tls server that requires client
// certificates accepts a client holding one, refuses one from elsewhere, and (with the CA's CRL)
// refuses a revoked one.

const headers = { 'x-forwarded-for': uniqueClientIp() };

interface Issued {
  certificate_id: string;
  certificate: string;
  private_key: string;
  ca_certificate: string;
  serial_number: string;
}

/** One TLS handshake with client-certificate verification; resolves the server's view or the error. */
async function handshake(options: {
  server: { cert: string; key: string; ca: string; crl?: string };
  client: { cert?: string; key?: string; ca: string; servername: string };
}): Promise<{ ok: true; peerCn: string; authorized: boolean } | { ok: false; error: string }> {
  const server = createServer(
    { ...options.server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket: TLSSocket) => {
      socket.end(`hello ${String(socket.getPeerCertificate().subject?.CN)}`);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      let socket: TLSSocket;
      try {
        socket = connect({ host: '127.0.0.1', port, ...options.client, minVersion: 'TLSv1.2' }, () => {
          let text = '';
          socket.on('data', (d: Buffer) => (text += d.toString()));
          socket.on('end', () =>
            text
              ? resolve({ ok: true, peerCn: text.replace(/^hello /, ''), authorized: socket.authorized })
              : resolve({ ok: false, error: 'closed without an answer' }),
          );
        });
      } catch (error) {
        // A key that does not match its certificate fails before any byte is sent.
        resolve({ ok: false, error: (error as Error).message });
        return;
      }
      socket.on('error', (error) => resolve({ ok: false, error: error.message }));
    });
  } finally {
    server.close();
  }
}

// Unique per run: suites share one database with earlier runs.
const paymentService = `payment-service-${Date.now().toString(36)}`;

describe('internal CA and mTLS certificates', () => {
  let t: TestPlatform;
  let server: Issued;
  let client: Issued;

  const issue = (body: Record<string, unknown>, token?: string) =>
    t.rest('/api/v1/security/mtls/certificates', { method: 'POST', body, headers, token });

  beforeAll(async () => {
    t = await bootPlatform();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('issues real X.509 certificates with SANs, validity, key usage and serial, as the documented request', async () => {
    const answer = await issue({
      service_name: 'api-service',
      common_name: 'api.internal',
      san: ['api.internal', 'api-service.svc', '127.0.0.1'],
      validity_days: 365,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.status).toBe('success');
    server = answer.body.data as Issued;
    expect(answer.body.data).toMatchObject({
      certificate_id: expect.stringMatching(/^crt_/),
      service_name: 'api-service',
      common_name: 'api.internal',
      san: ['api.internal', 'api-service.svc', '127.0.0.1'],
      key_usage: ['digital_signature', 'key_agreement'],
      extended_key_usage: ['server_auth', 'client_auth'],
      certificate: expect.stringMatching(/^-----BEGIN CERTIFICATE-----\n/),
      private_key: expect.stringMatching(/^-----BEGIN PRIVATE KEY-----\n/),
      ca_certificate: expect.stringMatching(/^-----BEGIN CERTIFICATE-----\n/),
    });
    // Read back by Node's own X.509 parser, independent of the library that wrote it.
    const cert = new X509Certificate(server.certificate);
    const ca = new X509Certificate(server.ca_certificate);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toContain('CN=api.internal');
    expect(cert.subjectAltName).toBe('DNS:api.internal, DNS:api-service.svc, IP Address:127.0.0.1');
    expect(cert.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(server.serial_number.replace(/^0+/, ''));
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    const days = (new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(365);
    expect(cert.checkPrivateKey(createPrivateKey(server.private_key))).toBe(true);
    expect(answer.body.data.fingerprint_sha256).toBe(cert.fingerprint256.replaceAll(':', '').toLowerCase());

    // The CA key is stored sealed, never as PEM.
    const row = await t.platform.db.prisma.certificateAuthority.findUniqueOrThrow({ where: { id: 'internal' } });
    expect(row.privateKey).toMatch(/^sb1:/);
    expect(row.privateKey).not.toContain('PRIVATE KEY');
    // Never stored: the leaf private key.
    const leaf = await t.platform.db.prisma.issuedCertificate.findUniqueOrThrow({
      where: { id: server.certificate_id },
    });
    expect(JSON.stringify(leaf)).not.toContain('PRIVATE KEY');
  });

  it('proves the certificates work: a TLS handshake with client-certificate verification', async () => {
    client = (await issue({ service_name: paymentService, common_name: 'payment.internal', validity_days: 30 })).body
      .data as Issued;
    const result = await handshake({
      server: { cert: server.certificate, key: server.private_key, ca: server.ca_certificate },
      client: {
        cert: client.certificate,
        key: client.private_key,
        ca: client.ca_certificate,
        servername: 'api.internal',
      },
    });
    expect(result).toEqual({ ok: true, peerCn: 'payment.internal', authorized: true });

    // A client without a certificate, and one with a self-made certificate, are refused.
    const anonymous = await handshake({
      server: { cert: server.certificate, key: server.private_key, ca: server.ca_certificate },
      client: { ca: server.ca_certificate, servername: 'api.internal' },
    });
    expect(anonymous.ok).toBe(false);
    const outsider = (await issue({ service_name: 'x', common_name: 'x.internal' })).body.data as Issued;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await handshake({
      server: { cert: server.certificate, key: server.private_key, ca: server.ca_certificate },
      client: {
        cert: outsider.certificate,
        key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        ca: server.ca_certificate,
        servername: 'api.internal',
      },
    });
    expect(forged.ok).toBe(false);
    // The server name must be in the SANs.
    const wrongName = await handshake({
      server: { cert: server.certificate, key: server.private_key, ca: server.ca_certificate },
      client: {
        cert: client.certificate,
        key: client.private_key,
        ca: client.ca_certificate,
        servername: 'other.internal',
      },
    });
    expect(wrongName).toMatchObject({ ok: false, error: expect.stringMatching(/altnames|Hostname/i) });
  });

  it('revokes: the CA’s CRL lists the serial and a server using it refuses the client', async () => {
    const revoked = await t.graphql<{ revokeCertificate: { revokedAt: string; revocationReason: string } }>(
      `mutation ($id: ID!) { revokeCertificate(id: $id, reason: "key_compromise") { revokedAt revocationReason } }`,
      { id: client.certificate_id },
      { headers },
    );
    expect(revoked.body.errors).toBeUndefined();
    expect(revoked.body.data!.revokeCertificate.revocationReason).toBe('key_compromise');
    const { body } = await t.graphql<{
      certificateAuthority: { crlPem: string; certificatePem: string; crlNumber: number };
    }>(`{ certificateAuthority { certificatePem crlPem crlNumber } }`, {}, { headers });
    const { crlPem, crlNumber } = body.data!.certificateAuthority;
    expect(crlPem).toMatch(/^-----BEGIN X509 CRL-----/);
    expect(crlNumber).toBeGreaterThanOrEqual(1);
    const refused = await handshake({
      server: { cert: server.certificate, key: server.private_key, ca: server.ca_certificate, crl: crlPem },
      client: {
        cert: client.certificate,
        key: client.private_key,
        ca: client.ca_certificate,
        servername: 'api.internal',
      },
    });
    expect(refused.ok).toBe(false);
    // Another client of the same CA still gets in with the same CRL.
    const fresh = (await issue({ service_name: paymentService, common_name: 'payment2.internal' })).body.data as Issued;
    const accepted = await handshake({
      server: { cert: server.certificate, key: server.private_key, ca: server.ca_certificate, crl: crlPem },
      client: { cert: fresh.certificate, key: fresh.private_key, ca: fresh.ca_certificate, servername: 'api.internal' },
    });
    expect(accepted).toMatchObject({ ok: true, peerCn: 'payment2.internal' });
    const listed = await t.graphql<{
      certificates: { total: number; certificates: { id: string; revokedAt: string | null }[] };
    }>(
      `query ($service: String) { certificates(serviceName: $service) { total certificates { id revokedAt } } }`,
      { service: paymentService },
      { headers },
    );
    expect(listed.body.data!.certificates.total).toBe(2);
  });

  it('validates input and requires admin:security', async () => {
    expectRestError(
      'platform-forge',
      await issue({ service_name: 'a', common_name: 'a', san: ['not a name!'] }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'platform-forge',
      await issue({ service_name: 'a', common_name: 'a', validity_days: 5000 }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError('platform-forge', await issue({ common_name: 'a' }), 400, 'VALIDATION_ERROR');
    expectRestError(
      'platform-forge',
      await issue({ service_name: 'a', common_name: 'a.internal' }, ''),
      401,
      'UNAUTHORIZED',
    );
    const tenant = await createTenant(t, t.operatorKey, headers, 'ca');
    const user = await signInTenantAdmin(t, tenant.id, { password: 'Ca-Admin-Passphrase-3', headers });
    // A tenant admin holds admin:security for its own tenant's users; the CA every service trusts is
    // platform-wide, so only callers not bound to a tenant may use it.
    const answer = await issue({ service_name: 'a', common_name: 'a.internal' }, user);
    expectRestError('platform-forge', answer, 403, 'FORBIDDEN');
  });
});
