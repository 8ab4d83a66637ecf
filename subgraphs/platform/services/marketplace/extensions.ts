import { createHash } from 'node:crypto';
import semver from 'semver';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { pageInput, pageWindow, paginationOf, type Pagination } from '../../../../lib/pagination.js';
import { requirePrincipal, requireScope, tenantScopeFor, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Extension, ExtensionInstall, ExtensionVersion, Prisma } from '../../../../prisma/generated/client.js';
import { requirePlatformScope } from '../trust/platform-scope.js';

export type { Extension, ExtensionInstall, ExtensionVersion };

/**
 * The extension marketplace: a catalogue of published extensions (manifest validated, package
 * checksummed and kept in the platform object store, `deps.blobs`), and per-tenant installs with
 * their configuration (secret values sealed) and the permissions granted at install time.
 */

/** What an extension may ask for; a grant records exactly these at install. */
export const EXTENSION_PERMISSIONS = [
  'read:tenants',
  'read:users',
  'read:billing',
  'read:telemetry',
  'write:telemetry',
  'read:edge',
  'webhooks:receive',
  'storage:read',
  'storage:write',
  'network:outbound',
] as const;

export const EXTENSION_CATEGORIES = [
  'analytics',
  'security',
  'billing',
  'communication',
  'integration',
  'monitoring',
  'storage',
  'developer-tools',
  'other',
] as const;

/** The REST body limit is 1 MiB and base64 grows by a third: packages up to 512 KiB. */
export const MAX_PACKAGE_BYTES = 512 * 1024;
const MAX_CONFIG_KEYS = 50;

const configField = z
  .object({
    type: z.enum(['string', 'number', 'boolean']),
    required: z.boolean().default(false),
    secret: z.boolean().default(false),
    description: z.string().max(500).optional(),
  })
  .strict();

/** The manifest schema (JSON): what a publisher must declare. Unknown keys are refused. */
export const manifestSchema = z
  .object({
    entrypoint: z.string().min(1).max(256),
    permissions: z.array(z.enum(EXTENSION_PERMISSIONS)).max(EXTENSION_PERMISSIONS.length).default([]),
    configuration: z
      .record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'snake_case keys'), configField)
      .refine((v) => Object.keys(v).length <= MAX_CONFIG_KEYS, `at most ${MAX_CONFIG_KEYS} keys`)
      .default({}),
    checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex> of the package'),
    publisher: z.string().min(1).max(100).optional(),
    homepage: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    platform_version: z
      .string()
      .max(100)
      .refine((v) => semver.validRange(v) !== null, 'a semver range')
      .optional(),
  })
  .strict();
export type ExtensionManifest = z.output<typeof manifestSchema>;

const publishInput = z.object({
  name: z.string().trim().min(2).max(100),
  version: z
    .string()
    .max(64)
    .refine((v) => semver.valid(v) === v, 'a semantic version (1.2.3)'),
  description: z.string().trim().max(2000).nullish(),
  category: z.enum(EXTENSION_CATEGORIES),
  manifest: z.unknown(),
  /** The package, base64. */
  package: z
    .string()
    .min(1)
    .max(Math.ceil((MAX_PACKAGE_BYTES * 4) / 3) + 4),
});

function slugOf(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  if (!slug) throw new AppError('VALIDATION_ERROR', 'The name needs letters or digits', { name });
  return slug;
}

export interface PublishedExtension {
  extension: Extension;
  version: ExtensionVersion;
}

/**
 * Publishes a new extension, or a new version of one (same name): the version must be higher
 * than the latest, the manifest valid, and the package's SHA-256 equal to the manifest's checksum.
 */
export async function publishExtension({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof publishInput>;
}): Promise<PublishedExtension> {
  const caller = requirePlatformScope(principal, 'admin:services');
  const data = parseInput(publishInput, input);
  const manifestResult = manifestSchema.safeParse(data.manifest);
  if (!manifestResult.success) {
    throw new AppError('VALIDATION_ERROR', 'Invalid extension manifest', {
      fields: manifestResult.error.issues.map((i) => ({ path: ['manifest', ...i.path].join('.'), message: i.message })),
    });
  }
  const manifest = manifestResult.data;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data.package)) throw new AppError('VALIDATION_ERROR', 'package must be base64');
  const bytes = Buffer.from(data.package, 'base64');
  if (bytes.length === 0) throw new AppError('VALIDATION_ERROR', 'package is empty');
  if (bytes.length > MAX_PACKAGE_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The package is larger than ${MAX_PACKAGE_BYTES} bytes`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (`sha256:${sha256}` !== manifest.checksum) {
    throw new AppError('VALIDATION_ERROR', 'The package does not match the manifest checksum', {
      expected: manifest.checksum,
      actual: `sha256:${sha256}`,
    });
  }
  const slug = slugOf(data.name);
  const existing = await deps.db.prisma.extension.findUnique({ where: { slug } });
  if (existing && !semver.gt(data.version, existing.latestVersion)) {
    throw new AppError('CONFLICT', `Version ${data.version} is not newer than ${existing.latestVersion}`, {
      latest_version: existing.latestVersion,
    });
  }
  const extensionId = existing?.id ?? newId('ext');
  const versionId = newId('exv');
  // Bytes first, rows after: a failed transaction leaves an unreferenced object, never a row without bytes.
  const stored = await deps.blobs.put(`marketplace/${extensionId}/${versionId}`, bytes, {
    maxBytes: MAX_PACKAGE_BYTES,
  });
  try {
    return await deps.db.prisma.$transaction(async (tx) => {
      const extension = existing
        ? await tx.extension.update({
            where: { id: extensionId },
            data: {
              latestVersion: data.version,
              description: data.description ?? existing.description,
              category: data.category,
              publisher: manifest.publisher ?? existing.publisher,
            },
          })
        : await tx.extension.create({
            data: {
              id: extensionId,
              slug,
              name: data.name,
              description: data.description ?? null,
              category: data.category,
              publisher: manifest.publisher ?? null,
              latestVersion: data.version,
              publishedBy: caller.id,
            },
          });
      const version = await tx.extensionVersion.create({
        data: {
          id: versionId,
          extensionId,
          version: data.version,
          manifest: manifest as unknown as Prisma.InputJsonValue,
          permissions: manifest.permissions,
          packageKey: stored.key,
          packageSha256: stored.sha256,
          packageSize: stored.size,
        },
      });
      return { extension, version };
    });
  } catch (error) {
    await deps.blobs.delete(stored.key).catch(() => undefined);
    if ((error as { code?: string }).code === 'P2002') {
      throw new AppError('CONFLICT', 'This extension or version was just published', { name: data.name });
    }
    throw error;
  }
}

export type CatalogEntry = Extension & { permissions: string[] };

const listInput = z.object({
  category: z.enum(EXTENSION_CATEGORIES).nullish(),
  search: z.string().trim().max(100).nullish(),
  sort: z.enum(['popular', 'newest', 'rating', 'name']).nullish(),
  ...pageInput({ defaultLimit: 20, maxLimit: 100 }),
});

/** The catalogue, for any signed-in caller: filter by category, search name and description, page. */
export async function listExtensions({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof listInput>;
}): Promise<{ extensions: CatalogEntry[]; pagination: Pagination }> {
  requirePrincipal(principal);
  const data = parseInput(listInput, input);
  if (data.sort === 'rating') {
    throw new AppError('NOT_IMPLEMENTED', 'Extensions have no ratings yet: sort by popular, newest or name');
  }
  const where: Prisma.ExtensionWhereInput = {
    ...(data.category ? { category: data.category } : {}),
    ...(data.search
      ? {
          OR: [
            { name: { contains: data.search, mode: 'insensitive' as const } },
            { description: { contains: data.search, mode: 'insensitive' as const } },
          ],
        }
      : {}),
  };
  const orderBy: Prisma.ExtensionOrderByWithRelationInput[] =
    data.sort === 'newest'
      ? [{ createdAt: 'desc' }, { id: 'asc' }]
      : data.sort === 'name'
        ? [{ name: 'asc' }, { id: 'asc' }]
        : [{ installCount: 'desc' }, { createdAt: 'desc' }, { id: 'asc' }];
  const [total, rows] = await Promise.all([
    deps.db.prisma.extension.count({ where }),
    deps.db.prisma.extension.findMany({ where, orderBy, ...pageWindow(data) }),
  ]);
  const latest = await deps.db.prisma.extensionVersion.findMany({
    where: { OR: rows.map((r) => ({ extensionId: r.id, version: r.latestVersion })) },
    select: { extensionId: true, permissions: true },
  });
  const permissions = new Map(latest.map((v) => [v.extensionId, v.permissions]));
  return {
    extensions: rows.map((r) => ({ ...r, permissions: permissions.get(r.id) ?? [] })),
    pagination: paginationOf(data, total),
  };
}

async function findExtension(deps: SubgraphDeps, idOrSlug: string): Promise<Extension> {
  const extension = await deps.db.prisma.extension.findFirst({ where: { OR: [{ id: idOrSlug }, { slug: idOrSlug }] } });
  if (!extension) throw new AppError('NOT_FOUND', 'Extension not found', { extension_id: idOrSlug });
  return extension;
}

const installInput = z.object({
  extensionId: z.string().min(1).max(100),
  version: z
    .string()
    .max(64)
    .refine((v) => semver.valid(v) === v, 'a semantic version (1.2.3)')
    .nullish(),
  configuration: z.record(z.string(), z.unknown()).nullish(),
  tenantId: z.string().max(100).nullish(),
});

/** Checks values against the manifest's configuration block; splits secrets from the rest. */
function splitConfiguration(
  manifest: ExtensionManifest,
  values: Record<string, unknown>,
): { plain: Record<string, unknown>; secrets: Record<string, unknown> } {
  const issues: { path: string; message: string }[] = [];
  const plain: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const field = manifest.configuration[key];
    if (!field) {
      issues.push({ path: `configuration.${key}`, message: 'not declared by the extension' });
      continue;
    }
    if (typeof value !== field.type || (field.type === 'string' && (value as string).length > 4096)) {
      issues.push({ path: `configuration.${key}`, message: `must be a ${field.type}` });
      continue;
    }
    (field.secret ? secrets : plain)[key] = value;
  }
  for (const [key, field] of Object.entries(manifest.configuration)) {
    if (field.required && !(key in values)) issues.push({ path: `configuration.${key}`, message: 'required' });
  }
  if (issues.length) throw new AppError('VALIDATION_ERROR', 'Invalid extension configuration', { fields: issues });
  return { plain, secrets };
}

export type Installation = ExtensionInstall & { extension: Extension };

/**
 * Installs (or re-installs, e.g. another version) an extension for a tenant: the configuration is
 * checked against the manifest, secret values sealed, and the permissions the version asks for
 * recorded as granted by the caller.
 */
export async function installExtension({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof installInput>;
}): Promise<Installation> {
  const caller = requireScope(principal, 'write:tenants');
  const data = parseInput(installInput, input);
  const tenantId = tenantScopeFor(caller, data.tenantId);
  const extension = await findExtension(deps, data.extensionId);
  const versionName = data.version ?? extension.latestVersion;
  const version = await deps.db.prisma.extensionVersion.findUnique({
    where: { extensionId_version: { extensionId: extension.id, version: versionName } },
  });
  if (!version) throw new AppError('NOT_FOUND', 'No such version of the extension', { version: versionName });
  const manifest = manifestSchema.parse(version.manifest);
  const { plain, secrets } = splitConfiguration(manifest, data.configuration ?? {});
  const secretKeys = Object.keys(secrets);
  const fields = {
    version: version.version,
    configuration: plain as Prisma.InputJsonValue,
    sealedSecrets: secretKeys.length ? deps.secretBox.seal(JSON.stringify(secrets)) : null,
    secretKeys,
    grantedPermissions: version.permissions,
    grantedBy: caller.id,
    status: 'active',
  };
  return deps.db.prisma.$transaction(async (tx) => {
    const existing = await tx.extensionInstall.findUnique({
      where: { tenantId_extensionId: { tenantId, extensionId: extension.id } },
    });
    if (existing) {
      return tx.extensionInstall.update({ where: { id: existing.id }, data: fields, include: { extension: true } });
    }
    await tx.extension.update({ where: { id: extension.id }, data: { installCount: { increment: 1 } } });
    return tx.extensionInstall.create({
      data: { id: newId('exi'), tenantId, extensionId: extension.id, ...fields },
      include: { extension: true },
    });
  });
}

export async function listInstallations({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId?: string | null;
}): Promise<Installation[]> {
  const caller = requireScope(principal, 'read:tenants');
  const scope = tenantScopeFor(caller, tenantId);
  return deps.db.prisma.extensionInstall.findMany({
    where: { tenantId: scope },
    include: { extension: true },
    orderBy: { installedAt: 'asc' },
  });
}

export async function uninstallExtension({
  deps,
  principal,
  extensionId,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  extensionId: string;
  tenantId?: string | null;
}): Promise<boolean> {
  const caller = requireScope(principal, 'write:tenants');
  const scope = tenantScopeFor(caller, tenantId);
  const extension = await findExtension(deps, extensionId);
  await deps.db.prisma.$transaction(async (tx) => {
    const { count } = await tx.extensionInstall.deleteMany({ where: { tenantId: scope, extensionId: extension.id } });
    if (count === 0) throw new AppError('NOT_FOUND', 'The extension is not installed for this tenant');
    await tx.extension.update({ where: { id: extension.id }, data: { installCount: { decrement: 1 } } });
  });
  return true;
}

export interface PluginsSummary {
  installed: number;
  active: number;
  extensions: { extensionId: string; name: string; version: string; installs: number }[];
}

/** For the health endpoints' `plugins` block: what is installed, across tenants. */
export async function summarizePlugins(deps: SubgraphDeps): Promise<PluginsSummary> {
  const groups = await deps.db.prisma.extensionInstall.groupBy({
    by: ['extensionId', 'version', 'status'],
    _count: { _all: true },
    orderBy: { extensionId: 'asc' },
    take: 200,
  });
  const names = new Map(
    (
      await deps.db.prisma.extension.findMany({
        where: { id: { in: [...new Set(groups.map((g) => g.extensionId))] } },
        select: { id: true, name: true },
      })
    ).map((e) => [e.id, e.name]),
  );
  const byVersion = new Map<string, PluginsSummary['extensions'][number]>();
  for (const g of groups) {
    const key = `${g.extensionId}@${g.version}`;
    const entry = byVersion.get(key) ?? {
      extensionId: g.extensionId,
      name: names.get(g.extensionId) ?? g.extensionId,
      version: g.version,
      installs: 0,
    };
    entry.installs += g._count._all;
    byVersion.set(key, entry);
  }
  return {
    installed: groups.reduce((n, g) => n + g._count._all, 0),
    active: groups.filter((g) => g.status === 'active').reduce((n, g) => n + g._count._all, 0),
    extensions: [...byVersion.values()],
  };
}
