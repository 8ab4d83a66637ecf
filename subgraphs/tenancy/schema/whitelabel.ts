import { builder } from '../builder.js';
import { uploadBrandAsset, type BrandAsset } from '../services/whitelabel/assets.js';
import { createBrand, type Brand } from '../services/whitelabel/brands.js';
import { addCustomDomain, TLS_STATUS, verifyCustomDomain, type DomainView } from '../services/whitelabel/domains.js';

const optional = (v: unknown) => (v === null || v === undefined ? null : String(v));

const BrandRef = builder.objectRef<Brand>('Brand').implement({
  description: "A tenant's whitelabel brand.",
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    name: t.exposeString('name'),
    config: t.field({ type: 'JSON', resolve: (b) => b.config }),
    createdAt: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (b) => b.updatedAt }),
  }),
});

const BrandAssetRef = builder
  .objectRef<BrandAsset & { originalSize?: number; originalType?: string }>('BrandAsset')
  .implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      tenantId: t.exposeID('tenantId'),
      type: t.exposeString('type', { description: 'logo | favicon | banner' }),
      contentType: t.exposeString('contentType', { description: 'Of the stored (processed) image' }),
      size: t.exposeInt('size'),
      sha256: t.exposeString('sha256'),
      width: t.exposeInt('width', { nullable: true }),
      height: t.exposeInt('height', { nullable: true }),
      originalSize: t.int({ nullable: true, resolve: (a) => a.originalSize ?? null }),
      originalType: t.string({ nullable: true, resolve: (a) => a.originalType ?? null }),
      storageKey: t.exposeString('blobKey'),
      createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
    }),
  });

const DnsRecordRef = builder
  .objectRef<{ type: string; name: string; value: string }>('DnsRecord')
  .implement({
    fields: (t) => ({ type: t.exposeString('type'), name: t.exposeString('name'), value: t.exposeString('value') }),
  });

const CustomDomainRef = builder.objectRef<DomainView>('CustomDomain').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    domain: t.exposeString('domain'),
    status: t.exposeString('status', { description: 'pending_verification | verified' }),
    verified: t.boolean({ resolve: (d) => d.status === 'verified' }),
    sslEnabled: t.exposeBoolean('sslEnabled', { description: "The tenant's wish; see tlsStatus" }),
    autoProvisionSsl: t.exposeBoolean('autoProvisionSsl'),
    tlsStatus: t.string({ description: 'not_provisioned: no ACME client, no certificate issued', resolve: () => TLS_STATUS.status }),
    tlsReason: t.string({ resolve: () => TLS_STATUS.reason }),
    dnsRecords: t.field({
      type: [DnsRecordRef],
      resolve: (d) => [{ type: 'TXT', name: d.recordName, value: d.recordValue }],
    }),
    verifiedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.verifiedAt }),
    lastCheckedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.lastCheckedAt }),
    lastCheckError: t.exposeString('lastCheckError', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
  }),
});

builder.mutationFields((t) => ({
  createBrand: t.field({
    type: BrandRef,
    description: 'Requires write:tenants.',
    args: { tenantId: t.arg.id(), name: t.arg.string({ required: true }), config: t.arg({ type: 'JSON', required: true }) },
    resolve: (_root, args, ctx) =>
      createBrand({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { tenantId: optional(args.tenantId), name: args.name, config: args.config as never },
      }),
  }),
  uploadBrandAsset: t.field({
    type: BrandAssetRef,
    description:
      'Requires write:tenants. Claims an image the gateway staged (uploadTicket purpose brand_asset): PNG, JPEG, ' +
      'WebP or GIF, at most 512 KiB; stored re-encoded, the staged bytes deleted.',
    args: {
      tenantId: t.arg.id(),
      type: t.arg.string({ required: true }),
      filename: t.arg.string(),
      stagingKey: t.arg.string({ required: true, description: 'Where the gateway staged the bytes' }),
      sha256: t.arg.string({ required: true, description: 'Of the staged bytes, as the gateway computed it' }),
    },
    resolve: (_root, args, ctx) =>
      uploadBrandAsset({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { ...args, tenantId: optional(args.tenantId), type: args.type as never },
      }),
  }),
  addCustomDomain: t.field({
    type: CustomDomainRef,
    description: 'Requires write:tenants.',
    args: {
      tenantId: t.arg.id(),
      domain: t.arg.string({ required: true }),
      sslEnabled: t.arg.boolean(),
      autoProvisionSsl: t.arg.boolean(),
    },
    resolve: (_root, args, ctx) =>
      addCustomDomain({ deps: ctx.deps, principal: ctx.principal, input: { ...args, tenantId: optional(args.tenantId) } }),
  }),
  verifyCustomDomain: t.field({
    type: CustomDomainRef,
    description: 'Requires write:tenants. Looks up the TXT record now.',
    args: { tenantId: t.arg.id(), domain: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      verifyCustomDomain({ deps: ctx.deps, principal: ctx.principal, tenantId: optional(args.tenantId), domain: args.domain }),
  }),
}));
