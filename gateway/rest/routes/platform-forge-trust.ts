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

interface MeshServiceData {
  id: string;
  name: string;
  endpoints: string[];
  healthCheckPath: string | null;
  healthCheckIntervalSeconds: number;
  policies: {
    requireMtls: boolean;
    allowedCallers: string[];
    rateLimit: number | null;
    retries: number;
    timeoutMs: number;
  };
  status: string;
  lastCheckedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

const MESH_FIELDS = `id name endpoints healthCheckPath healthCheckIntervalSeconds
  policies { requireMtls allowedCallers rateLimit retries timeoutMs } status lastCheckedAt createdAt updatedAt`;

const registerService = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/security/mesh/services/register',
  summary: 'Register (or re-register) a service in the mesh registry; its health is then checked on a schedule',
  operation: `mutation RegisterMeshService($input: RegisterMeshServiceInput!) { registerMeshService(input: $input) { ${MESH_FIELDS} } }`,
  input: {
    body: z.object({
      name: z.string().min(1).max(63),
      endpoints: z.array(z.string().max(2048)).min(1).max(20),
      health_check: z
        .object({
          path: z.string().max(512).optional(),
          interval_seconds: z.number().int().min(1).max(3600).optional(),
        })
        .optional(),
      policies: z
        .object({
          require_mtls: z.boolean().optional(),
          allowed_callers: z.array(z.string().max(63)).max(100).optional(),
          rate_limit: z.number().int().min(1).max(1_000_000).optional(),
          retries: z.number().int().min(0).max(10).optional(),
          timeout_ms: z.number().int().min(10).max(120_000).optional(),
        })
        .optional(),
    }),
  },
  variables: ({ body }) => ({
    input: {
      name: body.name,
      endpoints: body.endpoints,
      healthCheck: body.health_check
        ? { path: body.health_check.path ?? null, intervalSeconds: body.health_check.interval_seconds ?? null }
        : null,
      policies: body.policies
        ? {
            requireMtls: body.policies.require_mtls ?? null,
            allowedCallers: body.policies.allowed_callers ?? null,
            rateLimit: body.policies.rate_limit ?? null,
            retries: body.policies.retries ?? null,
            timeoutMs: body.policies.timeout_ms ?? null,
          }
        : null,
    },
  }),
  status: 201,
  respond: ({ registerMeshService: s }: { registerMeshService: MeshServiceData }) => ({
    service_id: s.id,
    name: s.name,
    endpoints: s.endpoints,
    health_check: { path: s.healthCheckPath, interval_seconds: s.healthCheckIntervalSeconds },
    policies: {
      require_mtls: s.policies.requireMtls,
      allowed_callers: s.policies.allowedCallers,
      rate_limit: s.policies.rateLimit,
      retries: s.policies.retries,
      timeout_ms: s.policies.timeoutMs,
    },
    status: s.status,
    last_checked_at: s.lastCheckedAt,
    registered_at: s.createdAt,
    updated_at: s.updatedAt,
  }),
  response: z.object({
    service_id: z.string(),
    name: z.string(),
    endpoints: z.array(z.string()),
    health_check: z.object({ path: z.string().nullable(), interval_seconds: z.number().int() }),
    policies: z.object({
      require_mtls: z.boolean(),
      allowed_callers: z.array(z.string()),
      rate_limit: z.number().int().nullable().describe('Requests per minute'),
      retries: z.number().int(),
      timeout_ms: z.number().int(),
    }),
    status: z.string().describe('unknown until the first check, then up, degraded or down'),
    last_checked_at: isoTimestamp.nullable(),
    registered_at: isoTimestamp,
    updated_at: isoTimestamp,
  }),
});

export const platformForgeTrustRoutes: RestRoute[] = [issueCertificate, registerService];
