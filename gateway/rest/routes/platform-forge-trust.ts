import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp, paginationSchema } from '../schemas.js';

// platform-forge "Security Advanced" (mTLS certificates, service mesh) and "Marketplace" modules.
// The documents give requests only; answers are snake_case like the rest of the dialect. The
// platform subgraph decides everything; these rows map shapes.

const issueCertificate = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/security/mtls/certificates',
  summary: 'Issue an X.509 certificate for a service from the internal CA (TLS server and client auth)',
  operation: graphql(`
    mutation IssueCertificate($input: IssueCertificateInput!) {
      issueCertificate(input: $input) {
        certificate {
          id
          serialNumber
          serviceName
          commonName
          san
          keyUsage
          extendedKeyUsage
          notBefore
          notAfter
          certificatePem
          fingerprintSha256
        }
        privateKeyPem
        caCertificatePem
      }
    }
  `),
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
  respond: (data) => {
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

const registerService = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/security/mesh/services/register',
  summary: 'Register (or re-register) a service in the mesh registry; its health is then checked on a schedule',
  operation: graphql(`
    mutation RegisterMeshService($input: RegisterMeshServiceInput!) {
      registerMeshService(input: $input) {
        id
        name
        endpoints
        healthCheckPath
        healthCheckIntervalSeconds
        policies {
          requireMtls
          allowedCallers
          rateLimit
          retries
          timeoutMs
        }
        status
        lastCheckedAt
        createdAt
        updatedAt
      }
    }
  `),
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
  respond: ({ registerMeshService: s }) => ({
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

interface ExtensionData {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  category: string;
  publisher: string | null;
  latestVersion: string;
  installCount: number;
  permissions: string[];
  createdAt: string;
  updatedAt: string;
}

const extensionResponse = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  category: z.string(),
  publisher: z.string().nullable(),
  latest_version: z.string(),
  install_count: z.number().int(),
  permissions: z.array(z.string()).describe('What the latest version asks for'),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

function toExtension(e: ExtensionData): z.infer<typeof extensionResponse> {
  return {
    id: e.id,
    slug: e.slug,
    name: e.name,
    description: e.description,
    category: e.category,
    publisher: e.publisher,
    latest_version: e.latestVersion,
    install_count: e.installCount,
    permissions: e.permissions,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  };
}

const positiveInt = z.coerce.number().int().min(1);

const listExtensions = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/marketplace/extensions',
  summary: 'The extension catalogue: filter by category, search, sort (popular, newest, name), page',
  operation: graphql(`
    query MarketplaceExtensions($category: String, $search: String, $sort: String, $page: Int, $limit: Int) {
      marketplaceExtensions(category: $category, search: $search, sort: $sort, page: $page, limit: $limit) {
        extensions {
          id
          slug
          name
          description
          category
          publisher
          latestVersion
          installCount
          permissions
          createdAt
          updatedAt
        }
        page
        limit
        total
        pages
      }
    }
  `),
  input: {
    query: z.object({
      category: z.string().max(40).optional(),
      search: z.string().max(100).optional(),
      sort: z.enum(['popular', 'newest', 'rating', 'name']).optional(),
      page: positiveInt.optional(),
      limit: positiveInt.max(100).optional(),
    }),
  },
  variables: ({ query }) => ({
    category: query.category ?? null,
    search: query.search ?? null,
    sort: query.sort ?? null,
    page: query.page ?? null,
    limit: query.limit ?? null,
  }),
  respond: ({ marketplaceExtensions: p }) => ({
    extensions: p.extensions.map(toExtension),
    pagination: { page: p.page, limit: p.limit, total: p.total, pages: p.pages },
  }),
  response: z.object({ extensions: z.array(extensionResponse), pagination: paginationSchema }),
});

const publishExtension = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/marketplace/extensions/publish',
  summary:
    'Publish an extension (or a higher version of it): manifest validated, package (base64) checked against manifest.checksum and stored',
  operation: graphql(`
    mutation PublishExtension($input: PublishExtensionInput!) {
      publishExtension(input: $input) {
        extension {
          id
          slug
          name
          description
          category
          publisher
          latestVersion
          installCount
          permissions
          createdAt
          updatedAt
        }
        version
        manifest
        packageSha256
        packageSize
        publishedAt
      }
    }
  `),
  input: {
    body: z.object({
      name: z.string().min(1).max(100),
      version: z.string().min(1).max(64),
      description: z.string().max(2000).optional(),
      category: z.string().min(1).max(40),
      manifest: z
        .record(z.string(), z.unknown())
        .describe(
          'entrypoint, permissions[], configuration{key:{type,required,secret}}, checksum "sha256:<hex>", publisher, homepage, platform_version',
        ),
      package: z.string().min(1).describe('The package bytes, base64 (at most 512 KiB)'),
    }),
  },
  variables: ({ body }) => ({ input: { ...body, description: body.description ?? null } }),
  status: 201,
  respond: ({ publishExtension: p }) => ({
    extension: toExtension(p.extension),
    version: p.version,
    manifest: p.manifest as Record<string, unknown>,
    package: { sha256: p.packageSha256, size: p.packageSize },
    published_at: p.publishedAt,
  }),
  response: z.object({
    extension: extensionResponse,
    version: z.string(),
    manifest: z.record(z.string(), z.unknown()).describe('As validated, with defaults filled in'),
    package: z.object({ sha256: z.string(), size: z.number().int() }),
    published_at: isoTimestamp,
  }),
});

const installExtension = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/marketplace/extensions/{extension_id}/install',
  summary:
    "Install an extension for the caller's tenant: configuration checked against the manifest, secrets sealed, permissions granted",
  operation: graphql(`
    mutation InstallExtension($input: InstallExtensionInput!) {
      installExtension(input: $input) {
        id
        tenantId
        extensionId
        extensionName
        version
        status
        configuration
        secretKeys
        grantedPermissions
        grantedBy
        installedAt
        updatedAt
      }
    }
  `),
  input: {
    params: z.object({ extension_id: z.string().min(1).max(100) }),
    body: z.object({
      version: z.string().max(64).optional(),
      configuration: z.record(z.string(), z.unknown()).optional(),
      tenant_id: z.string().max(100).optional().describe('Operators only; a tenant-bound caller gets its own tenant'),
    }),
  },
  variables: ({ params, body }) => ({
    input: {
      extensionId: params.extension_id,
      version: body.version ?? null,
      configuration: body.configuration ?? null,
      tenantId: body.tenant_id ?? null,
    },
  }),
  status: 201,
  respond: ({ installExtension: i }) => ({
    installation_id: i.id,
    extension_id: i.extensionId,
    extension_name: i.extensionName,
    tenant_id: i.tenantId,
    version: i.version,
    status: i.status,
    configuration: i.configuration as Record<string, unknown>,
    secret_keys: i.secretKeys,
    granted_permissions: i.grantedPermissions,
    granted_by: i.grantedBy,
    installed_at: i.installedAt,
    updated_at: i.updatedAt,
  }),
  response: z.object({
    installation_id: z.string(),
    extension_id: z.string(),
    extension_name: z.string(),
    tenant_id: z.string(),
    version: z.string(),
    status: z.string(),
    configuration: z.record(z.string(), z.unknown()).describe('Values that are not secrets'),
    secret_keys: z.array(z.string()).describe('Keys whose values are stored sealed and never returned'),
    granted_permissions: z.array(z.string()),
    granted_by: z.string(),
    installed_at: isoTimestamp,
    updated_at: isoTimestamp,
  }),
});

export const platformForgeTrustRoutes: RestRoute[] = [
  issueCertificate,
  registerService,
  listExtensions,
  publishExtension,
  installExtension,
];
