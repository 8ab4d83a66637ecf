import { createHash, randomBytes, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { parseIpLiteral } from '../../../../lib/outbound-address.js';
import { pageInput, pageWindow, paginationOf, type Pagination } from '../../../../lib/pagination.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import { requirePlatformScope } from '../trust/platform-scope.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Prisma } from '../../../../prisma/generated/client.js';
import { type CertificateAuthority, type IssuedCertificate } from '../../../../prisma/generated/client.js';

export type { IssuedCertificate };

/**
 * The platform's internal certificate authority: one ECDSA P-256 CA, made on first use, its key
 * sealed with the platform secret box (lib/secret-box.ts). It issues X.509 v3 certificates for
 * services and devices (SANs, validity, key usage, extended key usage for TLS server and client,
 * random 128-bit serials) and signs a revocation list (CRL) of what it revoked. All encoding is
 * done by @peculiar/x509 on Node's WebCrypto.
 */

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const CA_ID = 'internal';
const CA_NAME = 'CN=Platform Internal CA,O=Platform';
const CA_VALIDITY_YEARS = 10;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** How long a CRL is good for; relying parties fetch a new one before then. */
const CRL_VALIDITY_MS = 24 * 3600_000;
export const MAX_VALIDITY_DAYS = 825;

export const KEY_USAGES = {
  digital_signature: x509.KeyUsageFlags.digitalSignature,
  key_encipherment: x509.KeyUsageFlags.keyEncipherment,
  key_agreement: x509.KeyUsageFlags.keyAgreement,
  non_repudiation: x509.KeyUsageFlags.nonRepudiation,
} as const;
export const EXTENDED_KEY_USAGES = {
  server_auth: x509.ExtendedKeyUsage.serverAuth,
  client_auth: x509.ExtendedKeyUsage.clientAuth,
} as const;
type KeyUsageName = keyof typeof KEY_USAGES;
type ExtendedKeyUsageName = keyof typeof EXTENDED_KEY_USAGES;

const REVOCATION_REASONS = {
  unspecified: x509.X509CrlReason.unspecified,
  key_compromise: x509.X509CrlReason.keyCompromise,
  affiliation_changed: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessation_of_operation: x509.X509CrlReason.cessationOfOperation,
} as const;
export const REVOCATION_REASON_NAMES = Object.keys(REVOCATION_REASONS) as (keyof typeof REVOCATION_REASONS)[];

interface LoadedCa {
  row: CertificateAuthority;
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

function toPem(der: ArrayBuffer, label: string): string {
  return `${x509.PemConverter.encode(der, label)}\n`;
}

async function importCa(deps: SubgraphDeps, row: CertificateAuthority): Promise<LoadedCa> {
  const pem = deps.secretBox.open(row.privateKey);
  const der = x509.PemConverter.decode(pem)[0]!;
  const privateKey = await crypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
  return { row, certificate: new x509.X509Certificate(row.certificatePem), privateKey };
}

/** 128 random bits, top bit clear so the DER integer stays positive (RFC 5280 §4.1.2.2). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

/** The CA, made once: concurrent first uses race on the row's id and all read the winner. */
async function loadOrCreateCa(deps: SubgraphDeps): Promise<LoadedCa> {
  const existing = await deps.db.prisma.certificateAuthority.findUnique({ where: { id: CA_ID } });
  if (existing) return importCa(deps, existing);
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const serialNumber = newSerial();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: CA_NAME,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  await deps.db.prisma.certificateAuthority.createMany({
    data: [
      {
        id: CA_ID,
        commonName: 'Platform Internal CA',
        certificatePem: certificate.toString('pem'),
        privateKey: deps.secretBox.seal(toPem(pkcs8, 'PRIVATE KEY')),
        serialNumber,
        notBefore,
        notAfter,
      },
    ],
    skipDuplicates: true,
  });
  return importCa(deps, await deps.db.prisma.certificateAuthority.findUniqueOrThrow({ where: { id: CA_ID } }));
}

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

type SanEntry = { type: 'dns' | 'ip' | 'url'; value: string };

/** `api.internal` → DNS, `10.0.0.5` / `::1` → IP, `spiffe://…` → URI; anything else is refused. */
function parseSan(value: string): SanEntry | null {
  if (/^spiffe:\/\/[a-z0-9.-]+(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/i.test(value)) return { type: 'url', value };
  const ip = parseIpLiteral(value);
  if (ip) return { type: 'ip', value: ip.toString() };
  if (DNS_NAME.test(value) && value.length <= 253) return { type: 'dns', value: value.toLowerCase() };
  return null;
}

const issueInput = z
  .object({
    serviceName: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore'),
    commonName: z.string().trim().min(1).max(64),
    san: z.array(z.string().trim().min(1).max(253)).max(50).nullish(),
    validityDays: z.number().int().min(1).max(MAX_VALIDITY_DAYS).nullish(),
    keyUsage: z
      .array(z.enum(Object.keys(KEY_USAGES) as [KeyUsageName, ...KeyUsageName[]]))
      .min(1)
      .max(4)
      .nullish(),
    extendedKeyUsage: z
      .array(z.enum(Object.keys(EXTENDED_KEY_USAGES) as [ExtendedKeyUsageName, ...ExtendedKeyUsageName[]]))
      .min(1)
      .max(2)
      .nullish(),
    /** A PKCS#10 request: the certificate is for its key, and no private key is made or returned. */
    csr: z.string().max(16_000).nullish(),
  })
  .superRefine((v, ctx) => {
    (v.san ?? []).forEach((s, i) => {
      if (!parseSan(s))
        ctx.addIssue({ code: 'custom', path: ['san', i], message: 'a DNS name, an IP address or a spiffe:// URI' });
    });
  });

export interface IssuedCertificateWithKey {
  certificate: IssuedCertificate;
  /** PKCS#8 PEM of the new key; null when the caller sent a CSR (its key never left it). */
  privateKeyPem: string | null;
  caCertificatePem: string;
}

export async function issueCertificate({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof issueInput>;
}): Promise<IssuedCertificateWithKey> {
  const caller = requirePlatformScope(principal, 'admin:security');
  const data = parseInput(issueInput, input);
  const ca = await loadOrCreateCa(deps);
  const san = [...new Set(data.san ?? [data.commonName])].map((s) => parseSan(s)!);
  if (san.some((s) => !s)) throw new AppError('VALIDATION_ERROR', 'The common name is not a valid SAN; list SANs');

  let publicKey: CryptoKey | x509.PublicKey;
  let privateKeyPem: string | null = null;
  if (data.csr) {
    let request: x509.Pkcs10CertificateRequest;
    try {
      request = new x509.Pkcs10CertificateRequest(data.csr);
    } catch {
      throw new AppError('VALIDATION_ERROR', 'csr is not a PEM certificate request');
    }
    if (!(await request.verify())) throw new AppError('VALIDATION_ERROR', 'The CSR signature does not verify');
    publicKey = request.publicKey;
  } else {
    const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
    publicKey = keys.publicKey;
    privateKeyPem = toPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  }

  const notBefore = new Date(Date.now() - 60_000);
  const requested = new Date(notBefore.getTime() + (data.validityDays ?? 365) * 86_400_000 + 60_000);
  // Never past the CA itself: a relying party would refuse the chain anyway.
  const notAfter = requested < ca.row.notAfter ? requested : ca.row.notAfter;
  const keyUsage = data.keyUsage ?? ['digital_signature', 'key_agreement'];
  const extendedKeyUsage = data.extendedKeyUsage ?? ['server_auth', 'client_auth'];
  const serialNumber = newSerial();
  const subject = new x509.Name([{ CN: [data.commonName] }, { OU: [data.serviceName] }, { O: ['Platform'] }]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: subject.toString(),
    issuer: ca.certificate.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        keyUsage.reduce((flags, name) => flags | KEY_USAGES[name], 0),
        true,
      ),
      new x509.ExtendedKeyUsageExtension(extendedKeyUsage.map((name) => EXTENDED_KEY_USAGES[name])),
      new x509.SubjectAlternativeNameExtension(san.map((s) => ({ type: s.type, value: s.value }))),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  const fingerprint = createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex');
  const certificate = await deps.db.prisma.issuedCertificate.create({
    data: {
      id: newId('crt'),
      serialNumber,
      serviceName: data.serviceName,
      commonName: data.commonName,
      san: san.map((s) => s.value),
      keyUsage,
      extendedKeyUsage,
      notBefore,
      notAfter,
      certificatePem: cert.toString('pem'),
      fingerprint,
      issuedBy: caller.id,
    },
  });
  return { certificate, privateKeyPem, caCertificatePem: ca.row.certificatePem };
}

const listInput = z.object({ serviceName: z.string().max(100).nullish(), ...pageInput() });

export async function listCertificates({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof listInput>;
}): Promise<{ certificates: IssuedCertificate[]; pagination: Pagination }> {
  requirePlatformScope(principal, 'admin:security');
  const data = parseInput(listInput, input);
  const where: Prisma.IssuedCertificateWhereInput = data.serviceName ? { serviceName: data.serviceName } : {};
  const [total, certificates] = await Promise.all([
    deps.db.prisma.issuedCertificate.count({ where }),
    deps.db.prisma.issuedCertificate.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      ...pageWindow(data),
    }),
  ]);
  return { certificates, pagination: paginationOf(data, total) };
}

export async function revokeCertificate({
  deps,
  principal,
  id,
  reason,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
  reason?: string | null;
}): Promise<IssuedCertificate> {
  requirePlatformScope(principal, 'admin:security');
  const why = parseInput(
    z.enum(REVOCATION_REASON_NAMES as [string, ...string[]]).default('unspecified'),
    reason ?? undefined,
  );
  const existing = await deps.db.prisma.issuedCertificate.findUnique({ where: { id } });
  if (!existing) throw new AppError('NOT_FOUND', 'Certificate not found', { id });
  if (existing.revokedAt) return existing;
  return deps.db.prisma.issuedCertificate.update({
    where: { id },
    data: { revokedAt: new Date(), revocationReason: why },
  });
}

/** DER of a small non-negative INTEGER, for the CRL number extension (RFC 5280 §5.2.3). */
function derInteger(n: number): ArrayBuffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from([0x02, bytes.length, ...bytes]).buffer;
}

export interface CertificateAuthorityInfo {
  certificatePem: string;
  notBefore: Date;
  notAfter: Date;
  /** A freshly signed CRL of every revoked certificate still within its validity. */
  crlPem: string;
  crlNumber: number;
}

/** The CA certificate and a current CRL. Readable by anyone holding read:system (relying services). */
export async function getCertificateAuthority({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<CertificateAuthorityInfo> {
  requireScope(principal, 'read:system');
  const ca = await loadOrCreateCa(deps);
  const now = new Date();
  const revoked = await deps.db.prisma.issuedCertificate.findMany({
    where: { revokedAt: { not: null }, notAfter: { gt: now } },
    orderBy: { revokedAt: 'asc' },
  });
  const { crlNumber } = await deps.db.prisma.certificateAuthority.update({
    where: { id: CA_ID },
    data: { crlNumber: { increment: 1 } },
  });
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.certificate.subject,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
    signingAlgorithm: ALGORITHM,
    signingKey: ca.privateKey,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
      new x509.Extension('2.5.29.20', false, derInteger(crlNumber)),
    ],
    entries: revoked.map((c) => ({
      serialNumber: c.serialNumber,
      revocationDate: c.revokedAt!,
      reason: REVOCATION_REASONS[(c.revocationReason ?? 'unspecified') as keyof typeof REVOCATION_REASONS],
    })),
  });
  return {
    certificatePem: ca.row.certificatePem,
    notBefore: ca.row.notBefore,
    notAfter: ca.row.notAfter,
    // RFC 7468's label, the one OpenSSL (and so node:tls) reads.
    crlPem: toPem(crl.rawData, 'X509 CRL'),
    crlNumber,
  };
}
