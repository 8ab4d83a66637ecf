import { randomBytes } from 'node:crypto';
import { parse } from 'libpg-query';
import { getDriverHandle } from '../../../../lib/db.js';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import type { BlueprintVersion, TenantDatabase } from '../../../../prisma/generated/client.js';
import { MASKED_PASSWORD } from '../tenants/connection-secrets.js';
import { databaseUrl, dedicatedServerUrl, dropDatabase, withClient } from '../tenants/tenant-databases.js';
import type { SqlTenant } from '../sql/tenant-sql.js';
import {
  currentSearchPath,
  enterTenantContext,
  leaveTenantContext,
  schemaGrantStatements,
} from '../tenants/tenant-roles.js';
import { assertRoleName, assertSchemaName, quoteIdent, type Tx } from '../sql/identifiers.js';
import { platformDatabaseUrl, withTenantSession, type TenantSessionTarget } from '../sql/tenant-session.js';

/**
 * A tenant's database made from a blueprint (`<blueprint>__<tenant>`). Isolation level 1 is a
 * schema of that name in the shared cluster, owned by a LOGIN role of its own with a random
 * password: a plain PostgreSQL client connecting as that role lands in its schema (the role's
 * search_path) and can reach nothing else, because the platform's schemas grant nothing to PUBLIC
 * and the schema grants nothing to anyone but its role. Level 1 runs inside the caller's
 * transaction, so a tenant creation that fails later leaves none of it behind.
 *
 * Level 2 is a PostgreSQL database of its own on the dedicated server (TENANT_DATABASE_URL, else
 * the platform's server; the embedded database cannot hold a second one): CONNECT on it only for
 * its role, the blueprint in its `public` schema. CREATE DATABASE cannot run in a transaction, so
 * it is made after the creation transaction and undone by the tenant's compensation.
 */

export type { TenantDatabase };

/** `fintech` + `acme-corp` → `fintech__acme-corp` (what tenantsdb shows). */
export function blueprintDatabaseName(blueprint: string, tenantSlug: string): string {
  return `${blueprint}__${tenantSlug}`;
}

/** The Postgres schema: the shown name with dashes as underscores, so it never needs quoting. */
export function blueprintSchemaName(blueprint: string, tenantSlug: string): string {
  const name = blueprintDatabaseName(blueprint, tenantSlug)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new AppError('VALIDATION_ERROR', 'Blueprint and tenant names together are too long for a database name', {
      database: name,
      max_length: 63,
    });
  }
  return name;
}

/**
 * Login roles are cluster-wide: named from a random id, never from caller-chosen names. The
 * `tenant_` prefix keeps them inside what tenant-roles.ts will enter and drop.
 */
function loginRoleName(): string {
  return assertRoleName(`tenant_db_${randomBytes(8).toString('hex')}`);
}

/** 32 hex characters: only [0-9a-f], so it can sit in a quoted literal (CREATE ROLE takes no parameters). */
function loginPassword(): string {
  return `tdb_${randomBytes(16).toString('hex')}`;
}

/** Major and minor of `1.0`, `1.12`: versions compare numerically, not as strings. */
export function parseVersion(version: string): [number, number] {
  const match = /^v?(\d+)(?:\.(\d+))?$/.exec(version.trim());
  if (!match) throw new AppError('VALIDATION_ERROR', `Invalid version "${version}": use 1.0, 1.1, …`, { version });
  return [Number(match[1]), Number(match[2] ?? 0)];
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = parseVersion(a);
  const [bm, bn] = parseVersion(b);
  return am !== bm ? am - bm : an - bn;
}

/** The statements of a version's `changes` (captured DDL since the previous version), in order. */
export function versionStatements(version: Pick<BlueprintVersion, 'changes'>): string[] {
  const changes = Array.isArray(version.changes) ? version.changes : [];
  return changes
    .map((c) => (typeof c === 'string' ? c : c && typeof c === 'object' && 'statement' in c ? c.statement : null))
    .filter((s): s is string => typeof s === 'string' && s.trim().length > 0);
}

/**
 * A script (a version's whole DDL) as single statements, split by PostgreSQL's own parser so a
 * function body's semicolons stay inside it. Statements go one by one because the embedded
 * database's extended protocol takes one statement per call.
 */
export async function splitStatements(script: string): Promise<string[]> {
  if (script.trim() === '') return [];
  const result = await parse(script);
  const bytes = Buffer.from(script, 'utf8');
  return (result.stmts ?? [])
    .map((raw) => {
      const start = raw.stmt_location ?? 0;
      const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
      return bytes.subarray(start, end).toString('utf8').trim();
    })
    .filter((s) => s !== '');
}

/**
 * Runs statements as the database's own role with its schema first on the search path, then
 * returns to the platform's identity for the bookkeeping that follows in the same transaction.
 * A statement naming another schema fails in PostgreSQL itself (permission denied).
 */
export async function applyAsDatabaseRole(
  tx: Tx,
  db: { loginRole: string | null; schemaName: string },
  statements: string[],
): Promise<void> {
  if (!db.loginRole) throw new AppError('INTERNAL_ERROR', 'Tenant database without a role', { schema: db.schemaName });
  const previous = await currentSearchPath(tx);
  await enterTenantContext(tx, { role: db.loginRole, schemaName: db.schemaName });
  for (const statement of statements) await tx.$executeRawUnsafe(statement);
  await leaveTenantContext(tx, previous);
}

/** statement_timeout of a blueprint's DDL in a tenant database (deployments allow 5 minutes in all). */
const BLUEPRINT_DDL_TIMEOUT_MS = 4 * 60_000;

/** Where a blueprint database's own LOGIN role opens its sessions: the platform's database (level 1) or its own. */
export function blueprintSessionTarget(
  deps: SubgraphDeps,
  db: Pick<TenantDatabase, 'isolationLevel' | 'databaseName' | 'schemaName' | 'loginRole' | 'loginPassword'>,
): TenantSessionTarget {
  const url =
    db.isolationLevel === 2 ? databaseUrl(dedicatedServerUrl(deps), db.databaseName) : platformDatabaseUrl(deps);
  if (!db.loginRole || !db.loginPassword || !url) {
    throw new AppError('INTERNAL_ERROR', 'Tenant database without a login role', { schema: db.schemaName });
  }
  return { role: db.loginRole, url, credential: { sealed: db.loginPassword }, schemaName: db.schemaName };
}

/**
 * Runs a blueprint's statements (captured from a workspace, so tenant-written) on real PostgreSQL
 * in a session logged in as the database's own role (tenant-session.ts): no statement can step
 * back to the platform's identity, as it could under SET ROLE on the platform's connection.
 */
export async function applyInBlueprintSession(
  deps: SubgraphDeps,
  db: Pick<TenantDatabase, 'isolationLevel' | 'databaseName' | 'schemaName' | 'loginRole' | 'loginPassword'>,
  statements: string[],
): Promise<void> {
  await withTenantSession(
    deps,
    blueprintSessionTarget(deps, db),
    { readOnly: false, timeoutMs: BLUEPRINT_DDL_TIMEOUT_MS },
    async (session) => {
      for (const statement of statements) await session.query(statement);
    },
  );
}

/**
 * Level 1 on real PostgreSQL: the DDL that createBlueprintDatabase deferred (the role it made in
 * the creation transaction cannot log in before that commits), applied once it has, then the
 * version recorded. A failure here fails the tenant creation, whose compensation drops it all.
 */
export async function applyDeferredBlueprint(
  deps: SubgraphDeps,
  db: TenantDatabase,
  version: BlueprintVersion,
): Promise<TenantDatabase> {
  await applyInBlueprintSession(deps, db, await splitStatements(version.ddl));
  return deps.db.prisma.tenantDatabase.update({
    where: { id: db.id },
    data: { version: version.version, status: 'ready' },
  });
}

/** Only PostgreSQL blueprints make tenant databases: checked before anything is written. */
export function assertPostgresBlueprint(blueprint: { name: string; databaseType: string }): void {
  if (blueprint.databaseType !== 'PostgreSQL') {
    throw new AppError(
      'UNSUPPORTED_DATABASE',
      `unsupported_database: blueprint "${blueprint.name}" is ${blueprint.databaseType}; only PostgreSQL blueprints make tenant databases`,
      { blueprint: blueprint.name, database_type: blueprint.databaseType },
    );
  }
}

/**
 * Level 1: creates the schema and its login role, applies the version's whole DDL as that role
 * (so the role owns its tables) and records the database, in the caller's transaction.
 */
export async function createBlueprintDatabase(
  tx: Tx,
  secretBox: SecretBox,
  input: {
    tenantId: string;
    tenantSlug: string;
    blueprint: { id: string; name: string; databaseType: string };
    version: BlueprintVersion;
  },
  options: { deferDdl: boolean } = { deferDdl: false },
): Promise<TenantDatabase> {
  assertPostgresBlueprint(input.blueprint);
  const schemaName = assertSchemaName(blueprintSchemaName(input.blueprint.name, input.tenantSlug));
  const role = loginRoleName();
  const password = loginPassword();
  const s = quoteIdent(schemaName);
  const r = quoteIdent(role);
  await tx.$executeRawUnsafe(`CREATE SCHEMA ${s}`);
  await tx.$executeRawUnsafe(
    `CREATE ROLE ${r} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS CONNECTION LIMIT 20`,
  );
  // A client connecting as the role lands in its schema; pg_temp last for the same reason as the sandbox.
  await tx.$executeRawUnsafe(`ALTER ROLE ${r} SET search_path TO ${s}, pg_temp`);
  await tx.$executeRawUnsafe(`REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`);
  await tx.$executeRawUnsafe(`GRANT USAGE, CREATE ON SCHEMA ${s} TO ${r}`);
  const [membership] = await tx.$queryRawUnsafe<{ member: boolean }[]>(
    `SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`,
    role,
  );
  if (!membership?.member) await tx.$executeRawUnsafe(`GRANT ${r} TO CURRENT_USER`);
  // Real PostgreSQL: the DDL runs after the commit, logged in as the role (applyDeferredBlueprint);
  // until then the row says no version is applied. PGlite has one session: SET ROLE it is.
  const deferred = options.deferDdl;
  if (!deferred)
    await applyAsDatabaseRole(tx, { loginRole: role, schemaName }, await splitStatements(input.version.ddl));
  return tx.tenantDatabase.create({
    data: {
      id: newId('tdb'),
      tenantId: input.tenantId,
      blueprintId: input.blueprint.id,
      databaseType: input.blueprint.databaseType,
      isolationLevel: 1,
      databaseName: blueprintDatabaseName(input.blueprint.name, input.tenantSlug),
      schemaName,
      loginRole: role,
      // Sealed: shown back in connection strings, so stored readable only with the secrets key.
      loginPassword: secretBox.seal(password),
      version: deferred ? null : input.version.version,
      status: deferred ? 'provisioning' : 'ready',
    },
  });
}

/**
 * Level 2: the role and the database on the dedicated server, the blueprint applied as the role in
 * one transaction there, then the row. Anything made is removed again if a later step fails.
 */
export async function createDedicatedBlueprintDatabase(
  deps: SubgraphDeps,
  input: {
    tenantId: string;
    tenantSlug: string;
    blueprint: { id: string; name: string; databaseType: string };
    version: BlueprintVersion;
  },
): Promise<TenantDatabase> {
  assertPostgresBlueprint(input.blueprint);
  const server = dedicatedServerUrl(deps);
  const name = assertSchemaName(blueprintSchemaName(input.blueprint.name, input.tenantSlug));
  const role = loginRoleName();
  const password = loginPassword();
  const d = quoteIdent(name);
  const r = quoteIdent(role);
  const statements = await splitStatements(input.version.ddl);
  let made = false;
  try {
    await withClient(server, async (client) => {
      await client.query(
        `CREATE ROLE ${r} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS CONNECTION LIMIT 20`,
      );
      made = true;
      const member = await client.query(`SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`, [role]);
      if (!member.rows[0]?.member) await client.query(`GRANT ${r} TO CURRENT_USER`);
      await client.query(`CREATE DATABASE ${d}`);
      await client.query(`REVOKE ALL ON DATABASE ${d} FROM PUBLIC`);
      await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${d} TO ${r}`);
    });
    await withClient(databaseUrl(server, name), async (client) => {
      for (const statement of schemaGrantStatements({ role, schemaName: 'public' })) await client.query(statement);
    });
    const sealed = deps.secretBox.seal(password);
    await applyInBlueprintSession(
      deps,
      { isolationLevel: 2, databaseName: name, schemaName: 'public', loginRole: role, loginPassword: sealed },
      statements,
    );
    return await deps.db.prisma.tenantDatabase.create({
      data: {
        id: newId('tdb'),
        tenantId: input.tenantId,
        blueprintId: input.blueprint.id,
        databaseType: input.blueprint.databaseType,
        isolationLevel: 2,
        databaseName: name,
        schemaName: 'public',
        loginRole: role,
        loginPassword: sealed,
        version: input.version.version,
        status: 'ready',
      },
    });
  } catch (error) {
    if (made) await dropDedicated(server, { databaseName: name, loginRole: role }).catch(() => undefined);
    throw error;
  }
}

async function dropDedicated(server: string, db: { databaseName: string; loginRole: string | null }): Promise<void> {
  await dropDatabase(server, db.databaseName);
  if (db.loginRole) {
    const role = quoteIdent(assertRoleName(db.loginRole));
    await withClient(server, (client) => client.query(`DROP ROLE IF EXISTS ${role}`));
  }
}

/**
 * Drops a tenant's blueprint databases: what each role owns, the role, the schema (level 1) or
 * the database (level 2), the rows.
 */
export async function dropBlueprintDatabases(deps: SubgraphDeps, tx: Tx, tenantId: string): Promise<void> {
  const databases = await tx.tenantDatabase.findMany({ where: { tenantId } });
  for (const db of databases) {
    if (db.isolationLevel === 2) {
      await dropDedicated(dedicatedServerUrl(deps), db);
      continue;
    }
    if (db.loginRole) {
      const role = assertRoleName(db.loginRole);
      const [exists] = await tx.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1`,
        role,
      );
      if (exists && exists.n > 0) {
        await tx.$executeRawUnsafe(`DROP OWNED BY ${quoteIdent(role)} CASCADE`);
        await tx.$executeRawUnsafe(`DROP ROLE ${quoteIdent(role)}`);
      }
    }
    await tx.$executeRawUnsafe(`DROP SCHEMA IF EXISTS ${quoteIdent(assertSchemaName(db.schemaName))} CASCADE`);
  }
  await tx.tenantDatabase.deleteMany({ where: { tenantId } });
}

/**
 * The connection a plain PostgreSQL client uses: the server and database the platform itself
 * uses (level 1 lives there), as the database's role. The embedded default (PGlite) takes no
 * connections: null, and the answer says so.
 */
export function blueprintConnectionString(
  deps: SubgraphDeps,
  db: TenantDatabase,
  revealPassword: boolean,
): string | null {
  if (!db.loginRole || !db.loginPassword) return null;
  let url: URL;
  if (db.isolationLevel === 2) {
    url = new URL(databaseUrl(dedicatedServerUrl(deps), db.databaseName));
  } else {
    const handle = getDriverHandle(deps.db);
    if (handle.kind !== 'postgres') return null;
    url = new URL(handle.connectionString);
  }
  url.username = db.loginRole;
  // Decrypted only for a caller who may write the tenant (connection-secrets.ts).
  url.password = revealPassword ? deps.secretBox.open(db.loginPassword) : MASKED_PASSWORD;
  url.search = '';
  return url.toString();
}

/**
 * A tenant's database from a blueprint as a target of the tenant-SQL executor (tenantsdb
 * `POST /admin/query` with `blueprint`): the tenant's own checks (`tenant`, from sqlTenantOf) with
 * that database's role, schema and (level 2) database in place of the tenant's. The executor's
 * sandbox is the same for both; only where it points differs.
 */
export async function blueprintSqlTarget(deps: SubgraphDeps, tenant: SqlTenant, blueprint: string): Promise<SqlTenant> {
  const db = await deps.db.prisma.tenantDatabase.findFirst({
    where: { tenantId: tenant.id, blueprint: { name: blueprint, projectId: tenant.projectId } },
  });
  if (!db) {
    throw new AppError('NOT_FOUND', `Tenant "${tenant.slug}" has no database from blueprint "${blueprint}"`, {
      tenant_id: tenant.slug,
      blueprint,
    });
  }
  if (db.status !== 'ready' || !db.loginRole) {
    throw new AppError('SERVICE_UNAVAILABLE', `The tenant's "${blueprint}" database is not ready`, {
      tenant_id: tenant.slug,
      blueprint,
      status: db.status,
    });
  }
  return {
    ...tenant,
    schemaName: db.schemaName,
    role: db.loginRole,
    databaseUrl: db.isolationLevel === 2 ? databaseUrl(dedicatedServerUrl(deps), db.databaseName) : null,
    ...(db.loginPassword ? { sealedPassword: db.loginPassword } : {}),
  };
}

/** The tenants with a database from a blueprint of that name: the project's own, or any (operator). */
export async function tenantIdsWithBlueprint(
  deps: SubgraphDeps,
  projectId: string | null,
  blueprint: string,
): Promise<string[]> {
  const databases = await deps.db.prisma.tenantDatabase.findMany({
    where: { blueprint: { name: blueprint, ...(projectId !== null ? { projectId } : {}) } },
    select: { tenantId: true },
  });
  return databases.map((d) => d.tenantId);
}
