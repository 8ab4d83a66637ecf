import { builder } from '../builder.js';
import {
  installExtension,
  listExtensions,
  listInstallations,
  publishExtension,
  summarizePlugins,
  uninstallExtension,
  type CatalogEntry,
  type Installation,
  type PluginsSummary,
  type PublishedExtension,
} from '../services/marketplace/extensions.js';
import { HealthReportRef } from './health-report.js';

const ExtensionRef = builder.objectRef<CatalogEntry>('MarketplaceExtension').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    category: t.exposeString('category'),
    publisher: t.exposeString('publisher', { nullable: true }),
    latestVersion: t.exposeString('latestVersion'),
    installCount: t.exposeInt('installCount'),
    permissions: t.exposeStringList('permissions', { description: 'What the latest version asks for.' }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (e) => e.updatedAt }),
  }),
});

const ExtensionPageRef = builder
  .objectRef<Awaited<ReturnType<typeof listExtensions>>>('MarketplaceExtensionPage')
  .implement({
    fields: (t) => ({
      extensions: t.field({ type: [ExtensionRef], resolve: (p) => p.extensions }),
      page: t.int({ resolve: (p) => p.pagination.page }),
      limit: t.int({ resolve: (p) => p.pagination.limit }),
      total: t.int({ resolve: (p) => p.pagination.total }),
      pages: t.int({ resolve: (p) => p.pagination.pages }),
    }),
  });

const PublishedExtensionRef = builder.objectRef<PublishedExtension>('PublishedExtension').implement({
  fields: (t) => ({
    extension: t.field({
      type: ExtensionRef,
      resolve: (p) => ({ ...p.extension, permissions: p.version.permissions }),
    }),
    version: t.string({ resolve: (p) => p.version.version }),
    manifest: t.field({ type: 'JSON', resolve: (p) => p.version.manifest }),
    packageSha256: t.string({ resolve: (p) => p.version.packageSha256 }),
    packageSize: t.int({ resolve: (p) => p.version.packageSize }),
    publishedAt: t.field({ type: 'DateTime', resolve: (p) => p.version.createdAt }),
  }),
});

const InstallationRef = builder.objectRef<Installation>('ExtensionInstallation').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    extensionId: t.exposeID('extensionId'),
    extensionName: t.string({ resolve: (i) => i.extension.name }),
    version: t.exposeString('version'),
    status: t.exposeString('status'),
    configuration: t.field({
      type: 'JSON',
      description: 'The values that are not secrets; secret values are sealed and never returned.',
      resolve: (i) => i.configuration,
    }),
    secretKeys: t.exposeStringList('secretKeys', { description: 'Configuration keys held sealed.' }),
    grantedPermissions: t.exposeStringList('grantedPermissions'),
    grantedBy: t.exposeString('grantedBy'),
    installedAt: t.field({ type: 'DateTime', resolve: (i) => i.installedAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (i) => i.updatedAt }),
  }),
});

const InstalledExtensionRef = builder
  .objectRef<PluginsSummary['extensions'][number]>('InstalledExtensionSummary')
  .implement({
    fields: (t) => ({
      extensionId: t.exposeID('extensionId'),
      name: t.exposeString('name'),
      version: t.exposeString('version'),
      installs: t.exposeInt('installs', { description: 'Tenants with this version installed.' }),
    }),
  });

const PluginsHealthRef = builder.objectRef<PluginsSummary>('PluginsHealth').implement({
  description: 'Installed marketplace extensions across tenants.',
  fields: (t) => ({
    installed: t.exposeInt('installed'),
    active: t.exposeInt('active'),
    extensions: t.field({ type: [InstalledExtensionRef], resolve: (p) => p.extensions }),
  }),
});

builder.objectField(HealthReportRef, 'plugins', (t) =>
  t.field({
    type: PluginsHealthRef,
    nullable: true,
    description: 'Installed extensions; null (with an error) when they could not be read.',
    resolve: (_report, _args, ctx) => summarizePlugins(ctx.deps),
  }),
);

const PublishExtensionInput = builder.inputType('PublishExtensionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    version: t.string({ required: true, description: 'Semantic version, higher than the latest' }),
    description: t.string(),
    category: t.string({ required: true }),
    manifest: t.field({ type: 'JSON', required: true }),
    package: t.string({ required: true, description: 'The package, base64 (at most 512 KiB)' }),
  }),
});

const InstallExtensionInput = builder.inputType('InstallExtensionInput', {
  fields: (t) => ({
    extensionId: t.id({ required: true, description: 'Id or slug' }),
    version: t.string({ description: 'Default the latest' }),
    configuration: t.field({ type: 'JSON' }),
    tenantId: t.id({ description: 'Operators only; a tenant-bound caller gets its own tenant' }),
  }),
});

builder.queryFields((t) => ({
  marketplaceExtensions: t.field({
    type: ExtensionPageRef,
    description: 'The extension catalogue. Any signed-in caller.',
    args: {
      category: t.arg.string(),
      search: t.arg.string(),
      sort: t.arg.string({ description: 'popular (default), newest, name' }),
      page: t.arg.int(),
      limit: t.arg.int(),
    },
    resolve: (_root, args, ctx) => listExtensions({ deps: ctx.deps, principal: ctx.principal, input: args as never }),
  }),
  extensionInstallations: t.field({
    type: [InstallationRef],
    description: "The tenant's installed extensions. Requires read:tenants.",
    args: { tenantId: t.arg.id({ description: 'Operators only' }) },
    resolve: (_root, args, ctx) =>
      listInstallations({ deps: ctx.deps, principal: ctx.principal, tenantId: args.tenantId?.toString() }),
  }),
}));

builder.mutationFields((t) => ({
  publishExtension: t.field({
    type: PublishedExtensionRef,
    description: 'Publishes an extension or a new version of it. Requires admin:services (platform operators).',
    args: { input: t.arg({ type: PublishExtensionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      publishExtension({ deps: ctx.deps, principal: ctx.principal, input: input as never }),
  }),
  installExtension: t.field({
    type: InstallationRef,
    description: 'Installs (or re-installs) an extension for a tenant. Requires write:tenants.',
    args: { input: t.arg({ type: InstallExtensionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      installExtension({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { ...input, extensionId: String(input.extensionId), tenantId: input.tenantId?.toString() } as never,
      }),
  }),
  uninstallExtension: t.field({
    type: 'Boolean',
    description: 'Requires write:tenants.',
    args: { extensionId: t.arg.id({ required: true }), tenantId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      uninstallExtension({
        deps: ctx.deps,
        principal: ctx.principal,
        extensionId: String(args.extensionId),
        tenantId: args.tenantId?.toString(),
      }),
  }),
}));
