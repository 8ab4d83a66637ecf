import { z } from 'zod';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// platform-forge "Security Advanced" (mTLS certificates, service mesh) and "Marketplace" modules.
// The documents give requests only; answers are snake_case like the rest of the dialect. The
// platform subgraph decides everything; these rows map shapes.

interface CertificateData {
  id: string;
  serialNumber: string;
  serviceName: string;
  commonName: string;
  san: string[];
  keyUsage: string[];
  extendedKeyUsage: string[];
  notBefore: string;
  notAfter: string;
  certificatePem: string;
  fingerprintSha256: string;
}

const issueCertificate = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/security/mtls/certificates',
  summary: 'Issue an X.509 certificate for a service from the internal CA (TLS server and client auth)',
  operation: `mutation IssueCertificate($input: IssueCertificateInput!) {
    issueCertificate(input: $input) {
      certificate { id serialNumber serviceName commonName san keyUsage extendedKeyUsage notBefore notAfter certificatePem fingerprintSha256 }
      privateKeyPem caCertificatePem
    }
  }`,
  input: {
    body: z.object({
      service_name: z.string().min(1).max(100),
      common_name: z.string().min(1).max(64),
      san: z.array(z.string().min(1).max(253)).max(50).optional(),
      validity_days: z.number().int().min(1).max(825).optional(),
      key_usage: z.array(z.string().max(40)).max(4).optional(),
      extended_key_usage: z.array(z.string().max(40)).max(2).optional(),
      csr: z
        .string()
        .max(16_000)
        .optional()
        .describe('PKCS#10 PEM; when given, no private key is generated or returned'),
    }),
  },
  variables: ({ body }) => ({
    input: {
      serviceName: body.service_name,
      commonName: body.common_name,
      san: body.san ?? null,
      validityDays: body.validity_days ?? null,
      keyUsage: body.key_usage ?? null,
      extendedKeyUsage: body.extended_key_usage ?? null,
      csr: body.csr ?? null,
    },
  }),
  status: 201,
  respond: (data: {
    issueCertificate: { certificate: CertificateData; privateKeyPem: string | null; caCertificatePem: string };
  }) => {
    const { certificate: c, privateKeyPem, caCertificatePem } = data.issueCertificate;
    return {
      certificate_id: c.id,
      serial_number: c.serialNumber,
      service_name: c.serviceName,
      common_name: c.commonName,
      san: c.san,
      key_usage: c.keyUsage,
      extended_key_usage: c.extendedKeyUsage,
      not_before: c.notBefore,
      not_after: c.notAfter,
      fingerprint_sha256: c.fingerprintSha256,
      certificate: c.certificatePem,
      private_key: privateKeyPem,
      ca_certificate: caCertificatePem,
    };
  },
  response: z.object({
    certificate_id: z.string(),
    serial_number: z.string().describe('Hex'),
    service_name: z.string(),
    common_name: z.string(),
    san: z.array(z.string()),
    key_usage: z.array(z.string()),
    extended_key_usage: z.array(z.string()),
    not_before: isoTimestamp,
    not_after: isoTimestamp,
    fingerprint_sha256: z.string(),
    certificate: z.string().describe('PEM'),
    private_key: z.string().nullable().describe('PKCS#8 PEM, shown once and never stored; null when a CSR was sent'),
    ca_certificate: z.string().describe('PEM of the issuing CA, for the trust store'),
  }),
});

export const platformForgeTrustRoutes: RestRoute[] = [issueCertificate];
