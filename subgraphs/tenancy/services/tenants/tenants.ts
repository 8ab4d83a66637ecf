import { z } from 'zod';
import { AppError, appErrorFromGraphQL } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Logger } from '../../../../lib/logger.js';
import {
  assertTenantAccess,
  AUTHENTICATE_SCOPE,
  requireScope,
  TENANCY_SERVICE_PRINCIPAL,
  type Principal,
} from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { Prisma, type Tenant } from '../../../../prisma/generated/client.js';
import { findTenant } from './tenant-access.js';
import { dedicatedServerUrl, dropDatabase } from './tenant-databases.js';
import { planBlueprintVersion, settleBlueprintVersion, type BlueprintVersionPlan } from '../blueprints/blueprints.js';
import { applyBaseline } from './tenant-migrations.js';
import {
  assertPostgresBlueprint,
  applyDeferredBlueprint,
  createBlueprintDatabase,
  createDedicatedBlueprintDatabase,
  dropBlueprintDatabases,
  type TenantDatabase,
} from '../blueprints/tenant-databases-blueprint.js';
import { dropTenantRole, provisionTenantRole } from './tenant-roles.js';
import { quoteIdent, type Tx } from '../sql/identifiers.js';
import { tenantStatusKey } from '../../contract.js';
import { announceTenantStatus } from './tenant-status.js';
import { usesTenantSessions } from '../sql/tenant-session.js';

export type { Tenant };

/**
 * Tenants and their lifecycle. Creation is all or nothing in two parts:
 *
 * 1. one database transaction: the row (status `provisioning`), the Postgres schema, the tenant's
 *    role and grants, the baseline migrations and the requested extensions;
 * 2. the admin user, created by identity (which owns users) through a subgraph call as tenancy's
 *    service principal. That cannot share the transaction, so it is a saga step: if it fails the
 *    first part is undone (schema, role, row) and the caller gets identity's error.
 *
 * A crash between the two leaves a `provisioning` tenant; the cleanup job removes those once
 * they are older than PROVISIONING_TIMEOUT_MS.
 */

const SLUG = /^[a-z][a-z0-9-]{1,48}[a-z0-9]$/;
const SLUG_MESSAGE = 'lowercase letters, digits and dashes; 3 to 50 characters; starts with a letter';
/** A Postgres identifier that never needs quoting: lowercase, starts with a letter, at most 63 bytes. */
const SCHEMA_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** The platform's own schemas and PostgreSQL's: a tenant may never be given (or drop) one of them. */
const RESERVED_SCHEMAS: ReadonlySet<string> = new Set([
  'public',
  'information_schema',
  'platform',
  'tenancy',
  'billing',
  'identity',
  'telemetry',
  'edge',
]);
/** Extension names as PostgreSQL ships them (`uuid-ossp`, `pg_trgm`, `vector`). */
const EXTENSION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** How long a tenant may stay `provisioning` before the cleanup job treats it as abandoned. */
export const PROVISIONING_TIMEOUT_MS = 10 * 60_000;

/** Postgres schema names are identifiers: the slug's dashes become underscores under a fixed prefix. */
export function schemaNameFor(slug: string): string {
  return `t_${slug.replaceAll('-', '_')}`;
}

const schemaNameSchema = z
  .string()
  .regex(SCHEMA_NAME, 'lowercase letters, digits and underscores; starts with a letter; at most 63 characters')
  .refine((s) => !RESERVED_SCHEMAS.has(s) && !s.startsWith('pg_'), 'is reserved by the platform or PostgreSQL');

const limitsSchema = z
  .object({
    users: z.number().int().min(0).nullish(),
    storage_gb: z.number().min(0).nullish(),
    api_calls_per_day: z.number().int().min(0).nullish(),
  })
  .strict();

export type TenantLimits = z.output<typeof limitsSchema>;

const createTenantInput = z
  .object({
    name: z.string().trim().min(1).max(200).nullish(),
    slug: z.string().regex(SLUG, SLUG_MESSAGE).nullish(),
    schemaName: schemaNameSchema.nullish(),
    domain: z
      .string()
      .trim()
      .toLowerCase()
      .max(253)
      .regex(
        /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
        'a host name such as acme.example.com',
      )
      .nullish(),
    settings: z.record(z.string(), z.unknown()).nullish(),
    features: z.record(z.string(), z.boolean()).nullish(),
    limits: limitsSchema.nullish(),
    extensions: z.array(z.string().regex(EXTENSION_NAME, 'an extension name such as pgcrypto')).max(20).nullish(),
    /** tenantsdb's databases from blueprints (`<blueprint>__<tenant>`), at each blueprint's latest version. */
    databases: z
      .array(
        z.object({ blueprint: z.string().min(1).max(100), isolationLevel: z.number().int().min(1).max(2).nullish() }),
      )
      .max(20)
      .nullish(),
    adminUser: z
      .object({
        email: z.string().min(1).max(320),
        name: z.string().trim().min(1).max(200),
        password: z.string().min(1).max(1024),
      })
      .nullish(),
  })
  .refine((i) => i.slug || i.schemaName || i.name, { message: 'Give a slug, a schema_name or a name', path: ['slug'] });

export interface TenantAdminUser {
  id: string;
  email: string;
  name: string;
  roles: string[];
}

export interface TenantProvisioning {
  tenant: Tenant;
  adminUser: TenantAdminUser | null;
  schemaCreated: boolean;
  /** Baseline versions applied by this creation. */
  migrationsApplied: string[];
  schemaVersion: string | null;
  extensionsEnabled: string[];
  extensionsMissing: string[];
  /** Databases made from blueprints, in the order asked. */
  databases: TenantDatabase[];
}

/** The slug when none was given: from the schema name (`acme_corp` → `acme-corp`), else from the name. */
function deriveSlug(data: { slug?: string | null; schemaName?: string | null; name?: string | null }): string {
  if (data.slug) return data.slug;
  const source = data.schemaName ?? data.name ?? '';
  const slug = source
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  if (!SLUG.test(slug)) {
    throw new AppError('VALIDATION_ERROR', 'Cannot derive a tenant id: give one', {
      fields: [{ path: 'slug', message: SLUG_MESSAGE }],
    });
  }
  return slug;
}

function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') return true;
  // CREATE SCHEMA / CREATE ROLE racing another creation: 42P06 duplicate_schema, 42710 duplicate_object.
  const text = error instanceof Error ? error.message : '';
  return /42P06|42710|already exists/.test(text);
}

/** Nothing is written when the answer is a conflict: checked up front (the unique indexes catch races). */
async function assertAvailable(
  deps: SubgraphDeps,
  data: { slug: string; schemaName: string; domain: string | null },
): Promise<void> {
  const clash = await deps.db.prisma.tenant.findFirst({
    where: {
      OR: [{ slug: data.slug }, { schemaName: data.schemaName }, ...(data.domain ? [{ domain: data.domain }] : [])],
    },
    select: { slug: true, schemaName: true, domain: true },
  });
  if (clash) {
    const field = clash.slug === data.slug ? 'slug' : clash.schemaName === data.schemaName ? 'schema_name' : 'domain';
    throw new AppError('CONFLICT', `A tenant with this ${field} already exists`, {
      field,
      slug: data.slug,
      schema_name: data.schemaName,
    });
  }
  const [existing] = await deps.db.prisma.$queryRawUnsafe<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`,
    data.schemaName,
  );
  if (existing && existing.n > 0) {
    throw new AppError('CONFLICT', 'A schema with this name already exists', {
      field: 'schema_name',
      schema_name: data.schemaName,
    });
  }
}

/**
 * Each requested extension in its own savepoint, so one the server lacks (or refuses) does not
 * abort the creation; what is reported as enabled is read back from pg_extension, never assumed.
 * Extensions are per database: they go where PostgreSQL puts them by default (public), and an
 * extension already enabled by another tenant counts as enabled.
 */
async function enableExtensions(tx: Tx, requested: string[]): Promise<{ enabled: string[]; missing: string[] }> {
  if (requested.length === 0) return { enabled: [], missing: [] };
  const available = new Set(
    (
      await tx.$queryRawUnsafe<{ name: string }[]>(
        `SELECT name FROM pg_available_extensions WHERE name = ANY($1::text[])`,
        requested,
      )
    ).map((r) => r.name),
  );
  for (const name of requested) {
    if (!available.has(name)) continue;
    await tx.$executeRawUnsafe(`SAVEPOINT tenant_extension`);
    try {
      await tx.$executeRawUnsafe(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)}`);
      await tx.$executeRawUnsafe(`RELEASE SAVEPOINT tenant_extension`);
    } catch {
      await tx.$executeRawUnsafe(`ROLLBACK TO SAVEPOINT tenant_extension`);
    }
  }
  const present = new Set(
    (
      await tx.$queryRawUnsafe<{ extname: string }[]>(
        `SELECT extname FROM pg_extension WHERE extname = ANY($1::text[])`,
        requested,
      )
    ).map((r) => r.extname),
  );
  return {
    enabled: requested.filter((n) => present.has(n)),
    missing: requested.filter((n) => !present.has(n)),
  };
}

const CREATE_TENANT_ADMIN = /* GraphQL */ `
  mutation CreateTenantAdmin($tenantId: ID!, $email: String!, $name: String!, $password: String!) {
    createTenantAdmin(tenantId: $tenantId, email: $email, name: $name, password: $password) {
      id
      email
      name
      roles
    }
  }
`;

async function createAdminThroughIdentity(
  deps: SubgraphDeps,
  tenantId: string,
  admin: { email: string; name: string; password: string },
  requestId: string | undefined,
): Promise<TenantAdminUser> {
  if (!deps.subgraphs) {
    throw new AppError('NOT_CONFIGURED', 'Tenant admins are created through identity, which is not reachable here');
  }
  const result = await deps.subgraphs.call<{ createTenantAdmin: TenantAdminUser | null }>('identity', {
    document: CREATE_TENANT_ADMIN,
    variables: { tenantId, ...admin },
    principal: TENANCY_SERVICE_PRINCIPAL,
    requestId,
  });
  const first = result.errors?.[0];
  if (first) throw appErrorFromGraphQL(first);
  const user = result.data?.createTenantAdmin;
  if (!user) throw new AppError('INTERNAL_ERROR', 'Identity created no admin user');
  return user;
}

/**
 * Removes everything a tenant has in the database: what its role owns (its tables), the role,
 * the schema and the row (its logs, migrations and backups records cascade). Used by hard delete,
 * by a failed creation's compensation and by the cleanup of abandoned creations.
 */
export async function destroyTenant(
  deps: SubgraphDeps,
  tenant: { id: string; schemaName: string; dbRole: string | null; databaseName?: string | null },
): Promise<void> {
  if (!SCHEMA_NAME.test(tenant.schemaName) || RESERVED_SCHEMAS.has(tenant.schemaName)) {
    throw new AppError('INTERNAL_ERROR', 'Refusing to drop a schema that is not a tenant schema', {
      schema_name: tenant.schemaName,
    });
  }
  // A level-2 tenant's dedicated database goes first: its role owns objects there, and a role
  // that owns objects in another database cannot be dropped.
  if (tenant.databaseName) await dropDatabase(dedicatedServerUrl(deps), tenant.databaseName);
  await deps.db.prisma.$transaction(
    async (tx) => {
      await dropBlueprintDatabases(deps, tx, tenant.id);
      if (tenant.dbRole) await dropTenantRole(tx, { role: tenant.dbRole });
      await tx.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${quoteIdent(tenant.schemaName)} CASCADE`);
      await tx.tenant.deleteMany({ where: { id: tenant.id } });
    },
    { maxWait: 10_000, timeout: 60_000 },
  );
}

interface RequestedDatabase {
  plan: BlueprintVersionPlan;
  isolationLevel: number;
  /** Set inside the creation transaction. */
  settled: Awaited<ReturnType<typeof settleBlueprintVersion>> | null;
}

/** Requires write:tenants and a caller not bound to a tenant (a project owner, its key, the operator). */
export async function createTenant({
  deps,
  principal,
  input,
  requestId,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createTenantInput>;
  requestId?: string;
  logger: Logger;
}): Promise<TenantProvisioning> {
  requireScope(principal, 'write:tenants');
  if (principal.tenantId !== null) {
    throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot create tenants');
  }
  const data = parseInput(createTenantInput, input);
  // Every blueprint is resolved before anything is written: an unknown one creates nothing.
  const requestedDatabases = data.databases ?? [];
  if (new Set(requestedDatabases.map((d) => d.blueprint)).size !== requestedDatabases.length) {
    throw new AppError('VALIDATION_ERROR', 'Each blueprint may be asked for once', {
      fields: [{ path: 'databases', message: 'duplicate blueprint' }],
    });
  }
  // A blueprint never published (tenantsdb's REST flow has no publish step) is planned here and
  // published inside the creation transaction below: its first version and the tenant commit together.
  const blueprints: RequestedDatabase[] = await Promise.all(
    requestedDatabases.map(async (d) => {
      const plan = await planBlueprintVersion({ deps, principal, name: d.blueprint, requested: 'latest' });
      assertPostgresBlueprint(plan);
      return { plan, isolationLevel: d.isolationLevel ?? 1, settled: null };
    }),
  );
  // Level 2 needs a server that can hold another database (NOT_CONFIGURED on the embedded one).
  if (blueprints.some((b) => b.isolationLevel === 2)) dedicatedServerUrl(deps);
  const slug = deriveSlug(data);
  const schemaName = data.schemaName ?? schemaNameFor(slug);
  const domain = data.domain ?? null;
  await assertAvailable(deps, { slug, schemaName, domain });

  const tenantId = newId('ten');
  let created: Omit<TenantProvisioning, 'adminUser'>;
  try {
    created = await deps.db.prisma.$transaction(
      async (tx) => {
        await tx.tenant.create({
          data: {
            id: tenantId,
            projectId: principal.projectId,
            name: data.name ?? slug,
            slug,
            schemaName,
            domain,
            status: 'provisioning',
            settings: (data.settings ?? {}) as Prisma.InputJsonObject,
            features: data.features ?? {},
            limits: (data.limits ?? {}) as Prisma.InputJsonObject,
          },
        });
        // schemaName matched SCHEMA_NAME above: no quoting surprises.
        await tx.$executeRawUnsafe(`CREATE SCHEMA ${quoteIdent(schemaName)}`);
        const dbRole = await provisionTenantRole(tx, { tenantId, schemaName });
        const baseline = await applyBaseline(tx, { id: tenantId, schemaName, dbRole });
        const extensions = await enableExtensions(tx, [...new Set(data.extensions ?? [])]);
        // Level 1 in the same transaction: a database that cannot be made undoes the whole tenant.
        for (const requested of blueprints) requested.settled = await settleBlueprintVersion(tx, requested.plan);
        const databases: TenantDatabase[] = [];
        for (const { isolationLevel, settled } of blueprints) {
          if (isolationLevel !== 1) continue;
          databases.push(
            await createBlueprintDatabase(
              tx,
              deps.secretBox,
              { tenantId, tenantSlug: slug, blueprint: settled!.blueprint, version: settled!.version },
              { deferDdl: usesTenantSessions(deps) },
            ),
          );
        }
        const tenant = await tx.tenant.update({
          where: { id: tenantId },
          data: { dbRole, extensions: extensions.enabled },
        });
        return {
          tenant,
          schemaCreated: true,
          migrationsApplied: baseline.applied,
          schemaVersion: baseline.schemaVersion,
          extensionsEnabled: extensions.enabled,
          extensionsMissing: extensions.missing,
          databases,
        };
      },
      { maxWait: 10_000, timeout: 60_000 },
    );
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError('CONFLICT', 'A tenant with this slug, schema_name or domain already exists', {
        slug,
        schema_name: schemaName,
      });
    }
    throw error;
  }

  let adminUser: TenantAdminUser | null = null;
  try {
    // Level 2 databases are saga steps too: CREATE DATABASE cannot join the transaction above.
    // So is level 1's DDL on real PostgreSQL: it runs logged in as the database's own role,
    // which can log in only once the transaction that made it has committed.
    const databases: TenantDatabase[] = [];
    for (const db of created.databases) {
      const settled = blueprints.find((b) => b.settled?.blueprint.id === db.blueprintId)?.settled;
      databases.push(db.version === null && settled ? await applyDeferredBlueprint(deps, db, settled.version) : db);
    }
    for (const { isolationLevel, settled } of blueprints) {
      if (isolationLevel !== 2) continue;
      databases.push(
        await createDedicatedBlueprintDatabase(deps, {
          tenantId,
          tenantSlug: slug,
          blueprint: settled!.blueprint,
          version: settled!.version,
        }),
      );
    }
    const order = blueprints.map((b) => b.settled!.blueprint.id);
    created.databases = databases.sort((x, y) => order.indexOf(x.blueprintId) - order.indexOf(y.blueprintId));
    if (data.adminUser) adminUser = await createAdminThroughIdentity(deps, tenantId, data.adminUser, requestId);
    const tenant = await deps.db.prisma.tenant.update({
      where: { id: tenantId },
      data: { status: 'active', adminUserId: adminUser?.id ?? null },
    });
    await announceTenantStatus(deps.kv, logger, tenant);
    return { ...created, tenant, adminUser };
  } catch (error) {
    // Compensation: the tenant never became usable, so nothing of it may remain.
    try {
      await destroyTenant(deps, created.tenant);
    } catch (cleanupError) {
      // The cleanup job retries abandoned `provisioning` tenants; the caller still gets the real error.
      logger.error({ err: cleanupError, tenantId }, 'compensating a failed tenant creation failed');
    }
    throw error;
  }
}

export async function getTenant({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
}): Promise<Tenant> {
  requireScope(principal, 'read:tenants');
  const tenant = await findTenant(deps, id);
  if (!tenant || tenant.status === 'deleted' || tenant.status === 'provisioning') {
    throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: id });
  }
  assertTenantAccess(principal, tenant);
  return tenant;
}

/** Only the tenants the caller may see: its own, its project's, or (operator) all. */
export async function listTenants({
  deps,
  principal,
  limit,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  limit: number;
}): Promise<Tenant[]> {
  requireScope(principal, 'read:tenants');
  const take = parseInput(z.number().int().min(1).max(100), limit);
  return deps.db.prisma.tenant.findMany({
    where: {
      status: { in: ['active', 'suspended'] },
      ...(principal.tenantId !== null ? { id: principal.tenantId } : {}),
      ...(principal.projectId !== null ? { projectId: principal.projectId } : {}),
    },
    orderBy: { createdAt: 'asc' },
    take,
  });
}

/**
 * Loads a tenant for a lifecycle change. Another project's or tenant's tenant is TENANT_MISMATCH;
 * a tenant-bound caller (even its own admin) cannot change its own tenant's lifecycle: a suspended
 * tenant's users are refused at the gateway, so only the project owner or operator could undo it.
 */
async function tenantForLifecycle(deps: SubgraphDeps, principal: Principal, ref: string): Promise<Tenant> {
  requireScope(principal, 'write:tenants');
  const tenant = await findTenant(deps, ref);
  if (!tenant || tenant.status === 'provisioning')
    throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: ref });
  assertTenantAccess(principal, tenant);
  if (principal.tenantId !== null) {
    throw new AppError('FORBIDDEN', "A tenant-bound caller cannot change its own tenant's lifecycle");
  }
  return tenant;
}

type LifecycleAction = 'suspend' | 'resume' | 'delete' | 'restore';

/** From which statuses each action applies; the same status again is a no-op answer. */
function nextStatus(
  tenant: Tenant,
  action: LifecycleAction,
): { status: string; data: Prisma.TenantUpdateInput } | null {
  const now = new Date();
  switch (action) {
    case 'suspend':
      if (tenant.status === 'deleted') break;
      if (tenant.status === 'suspended') return null;
      return { status: 'suspended', data: { status: 'suspended', suspendedAt: now } };
    case 'resume':
      if (tenant.status === 'deleted') break;
      if (tenant.status === 'active') return null;
      return { status: 'active', data: { status: 'active', suspendedAt: null } };
    case 'delete':
      if (tenant.status === 'deleted') break;
      // suspendedAt is kept: a restored tenant comes back suspended if it was.
      return { status: 'deleted', data: { status: 'deleted', deletedAt: now } };
    case 'restore':
      if (tenant.status !== 'deleted') {
        throw new AppError('CONFLICT', 'Only a deleted tenant can be restored', {
          tenant_id: tenant.slug,
          status: tenant.status,
        });
      }
      return {
        status: tenant.suspendedAt ? 'suspended' : 'active',
        data: { status: tenant.suspendedAt ? 'suspended' : 'active', deletedAt: null },
      };
  }
  throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: tenant.slug });
}

/** Requires write:tenants. suspend, resume, soft delete or restore; announced to every gateway. */
export async function changeTenantLifecycle({
  deps,
  principal,
  id,
  action,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
  action: LifecycleAction;
  logger: Logger;
}): Promise<Tenant> {
  const tenant = await tenantForLifecycle(deps, principal, id);
  const next = nextStatus(tenant, action);
  if (!next) return tenant;
  // Conditional on the status read: two concurrent changes cannot both apply.
  const { count } = await deps.db.prisma.tenant.updateMany({
    where: { id: tenant.id, status: tenant.status },
    data: next.data as Prisma.TenantUpdateManyMutationInput,
  });
  if (count === 0)
    throw new AppError('CONFLICT', 'The tenant changed meanwhile; try again', { tenant_id: tenant.slug });
  const updated = await deps.db.prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } });
  await announceTenantStatus(deps.kv, logger, updated);
  return updated;
}

/**
 * Requires write:tenants. Permanent: the schema and everything in it, the role and the row. The
 * gateway keeps refusing the tenant's users: `deleted` stays recorded in kv after the row is gone.
 */
export async function hardDeleteTenant({
  deps,
  principal,
  id,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
  logger: Logger;
}): Promise<Tenant> {
  const tenant = await tenantForLifecycle(deps, principal, id);
  await destroyTenant(deps, tenant);
  await announceTenantStatus(deps.kv, logger, { id: tenant.id, status: 'deleted' });
  return { ...tenant, status: 'deleted', deletedAt: new Date() };
}

/** Bytes in the tenant schema's tables (with their indexes and TOAST), from the catalog. */
export async function tenantStorageBytes(deps: SubgraphDeps, schemaName: string): Promise<bigint> {
  const [row] = await deps.db.prisma.$queryRawUnsafe<{ bytes: bigint | number | string | null }[]>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`,
    schemaName,
  );
  return BigInt(row?.bytes ?? 0);
}

/**
 * The gateway's fallback when kv holds no status for a tenant (Redis flushed, a tenant from before
 * statuses were recorded): only the gateway's own principal may ask. Null: no such tenant.
 */
export async function tenantStatusForGateway({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<string | null> {
  if (!principal || principal.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway asks for tenant statuses');
  }
  const tenant = await deps.db.prisma.tenant.findUnique({ where: { id }, select: { status: true } });
  if (tenant) await deps.kv.cache.set(tenantStatusKey(id), tenant.status).catch(() => undefined);
  return tenant?.status ?? null;
}

/**
 * Job: removes tenants stuck in `provisioning` (the process died between the creation transaction
 * and the admin step, or compensation itself failed) once older than the timeout.
 */
export async function cleanupAbandonedTenants(
  deps: SubgraphDeps,
  olderThanMs = PROVISIONING_TIMEOUT_MS,
): Promise<{ removed: string[] }> {
  const stale = await deps.db.prisma.tenant.findMany({
    where: { status: 'provisioning', createdAt: { lt: new Date(Date.now() - olderThanMs) } },
    select: { id: true, schemaName: true, dbRole: true },
    take: 100,
  });
  const removed: string[] = [];
  for (const tenant of stale) {
    await destroyTenant(deps, tenant);
    removed.push(tenant.id);
  }
  return { removed };
}
