import { z } from 'zod';
import { graphql, type ResultOf } from '../graphql.js';
import { receiveMultipartUpload } from '../multipart.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// platform-forge "Whitelabel Module". Brands, assets and custom domains belong to a tenant
// (tenancy). The document shows request bodies and the verify answer; the other answers use its
// snake_case. TLS: the platform issues no certificates (no ACME client) and says so in `ssl`.

const tenantId = z
  .string()
  .min(1)
  .max(100)
  .optional()
  .describe('Operators and project keys; others act on their own tenant');

const createBrand = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/whitelabel/brands',
  summary: 'Create a brand for the tenant (colours, fonts, logo, email templates)',
  status: 201,
  input: {
    body: z.object({
      name: z.string().min(1).max(100),
      config: z
        .record(z.string(), z.unknown())
        .describe(
          'primary_color (required), secondary_color, accent_color, background_color, text_color (#rgb/#rrggbb/#rrggbbaa); logo_url (https) or logo_asset_id; favicon_asset_id; fonts {primary, secondary}; email_templates {welcome|password_reset|invitation|mfa_code|invoice: {subject, html?, text?}}',
        ),
      tenant_id: tenantId,
    }),
  },
  operation: graphql(`
    mutation ForgeCreateBrand($tenantId: ID, $name: String!, $config: JSON!) {
      createBrand(tenantId: $tenantId, name: $name, config: $config) {
        id
        tenantId
        name
        config
        createdAt
      }
    }
  `),
  variables: ({ body }) => ({ tenantId: body.tenant_id, name: body.name, config: body.config }),
  respond: ({ createBrand: b }) => ({
    id: b.id,
    tenant_id: b.tenantId,
    name: b.name,
    config: b.config as Record<string, unknown>,
    created_at: b.createdAt,
  }),
  response: z.object({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string(),
    config: z.record(z.string(), z.unknown()),
    created_at: isoTimestamp,
  }),
});

const uploadAsset = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/whitelabel/assets/upload',
  summary: 'Upload a brand asset (multipart/form-data: file, type, tenant_id)',
  status: 201,
  // Streamed into the object store's staging area (upload ticket `brand_asset`: write:tenants,
  // 512 KiB); tenancy claims the staged bytes, checks and re-encodes them, and deletes them.
  receiveBody: async (req, ctx) => {
    const { fields, staged } = await receiveMultipartUpload(req, ctx, { purpose: 'brand_asset' });
    return {
      staging_key: staged.key,
      sha256: staged.sha256,
      filename: staged.filename,
      type: fields.type ?? '',
      tenant_id: fields.tenant_id || undefined,
    };
  },
  // Loose on purpose: tenancy validates (and deletes the staged bytes when it refuses).
  input: {
    body: z.object({
      staging_key: z.string(),
      sha256: z.string(),
      filename: z.string().nullable(),
      type: z.string().describe('logo | favicon | banner'),
      tenant_id: z.string().optional(),
    }),
  },
  operation: graphql(`
    mutation ForgeUploadAsset(
      $tenantId: ID
      $type: String!
      $filename: String
      $stagingKey: String!
      $sha256: String!
    ) {
      uploadBrandAsset(
        tenantId: $tenantId
        type: $type
        filename: $filename
        stagingKey: $stagingKey
        sha256: $sha256
      ) {
        id
        tenantId
        type
        contentType
        size
        sha256
        width
        height
        originalSize
        originalType
        storageKey
        createdAt
      }
    }
  `),
  variables: ({ body }) => ({
    tenantId: body.tenant_id,
    type: body.type,
    filename: body.filename?.slice(0, 255) ?? null,
    stagingKey: body.staging_key,
    sha256: body.sha256,
  }),
  respond: ({ uploadBrandAsset: a }) => ({
    id: a.id,
    tenant_id: a.tenantId,
    type: a.type,
    content_type: a.contentType,
    size: a.size,
    sha256: a.sha256,
    width: a.width,
    height: a.height,
    original: { size: a.originalSize, content_type: a.originalType },
    storage_key: a.storageKey,
    created_at: a.createdAt,
  }),
  response: z.object({
    id: z.string(),
    tenant_id: z.string(),
    type: z.string(),
    content_type: z.string().describe('Of the stored image: re-encoded, metadata stripped, resized to fit'),
    size: z.number().int(),
    sha256: z.string(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    original: z.object({ size: z.number().int().nullable(), content_type: z.string().nullable() }),
    storage_key: z.string(),
    created_at: isoTimestamp,
  }),
});

const DomainFields = graphql(`
  fragment DomainFields on CustomDomain {
    id
    tenantId
    domain
    status
    verified
    sslEnabled
    autoProvisionSsl
    tlsStatus
    tlsReason
    dnsRecords {
      type
      name
      value
    }
    verifiedAt
    lastCheckedAt
    lastCheckError
    createdAt
  }
`);

function toDomain(d: ResultOf<typeof DomainFields>) {
  return {
    id: d.id,
    tenant_id: d.tenantId,
    domain: d.domain,
    status: d.status,
    verified: d.verified,
    dns_records: d.dnsRecords,
    ssl: {
      enabled: d.sslEnabled,
      auto_provision: d.autoProvisionSsl,
      status: d.tlsStatus,
      reason: d.tlsReason,
    },
    verified_at: d.verifiedAt,
    last_checked_at: d.lastCheckedAt,
    last_check_error: d.lastCheckError,
    created_at: d.createdAt,
  };
}

const domainResponse = z.object({
  id: z.string(),
  tenant_id: z.string(),
  domain: z.string(),
  status: z.string().describe('pending_verification | verified'),
  verified: z.boolean(),
  dns_records: z.array(z.object({ type: z.string(), name: z.string(), value: z.string() })),
  ssl: z.object({
    enabled: z.boolean(),
    auto_provision: z.boolean(),
    status: z.string().describe('not_provisioned: no ACME client, no certificate is issued'),
    reason: z.string(),
  }),
  verified_at: isoTimestamp.nullable(),
  last_checked_at: isoTimestamp.nullable(),
  last_check_error: z.string().nullable(),
  created_at: isoTimestamp,
});

const addDomain = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/whitelabel/domains',
  summary: 'Add a custom domain; publish the TXT record it answers with, then verify',
  status: 201,
  input: {
    body: z.object({
      domain: z.string().min(1).max(253),
      ssl_enabled: z.boolean().optional(),
      auto_provision_ssl: z.boolean().optional(),
      tenant_id: tenantId,
    }),
  },
  operation: graphql(
    `
      mutation ForgeAddDomain($tenantId: ID, $domain: String!, $sslEnabled: Boolean, $autoProvisionSsl: Boolean) {
        addCustomDomain(
          tenantId: $tenantId
          domain: $domain
          sslEnabled: $sslEnabled
          autoProvisionSsl: $autoProvisionSsl
        ) {
          ...DomainFields
        }
      }
    `,
    [DomainFields],
  ),
  variables: ({ body }) => ({
    tenantId: body.tenant_id,
    domain: body.domain,
    sslEnabled: body.ssl_enabled,
    autoProvisionSsl: body.auto_provision_ssl,
  }),
  respond: ({ addCustomDomain: d }) => toDomain(d),
  response: domainResponse,
});

const verifyDomain = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/whitelabel/domains/{domain}/verify',
  summary: 'Check the domain’s TXT record now',
  input: {
    params: z.object({ domain: z.string().min(1).max(253) }),
    body: z.object({ tenant_id: tenantId }).optional(),
  },
  operation: graphql(
    `
      mutation ForgeVerifyDomain($tenantId: ID, $domain: String!) {
        verifyCustomDomain(tenantId: $tenantId, domain: $domain) {
          ...DomainFields
        }
      }
    `,
    [DomainFields],
  ),
  variables: ({ params, body }) => ({ tenantId: body?.tenant_id, domain: params.domain }),
  respond: ({ verifyCustomDomain: d }) => toDomain(d),
  response: domainResponse,
});

export const platformForgeWhitelabelRoutes: RestRoute[] = [createBrand, uploadAsset, addDomain, verifyDomain];
