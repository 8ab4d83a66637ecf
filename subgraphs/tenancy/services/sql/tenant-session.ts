import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { getDriverHandle } from '../../../../lib/db.js';
import { AppError } from '../../../../lib/errors.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { withClient } from '../tenants/tenant-databases.js';
import { assertRoleName, assertSchemaName, quoteIdent } from './identifiers.js';
import type { Session } from './tenant-sql.js';

/**
 * Tenant-supplied SQL on real PostgreSQL runs on a connection whose SESSION user is the tenant's
 * own unprivileged LOGIN role, never on the platform's connection with `SET ROLE`.
 *
 * Why: `SET ROLE`, `RESET ROLE` and `set_config('role', …)` are checked against the session user.
 * On the platform's connection that is a superuser (or a member of every tenant role), so any
 * statement that reaches them (a built-in that runs SQL text such as query_to_xml or ts_stat, a
 * parser gap) could step back to the platform's identity and read or write everything. Logged in
 * as the tenant role, there is nothing to step back to: the role is not a superuser, has no
 * CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS, and is a member of no role, so SET ROLE can reach
 * only itself. The parser (sql-guard.ts) stays as a second wall.
 *
 * Credentials: tenant roles (`tenant_<id>`, made NOLOGIN before this existed) get a password
 * derived from the secrets key (SecretBox.derive), so nothing new is stored and every process
 * computes the same one. It is set as a SCRAM-SHA-256 verifier computed here, so the plaintext
 * never reaches the server (or its statement log). Login roles that already have a sealed
 * password (workspaces, blueprint databases) use that one.
 *
 * Hardening: the first time a process opens a database for tenant sessions, PUBLIC loses
 * CONNECT and TEMPORARY on it (each tenant role is granted CONNECT on its own database only) and
 * EXECUTE on the built-ins that run SQL text, touch large objects, hold advisory locks, notify,
 * read server files, open other connections, or report other relations' statistics.
 */

/** Connections per role and process: tenant SQL runs one statement per request. */
const POOL_MAX = 2;
/** Pools kept open per process; the least recently used is closed past this. */
const MAX_POOLS = 32;
/**
 * The role's server-wide connection cap: POOL_MAX for up to four tenancy processes. Past it
 * PostgreSQL refuses the login (53300), answered as SERVICE_UNAVAILABLE.
 */
export const TENANT_CONNECTION_LIMIT = 8;
const IDLE_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;
const SCRAM_ITERATIONS = 4096;

/** Built-ins in pg_catalog that PUBLIC loses EXECUTE on in a database tenant sessions use. */
const REVOKED_FUNCTIONS = [
  // They run SQL given as text, where no parser looks.
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'table_to_xml',
  'table_to_xmlschema',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xmlschema',
  'database_to_xml_and_xmlschema',
  'ts_stat',
  // Database-wide state outside any schema.
  'loread',
  'lowrite',
  'pg_notify',
  'pg_listening_channels',
  // Sizes and cancellation of what is not the tenant's.
  'pg_database_size',
  'pg_tablespace_size',
  'pg_cancel_backend',
  'pg_terminate_backend',
  // Server files (superuser-only by default; revoked again in case an operator granted them).
  'pg_read_file',
  'pg_read_binary_file',
  'pg_stat_file',
];
/** Name patterns (LIKE) revoked the same way: families too long to list. */
const REVOKED_PATTERNS = [
  'lo\\_%', // large objects: lo_create, lo_import, lo_open, lo_put, …
  'pg\\_advisory\\_%', // advisory locks are database-wide and outlive a transaction
  'pg\\_try\\_advisory\\_%',
  'pg\\_stat\\_get\\_%', // row counts and activity of every relation and session (pg_stat_* views)
  'pg\\_ls\\_%', // directory listings
];

type Credential = { derived: true } | { sealed: string };

export interface TenantSessionTarget {
  /** The LOGIN role the session authenticates as. */
  role: string;
  /** The database to open, as a URL with the platform's credentials (user and password are replaced). */
  url: string;
  credential: Credential;
  /** First on the search path. */
  schemaName: string;
}

export interface TenantSessionOptions {
  readOnly: boolean;
  timeoutMs: number;
  /** Transaction-local custom settings (e.g. workspace.capture_via) set before `fn` runs. */
  settings?: Record<string, string>;
}

/** The platform's own database URL on real PostgreSQL; null on the embedded PGlite. */
export function platformDatabaseUrl(deps: SubgraphDeps): string | null {
  const handle = getDriverHandle(deps.db);
  return handle.kind === 'postgres' ? handle.connectionString : null;
}

/** Whether tenant SQL can run in tenant sessions here: real PostgreSQL (PGlite has one session). */
export function usesTenantSessions(deps: SubgraphDeps): boolean {
  return platformDatabaseUrl(deps) !== null;
}

/** A tenant role's (or blueprint database role's) target: its dedicated database (level 2) or the platform's. */
export function tenantRoleTarget(
  deps: SubgraphDeps,
  tenant: { role: string; schemaName: string; databaseUrl: string | null; sealedPassword?: string },
): TenantSessionTarget {
  const url = tenant.databaseUrl ?? platformDatabaseUrl(deps);
  if (!url) throw new AppError('INTERNAL_ERROR', 'Tenant sessions need PostgreSQL');
  // A blueprint database's role has a password its owner holds: used, never replaced.
  const credential: Credential = tenant.sealedPassword ? { sealed: tenant.sealedPassword } : { derived: true };
  return { role: tenant.role, url, credential, schemaName: tenant.schemaName };
}

/**
 * One transaction in a session of the tenant's own role: `BEGIN [READ ONLY]`, statement_timeout,
 * the tenant's schema first on the search path. Commits only if the session and current user
 * are still the tenant role (and read-only still holds), else rolls back.
 */
export async function withTenantSession<T>(
  deps: SubgraphDeps,
  target: TenantSessionTarget,
  options: TenantSessionOptions,
  fn: (session: Session, raw: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const role = assertRoleName(target.role);
  const schema = assertSchemaName(target.schemaName);
  const password =
    'derived' in target.credential ? derivedPassword(deps, role) : deps.secretBox.open(target.credential.sealed);
  await ensureLogin(deps, target, role, password);
  const pool = poolFor(target.url, role, password);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    const sqlstate = (error as { code?: string }).code;
    // A password out of step (e.g. the role was recreated): prepare it again on the next call.
    if (sqlstate?.startsWith('28')) ensured.delete(loginKey(target.url, role));
    throw new AppError('SERVICE_UNAVAILABLE', 'Could not open a session on the tenant’s database', {
      sqlstate,
      database_message: (error as Error).message?.slice(0, 300),
    });
  }
  let broken = false;
  try {
    await client.query(options.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
    await client.query(`SET LOCAL statement_timeout = ${Math.trunc(options.timeoutMs)}`);
    // pg_temp last: left out, a temporary table could shadow the tenant's own tables.
    await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}, pg_temp`);
    for (const [name, value] of Object.entries(options.settings ?? {})) {
      await client.query('SELECT set_config($1, $2, true)', [name, value]);
    }
    const session: Session = {
      query: async (sql, params = []) => {
        const result = await client.query({ text: sql, values: params, rowMode: 'array', types: PG_TYPES });
        return {
          columns: (result.fields ?? []).map((f) => f.name),
          rows: (result.rows ?? []) as unknown[][],
          rowCount: result.rowCount ?? result.rows?.length ?? 0,
        };
      },
    };
    const value = await fn(session, client);
    const check = await client.query<{ s: string; c: string; ro: string }>(
      `SELECT session_user::text AS s, current_user::text AS c, current_setting('transaction_read_only') AS ro`,
    );
    const row = check.rows[0];
    if (!row || row.s !== role || row.c !== role || (options.readOnly && row.ro !== 'on')) {
      throw new AppError('FORBIDDEN', 'invalid_query: the statement tried to leave its tenant sandbox', {
        reason: 'sandbox_escape',
      });
    }
    await client.query('COMMIT');
    return value;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

export function derivedPassword(deps: SubgraphDeps, role: string): string {
  return deps.secretBox.derive(`tenant-login:${role}`);
}

// ---------------------------------------------------------------------------------------------
// Pools

function parseInt8(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Insertion order is recency: a hit is moved to the end, the first entry is the least recent. */
const pools = new Map<string, pg.Pool>();

function loginUrl(url: string, role: string, password: string): string {
  const login = new URL(url);
  login.username = role;
  login.password = password;
  // Prisma-only parameter; the driver would pass it on as a startup option.
  login.searchParams.delete('schema');
  return login.toString();
}

function poolFor(url: string, role: string, password: string): pg.Pool {
  const connectionString = loginUrl(url, role, password);
  const existing = pools.get(connectionString);
  if (existing) {
    pools.delete(connectionString);
    pools.set(connectionString, existing);
    return existing;
  }
  const pool = new pg.Pool({
    connectionString,
    max: POOL_MAX,
    idleTimeoutMillis: IDLE_MS,
    allowExitOnIdle: true,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An error event on an idle client would otherwise crash the process.
  pool.on('error', () => undefined);
  pools.set(connectionString, pool);
  while (pools.size > MAX_POOLS) {
    const [oldest, evicted] = pools.entries().next().value as [string, pg.Pool];
    pools.delete(oldest);
    // Clients checked out now finish their transaction first; end() closes each as it is released.
    void evicted.end().catch(() => undefined);
  }
  return pool;
}

/** Closes every tenant pool (tests, shutdown). */
export async function closeTenantSessions(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  ensured.clear();
  hardened.clear();
  await Promise.all(all.map((p) => p.end().catch(() => undefined)));
}

/** How many pools are open (for the latency measurements and tests). */
export function tenantSessionPoolCount(): number {
  return pools.size;
}

// ---------------------------------------------------------------------------------------------
// Preparing the role and the database (once per process)

const ensured = new Map<string, Promise<void>>();
const hardened = new Map<string, Promise<void>>();

function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

function loginKey(url: string, role: string): string {
  const u = new URL(url);
  return `${u.host}/${databaseOf(url)}|${role}`;
}

/** The platform's credentials on the target's database. */
function adminUrl(target: TenantSessionTarget): string {
  const u = new URL(target.url);
  u.searchParams.delete('schema');
  return u.toString();
}

function ensureLogin(deps: SubgraphDeps, target: TenantSessionTarget, role: string, password: string): Promise<void> {
  const key = loginKey(target.url, role);
  let pending = ensured.get(key);
  if (!pending) {
    pending = prepareLogin(deps, target, role, password);
    ensured.set(key, pending);
    pending.catch(() => ensured.delete(key));
  }
  return pending;
}

/**
 * Makes the role a least-privileged LOGIN role: LOGIN with the derived password (derived roles
 * only), none of the powerful attributes, member of no role, CONNECT on this database. Under an
 * advisory lock: two processes altering one role at once would fail with "tuple concurrently
 * updated". Fails closed: a membership it cannot remove stops tenant SQL for that role.
 */
async function prepareLogin(
  deps: SubgraphDeps,
  target: TenantSessionTarget,
  role: string,
  password: string,
): Promise<void> {
  await hardenDatabase(deps, target);
  const r = quoteIdent(role);
  await withClient(adminUrl(target), async (client) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tenant-login:${role}`]);
      const { rows } = await client.query<Record<string, boolean>>(
        `SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1`,
        [role],
      );
      const attributes = rows[0];
      if (!attributes) throw new AppError('CONFLICT', 'The tenant’s database role does not exist', { role });
      // Only attributes that are wrong are named: a non-superuser platform user may not even
      // mention SUPERUSER/REPLICATION/BYPASSRLS in ALTER ROLE.
      const fixes = [
        attributes.rolsuper && 'NOSUPERUSER',
        attributes.rolcreatedb && 'NOCREATEDB',
        attributes.rolcreaterole && 'NOCREATEROLE',
        attributes.rolreplication && 'NOREPLICATION',
        attributes.rolbypassrls && 'NOBYPASSRLS',
      ].filter(Boolean);
      if ('derived' in target.credential) {
        fixes.push('LOGIN', `CONNECTION LIMIT ${TENANT_CONNECTION_LIMIT}`, `PASSWORD '${scramVerifier(password)}'`);
      }
      if (fixes.length > 0) await client.query(`ALTER ROLE ${r} WITH ${fixes.join(' ')}`);
      // A role it is a member of could be reached with SET ROLE: there must be none.
      const memberOf = async () =>
        (
          await client.query<{ name: string }>(
            `SELECT g.rolname AS name FROM pg_auth_members m
               JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
              WHERE u.rolname = $1`,
            [role],
          )
        ).rows.map((row) => row.name);
      for (const granted of await memberOf()) await client.query(`REVOKE ${quoteIdent(granted)} FROM ${r} CASCADE`);
      const left = await memberOf();
      if (left.length > 0) {
        throw new AppError('INTERNAL_ERROR', 'The tenant role is a member of other roles and cannot be used', {
          role,
          member_of: left,
        });
      }
      // Grants on one database from two sessions at once fail ("tuple concurrently updated"):
      // serialised with the hardening under the database's lock.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tenant-harden:${databaseOf(target.url)}`]);
      await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(databaseOf(target.url))} TO ${r}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

function hardenDatabase(deps: SubgraphDeps, target: TenantSessionTarget): Promise<void> {
  const key = loginKey(target.url, '');
  let pending = hardened.get(key);
  if (!pending) {
    pending = hardenNow(deps, target);
    hardened.set(key, pending);
    pending.catch(() => hardened.delete(key));
  }
  return pending;
}

async function hardenNow(deps: SubgraphDeps, target: TenantSessionTarget): Promise<void> {
  const database = databaseOf(target.url);
  const platformUrl = platformDatabaseUrl(deps);
  const isPlatformDatabase = platformUrl !== null && loginKey(platformUrl, '') === loginKey(target.url, '');
  await withClient(adminUrl(target), async (client) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tenant-harden:${database}`]);
      const d = quoteIdent(database);
      // Revoking what PUBLIC holds needs the database's owner (or a superuser); without it the
      // statements are no-ops with a warning, and the login role remains the wall.
      // The platform's own user first, in case it connected through PUBLIC's grant.
      await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${d} TO CURRENT_USER`);
      await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${d} FROM PUBLIC`);
      if (isPlatformDatabase) {
        // Level-1 blueprint databases are schemas here, reached by clients as their own roles.
        await client.query(
          `DO $$ DECLARE r text; BEGIN
             FOR r IN SELECT login_role FROM tenancy.tenant_databases
                       WHERE isolation_level = 1 AND login_role IS NOT NULL
                         AND login_role IN (SELECT rolname FROM pg_roles) LOOP
               EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
             END LOOP; END $$`,
        );
      }
      const superuser = await client.query<{ ok: boolean }>(
        `SELECT rolsuper AS ok FROM pg_roles WHERE rolname = current_user`,
      );
      if (superuser.rows[0]?.ok) {
        const { rows } = await client.query<{ sig: string }>(
          `SELECT p.oid::regprocedure::text AS sig
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE ((n.nspname = 'pg_catalog'
                    AND (p.proname = ANY($1::text[]) OR p.proname LIKE ANY($2::text[])
                         OR (p.proname = 'ts_rewrite' AND p.proargtypes[1] = 'text'::regtype)))
                   OR p.proname LIKE 'dblink%')
              AND has_function_privilege('public', p.oid, 'EXECUTE')`,
          [REVOKED_FUNCTIONS, REVOKED_PATTERNS],
        );
        for (const { sig } of rows) await client.query(`REVOKE EXECUTE ON FUNCTION ${sig} FROM PUBLIC`);
        // The list of every database on the server (other tenants' names among them).
        await client.query(`REVOKE SELECT ON pg_catalog.pg_database FROM PUBLIC`);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 7677; the format of
 * `pg_authid.rolpassword`). Sent instead of the password, so no log line can hold the plaintext.
 */
export function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
