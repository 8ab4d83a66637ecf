import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { createTenant as createTestTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

// Tenant SQL escape attempts through every door that takes tenant SQL: core-platform
// POST /api/database/query and /api/database/migrate (scripts registered through GraphQL
// registerTenantMigration, run by migrate), tenantsdb POST /admin/query and
// POST /workspaces/{id}/queries, and GraphQL executeTenantQuery. Each attempt must be refused
// (a 4xx with a stable code) or harmless; after each door's run nothing may have leaked: no
// platform or other-tenant data in any answer, no object, role, large object or lock created
// outside the tenant, the platform's own session unchanged. Embedded PGlite by default, real
// PostgreSQL with TEST_DATABASE_URL.

const PASSWORD = 'Escape-Attempt-Passphrase-7';
const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const rateLimitPolicies = {
  'platform-forge.auth': { points: 1000, durationSeconds: 60 },
  'core-platform.database-query': { points: 5000, durationSeconds: 60 },
};

const MARKER_B = `leak-b-${randomBytes(6).toString('hex')}`;
const MARKER_PLATFORM = `leak-platform-${randomBytes(6).toString('hex')}`;
const XML_QUERY = `'SELECT * FROM identity.users'`;

/** {B} is tenant B's schema, {P} a platform schema. */
const ATTEMPTS: string[] = [
  // Functions that execute SQL text.
  `SELECT query_to_xml(${XML_QUERY}, true, true, '')`,
  `SELECT query_to_xml_and_xmlschema(${XML_QUERY}, true, true, '')`,
  `SELECT table_to_xml('identity.users', true, true, '')`,
  `SELECT schema_to_xml('identity', true, true, '')`,
  `SELECT database_to_xml(true, true, '')`,
  `SELECT cursor_to_xml('c', 10, true, true, '')`,
  `SELECT * FROM ts_stat('SELECT to_tsvector(email) FROM identity.users')`,
  `SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')`,
  `SELECT xpath('/row', query_to_xml(${XML_QUERY}, true, true, ''))`,
  // The same, wrapped: CTEs, subqueries, function arguments, casts, expressions.
  `WITH x AS (SELECT query_to_xml(${XML_QUERY}, true, true, '') AS v) SELECT * FROM x`,
  `SELECT (SELECT table_to_xml('identity.users', true, true, ''))`,
  `SELECT * FROM (SELECT query_to_xml(${XML_QUERY}, true, true, '')::text AS v) s`,
  `SELECT length(upper(query_to_xml(${XML_QUERY}, true, true, '')::text))`,
  `SELECT coalesce(NULL, query_to_xml(${XML_QUERY}, true, true, '')::text)`,
  `SELECT CASE WHEN true THEN query_to_xml(${XML_QUERY}, true, true, '')::text END`,
  `SELECT ARRAY[table_to_xml('identity.users', true, true, '')::text]`,
  `SELECT 1 WHERE EXISTS (SELECT pg_read_file('/etc/passwd'))`,
  `SELECT jsonb_build_object('a', pg_ls_dir('.'))`,
  `SELECT count(*) FILTER (WHERE pg_advisory_lock(1) IS NOT NULL) FROM users`,
  `SELECT lower(current_setting('data_directory'))`,
  `SELECT * FROM users ORDER BY (SELECT lo_create(0))`,
  `INSERT INTO users (email) SELECT query_to_xml(${XML_QUERY}, true, true, '')::text`,
  `UPDATE users SET email = (SELECT table_to_xml('identity.users', true, true, '')::text)`,
  // Views, defaults, check constraints, generated columns, indexes: bodies that run later.
  `CREATE VIEW v_escape AS SELECT query_to_xml(${XML_QUERY}, true, true, '') AS v`,
  `CREATE TABLE t_escape (a text DEFAULT query_to_xml(${XML_QUERY}, true, true, '')::text)`,
  `CREATE TABLE t_escape2 (a int CHECK (pg_advisory_lock(a) IS NOT NULL))`,
  `CREATE TABLE t_escape3 (a text GENERATED ALWAYS AS (current_setting('is_superuser')) STORED)`,
  `CREATE INDEX ON users ((pg_read_file(email)))`,
  `ALTER TABLE users ADD COLUMN x text DEFAULT pg_read_file('/etc/passwd')`,
  `CREATE MATERIALIZED VIEW mv_escape AS SELECT lo_import('/etc/passwd')`,
  `CREATE TABLE t_ctas AS SELECT table_to_xml('identity.users', true, true, '')`,
  // Catalog names and lookups.
  `SELECT 'identity.users'::regclass`,
  `SELECT CAST('postgres' AS regrole)`,
  `SELECT * FROM pg_catalog.pg_tables`,
  `SELECT nspname FROM pg_namespace`,
  `SELECT * FROM information_schema.tables`,
  `SELECT * FROM pg_shadow`,
  `SELECT * FROM pg_stat_activity`,
  `SELECT * FROM pg_settings`,
  `SELECT pg_get_viewdef('identity.users')`,
  `SELECT has_table_privilege('identity.users', 'select')`,
  `SELECT version()`,
  `SELECT pg_backend_pid()`,
  `SELECT * FROM identity.users`,
  `SELECT * FROM tenancy.tenants`,
  `SELECT * FROM {B}.users`,
  `SHOW data_directory`,
  `SHOW ALL`,
  // Role and session switching.
  `SET ROLE postgres`,
  `RESET ROLE`,
  `SET SESSION AUTHORIZATION postgres`,
  `RESET SESSION AUTHORIZATION`,
  `RESET ALL`,
  `SET LOCAL ROLE NONE`,
  `SET search_path TO identity`,
  `SELECT set_config('role', 'postgres', true)`,
  `SELECT pg_catalog.set_config('session_authorization', 'postgres', false)`,
  // Large objects.
  `SELECT lo_create(0)`,
  `SELECT lo_creat(-1)`,
  `SELECT lo_from_bytea(0, '\\x41')`,
  `SELECT lo_import('/etc/passwd')`,
  `SELECT lo_export(1, '/tmp/escape')`,
  `SELECT lo_get(1)`,
  `SELECT loread(lo_open(1, 262144), 10)`,
  `SELECT * FROM pg_largeobject`,
  // Files and programs.
  `SELECT pg_read_file('/etc/passwd')`,
  `SELECT pg_read_binary_file('/etc/passwd')`,
  `SELECT pg_ls_dir('.')`,
  `SELECT pg_stat_file('postgresql.conf')`,
  `COPY users TO '/tmp/escape'`,
  `COPY users FROM PROGRAM 'id'`,
  `COPY (SELECT 1) TO STDOUT`,
  // Advisory locks and sleep.
  `SELECT pg_advisory_lock(1)`,
  `SELECT pg_try_advisory_lock(42)`,
  `SELECT pg_advisory_xact_lock(1)`,
  `SELECT pg_sleep(10)`,
  `SELECT pg_sleep_for('10 seconds')`,
  `SELECT pg_sleep_until(now() + interval '10 seconds')`,
  // Statements that run code, reach the server or the cluster.
  `DO $$ BEGIN PERFORM 1; END $$`,
  `CREATE FUNCTION f_escape() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
  `CREATE PROCEDURE p_escape() LANGUAGE sql AS 'SELECT 1'`,
  `CREATE EXTENSION dblink`,
  `SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS x(a int)`,
  `ALTER SYSTEM SET work_mem = '1GB'`,
  `LISTEN escape`,
  `NOTIFY escape, 'x'`,
  `SELECT pg_notify('escape', 'x')`,
  `LOAD 'auto_explain'`,
  `CHECKPOINT`,
  `VACUUM`,
  `CREATE ROLE escape_role`,
  `GRANT ALL ON users TO PUBLIC`,
  `ALTER TABLE users OWNER TO postgres`,
  `CREATE SCHEMA escape_schema`,
  `PREPARE escape_p AS SELECT 1`,
  `DISCARD ALL`,
  `SELECT pg_terminate_backend(1)`,
  `SELECT pg_reload_conf()`,
  `CREATE TEMP TABLE escape_tmp (a int)`,
  `DECLARE escape_c CURSOR FOR SELECT 1`,
  `COMMIT`,
  `LOCK TABLE users`,
  // Several statements, comments and unicode obfuscation.
  `SELECT 1; SET ROLE postgres`,
  `SELECT 1; SELECT * FROM identity.users`,
  `SELECT/**/pg_read_file('/etc/passwd')`,
  `SELECT pg_read_file/* hidden */('/etc/passwd')`,
  `SELECT "pg_read_file"('/etc/passwd')`,
  `SELECT U&"pg\\005fread\\005ffile"('/etc/passwd')`,
  `SELECT pg_catalog . pg_ls_dir('.')`,
  `-- a comment\nSELECT pg_ls_dir('.')`,
  `SELECT 1 /* ; SET ROLE postgres */`,
  `SELECT E'\\x27; SET ROLE postgres; --'`,
  `SELECT $q$; SET ROLE postgres; $q$`,
];

interface Snapshot {
  schemas: number;
  platform_relations: number;
  escaped_relations: number;
  platform_functions: number;
  roles: number;
  large_objects: number;
  advisory_locks: number;
  current_user: string;
}

describe.sequential('tenant SQL escape attempts, every door', () => {
  let t: TestPlatform;
  let a: TenantInfo;
  let b: TenantInfo;
  let tokenA: string;
  let projectKey: string;
  let workspace: string;
  let version = 0;

  const platformSql = <T = Record<string, unknown>>(sql: string, ...params: unknown[]) =>
    t.platform.db.prisma.$queryRawUnsafe<T[]>(sql, ...params);

  const createTenant = (token: string) => createTestTenant(t, token, FORWARDED, 'esc');
  const tenantAdmin = (tenantId: string) => signInTenantAdmin(t, tenantId, { password: PASSWORD, headers: FORWARDED });

  const snapshot = async (): Promise<Snapshot> => {
    // What the attempts could create outside tenant A, by name (other test files create tenants,
    // workspaces, schemas and roles concurrently on a shared PostgreSQL), plus the platform's
    // own relations, every large object, the advisory locks tried, and the platform's session.
    const [row] = await platformSql<Snapshot>(
      `SELECT
         (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'escape%')::int AS schemas,
         (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('identity', 'tenancy'))::int AS platform_relations,
         (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname <> $1 AND (c.relname LIKE '%escape%' OR c.relname IN ('t_ctas', 'ro_copy', 'ro_table', 'ro_ws')))::int
           AS escaped_relations,
         (SELECT count(*) FROM pg_proc WHERE proname IN ('f_escape', 'p_escape'))::int AS platform_functions,
         (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'escape%')::int AS roles,
         (SELECT count(*) FROM pg_largeobject_metadata)::int AS large_objects,
         (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid IN (1, 42))::int AS advisory_locks,
         current_user::text AS current_user`,
      a.schemaName,
    );
    return row!;
  };

  const substitute = (sql: string) => sql.replaceAll('{B}', `"${b.schemaName}"`);

  /** Refused (4xx with a code) or harmless (2xx) — never a 5xx, never a leak. */
  const expectContained = (sql: string, answer: { status: number; body: unknown }) => {
    const text = JSON.stringify(answer.body);
    expect(answer.status, `${sql} → ${text}`).toBeLessThan(500);
    for (const secret of [MARKER_B, MARKER_PLATFORM, '$argon2', 'root:x:0', b.schemaName]) {
      // B's schema name may only come back inside our own statement's echo, never as data.
      const echoed = secret === b.schemaName && sql.includes('{B}');
      if (!echoed) expect(text, sql).not.toContain(secret);
    }
  };

  const run = async (door: (sql: string) => Promise<{ status: number; body: unknown }>) => {
    const before = await snapshot();
    let refused = 0;
    for (const attempt of ATTEMPTS) {
      const sql = substitute(attempt);
      const answer = await door(sql);
      expectContained(attempt, answer);
      if (answer.status >= 400) refused += 1;
    }
    expect(await snapshot()).toEqual(before);
    // Tenant B's data is untouched and the platform marker still where it was.
    const [rowB] = await platformSql<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${b.schemaName}".users WHERE email = $1`,
      `${MARKER_B}@example.com`,
    );
    expect(rowB!.n).toBe(1);
    return refused;
  };

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'], rateLimitPolicies });
    a = await createTenant(t.operatorKey);
    b = await createTenant(t.operatorKey);
    tokenA = await tenantAdmin(a.id);
    const signup = await t.rest('/signup', {
      method: 'POST',
      token: null,
      body: { email: `${MARKER_PLATFORM}@example.com`, password: PASSWORD, project_name: uniqueSlug('EscProj') },
    });
    expect(signup.status, JSON.stringify(signup.body)).toBe(201);
    projectKey = signup.body.api_key;
    workspace = uniqueSlug('escws').replaceAll('-', '_');
    const created = await t.rest('/workspaces', {
      method: 'POST',
      token: projectKey,
      body: { name: workspace, database: 'PostgreSQL' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await platformSql(`INSERT INTO "${b.schemaName}".users (email) VALUES ($1)`, `${MARKER_B}@example.com`);
  }, 240_000);

  afterAll(async () => {
    await t?.close();
  });

  it('has at least 50 attempts per door', () => {
    expect(ATTEMPTS.length).toBeGreaterThanOrEqual(50);
  });

  it('core-platform POST /api/database/query (read-write)', async () => {
    const refused = await run((sql) =>
      t.rest('/api/database/query', { method: 'POST', token: tokenA, body: { query: sql, read_only: false } }),
    );
    expect(refused).toBeGreaterThanOrEqual(ATTEMPTS.length - 3);
  }, 300_000);

  it('tenantsdb POST /admin/query', async () => {
    const refused = await run((sql) =>
      t.rest('/admin/query', { method: 'POST', token: tokenA, body: { tenant_id: a.slug, query: sql } }),
    );
    expect(refused).toBeGreaterThanOrEqual(ATTEMPTS.length - 3);
  }, 300_000);

  it('tenantsdb POST /workspaces/{id}/queries', async () => {
    const refused = await run((sql) =>
      t.rest(`/workspaces/${workspace}/queries`, { method: 'POST', token: projectKey, body: { query: sql } }),
    );
    expect(refused).toBeGreaterThanOrEqual(ATTEMPTS.length - 3);
  }, 300_000);

  it('GraphQL executeTenantQuery', async () => {
    const refused = await run(async (sql) => {
      const answer = await t.graphql(
        `mutation ($input: TenantQueryInput!) { executeTenantQuery(input: $input) { rows columns } }`,
        { input: { query: sql, readOnly: false } },
        { token: tokenA, headers: FORWARDED },
      );
      const code = answer.body.errors?.[0]?.extensions?.code;
      // GraphQL answers 200 with errors: a refusal is an error with a client code.
      const status = answer.body.errors
        ? code === 'INTERNAL_SERVER_ERROR' || code === 'INTERNAL_ERROR'
          ? 500
          : 400
        : 200;
      return { status, body: answer.body };
    });
    expect(refused).toBeGreaterThanOrEqual(ATTEMPTS.length - 3);
  }, 300_000);

  it('core-platform POST /api/database/migrate (scripts registered through GraphQL)', async () => {
    const refused = await run(async (sql) => {
      version += 1;
      const registered = await t.graphql(
        `mutation ($version: String!, $name: String!, $upSql: String!) {
          registerTenantMigration(version: $version, name: $name, upSql: $upSql) { version }
        }`,
        { version: `2099010100${String(version).padStart(4, '0')}`, name: `escape ${version}`, upSql: sql },
        { token: tokenA, headers: FORWARDED },
      );
      if (registered.body.errors) {
        const code = registered.body.errors[0]?.extensions?.code;
        return {
          status: code === 'INTERNAL_SERVER_ERROR' || code === 'INTERNAL_ERROR' ? 500 : 400,
          body: registered.body,
        };
      }
      // Registered (harmless as far as the guard can tell): it must also run harmlessly.
      return t.rest('/api/database/migrate', { method: 'POST', token: tokenA, body: { schema: a.schemaName } });
    });
    // Scripts may hold several statements, and schema names are the database's wall, not the
    // parser's: the 3 harmless SELECTs, 4 reaching identity / tenancy / B's schema and the
    // `::regclass` name lookup (allowed for serial defaults) register, then fail in the database
    // on migrate. Harmless all the same, which run() checked.
    expect(refused).toBeGreaterThanOrEqual(ATTEMPTS.length - 8);
  }, 300_000);

  describe('read-only doors refuse large objects and every write, on both backends', () => {
    const READ_ONLY_WRITES = [
      `SELECT lo_create(0)`,
      `SELECT lo_creat(-1)`,
      `SELECT lo_from_bytea(0, '\\x41')`,
      `SELECT lo_import('/etc/passwd')`,
      `SELECT lo_put(1, 0, '\\x41')`,
      `SELECT lo_unlink(1)`,
      `SELECT * FROM (SELECT lo_create(0)) s`,
      `WITH x AS (SELECT lo_from_bytea(0, '\\x41')) SELECT * FROM x`,
      `INSERT INTO users (email) VALUES ('ro-escape@example.com')`,
      `UPDATE users SET email = email`,
      `DELETE FROM users`,
      `MERGE INTO users u USING users s ON u.id = s.id WHEN MATCHED THEN DELETE`,
      `WITH gone AS (DELETE FROM users RETURNING 1) SELECT count(*) FROM gone`,
      `SELECT * INTO ro_copy FROM users`,
      `SELECT * FROM users FOR UPDATE`,
      `CREATE TABLE ro_table (id int)`,
      `TRUNCATE users`,
      `EXPLAIN ANALYZE DELETE FROM users`,
      `SELECT nextval('users_id_seq')`,
    ];

    const readDoors: [string, (sql: string) => Promise<{ status: number; body: unknown }>][] = [
      ['core query', (sql) => t.rest('/api/database/query', { method: 'POST', token: tokenA, body: { query: sql } })],
      [
        'admin query',
        (sql) =>
          t.rest('/admin/query', {
            method: 'POST',
            token: tokenA,
            body: { tenant_id: a.slug, query: sql, read_only: true },
          }),
      ],
      [
        'GraphQL',
        async (sql) => {
          const answer = await t.graphql(
            `mutation ($input: TenantQueryInput!) { executeTenantQuery(input: $input) { rows } }`,
            { input: { query: sql, readOnly: true } },
            { token: tokenA, headers: FORWARDED },
          );
          return { status: answer.body.errors ? 400 : 200, body: answer.body };
        },
      ],
    ];

    it.each(readDoors)(
      '%s',
      async (_name, door) => {
        const before = await snapshot();
        const [users] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${a.schemaName}".users`);
        for (const sql of READ_ONLY_WRITES) {
          const answer = await door(sql);
          expect(answer.status, `${sql} → ${JSON.stringify(answer.body)}`).toBeGreaterThanOrEqual(400);
          expect(answer.status, sql).toBeLessThan(500);
        }
        expect(await snapshot()).toEqual(before);
        const [after] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${a.schemaName}".users`);
        expect(after!.n).toBe(users!.n);
        const [copy] = await platformSql<{ ok: boolean }>(
          `SELECT to_regclass($1) IS NULL AS ok`,
          `"${a.schemaName}".ro_copy`,
        );
        expect(copy!.ok).toBe(true);
      },
      120_000,
    );

    it('a workspace without allow_api_ddl takes reads only', async () => {
      const settings = await t.rest(`/workspaces/${workspace}/settings`, {
        method: 'POST',
        token: projectKey,
        body: { allow_api_ddl: false },
      });
      expect(settings.status, JSON.stringify(settings.body)).toBe(200);
      const before = await snapshot();
      for (const sql of [...READ_ONLY_WRITES.slice(0, 8), 'CREATE TABLE ro_ws (id int)']) {
        const answer = await t.rest(`/workspaces/${workspace}/queries`, {
          method: 'POST',
          token: projectKey,
          body: { query: sql },
        });
        expect(answer.status, `${sql} → ${JSON.stringify(answer.body)}`).toBeGreaterThanOrEqual(400);
        expect(answer.status, sql).toBeLessThan(500);
      }
      expect(await snapshot()).toEqual(before);
    }, 120_000);
  });
});
