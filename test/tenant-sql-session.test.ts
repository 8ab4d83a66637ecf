import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSession } from '../subgraphs/tenancy/services/sql/tenant-sql.js';
import {
  derivedPassword,
  tenantRoleTarget,
  TENANT_CONNECTION_LIMIT,
  withTenantSession,
} from '../subgraphs/tenancy/services/sql/tenant-session.js';
import { bootPlatform, uniqueSlug, usingRealServices, type RestAnswer, type TestPlatform } from './support/platform.js';
import { waitFor } from './support/rest.js';

// Tenant SQL on real PostgreSQL runs in a session logged in as the tenant's own unprivileged role
// (tenant-session.ts), so nothing a statement does can step back to the platform's identity.
// Every attack is tried twice: through the gateway (REST of both dialects, GraphQL), where the
// parser may refuse it first, and straight into a tenant session (no parser), where the database
// alone must refuse it or make it harmless. PostgreSQL only: PGlite has no second login.

const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const rateLimitPolicies = {
  'core-platform.database-query': { points: 10_000, durationSeconds: 60 },
};

interface TenantInfo {
  id: string;
  slug: string;
  schemaName: string;
}

/** What every refusal by the database looks like: 42501 insufficient_privilege (or read-only). */
const REFUSED_SQLSTATES = ['42501', '25006'];

describe.skipIf(!usingRealServices)('tenant SQL runs as the tenant’s own login role', () => {
  let t: TestPlatform;
  let a: TenantInfo;
  let b: TenantInfo;
  let roleA: string;

  const core = (body: Record<string, unknown>): Promise<RestAnswer> =>
    t.rest('/api/database/query', { method: 'POST', body: { schema: a.schemaName, ...body }, headers: FORWARDED });
  const admin = (body: Record<string, unknown>): Promise<RestAnswer> =>
    t.rest('/admin/query', { method: 'POST', body: { tenant_id: a.id, ...body }, headers: FORWARDED });
  const gql = (query: string, readOnly = true) =>
    t.graphql<{ executeTenantQuery: { rows: unknown[][] } }>(
      `mutation ($input: TenantQueryInput!) { executeTenantQuery(input: $input) { rows } }`,
      { input: { query, schema: a.schemaName, readOnly } },
      { headers: FORWARDED },
    );
  const platformSql = <T = Record<string, unknown>>(sql: string, ...params: unknown[]) =>
    t.platform.db.prisma.$queryRawUnsafe<T[]>(sql, ...params);

  /** Straight into A's tenant session: no parser, only the database between the SQL and the platform. */
  const direct = (sql: string, readOnly = false) =>
    withTenantSession(
      t.platform.deps,
      tenantRoleTarget(t.platform.deps, { role: roleA, schemaName: a.schemaName, databaseUrl: null }),
      { readOnly, timeoutMs: 5000 },
      (session) => session.query(sql),
    );
  const directError = async (sql: string, readOnly = false) => {
    try {
      await direct(sql, readOnly);
    } catch (error) {
      return error as { code?: string; message: string };
    }
    throw new Error(`expected the database to refuse: ${sql}`);
  };

  /** A refusal through the gateway: by the parser (400 invalid_query) or the database (42501/25006). */
  const expectRefused = (answer: RestAnswer, sql: string) => {
    expect(answer.status, `${sql}: ${JSON.stringify(answer.body)}`).toBeGreaterThanOrEqual(400);
    const details = answer.body.error?.details ?? answer.body.details ?? {};
    const byParser = /invalid_query/.test(JSON.stringify(answer.body));
    expect(byParser || REFUSED_SQLSTATES.includes(details.sqlstate), `${sql}: ${JSON.stringify(answer.body)}`).toBe(
      true,
    );
  };

  const createTenant = async (): Promise<TenantInfo> => {
    const slug = uniqueSlug('sess');
    const { body } = await t.graphql<{ createTenant: TenantInfo }>(
      `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id slug schemaName } }`,
      { input: { name: `Session ${slug}`, slug } },
      { headers: FORWARDED },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.createTenant;
  };

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'], rateLimitPolicies });
    a = await createTenant();
    b = await createTenant();
    roleA = `tenant_${a.id.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
    // Something of B's worth stealing.
    await t.platform.db.prisma.$executeRawUnsafe(
      `INSERT INTO "${b.schemaName}".users (email) VALUES ('b@example.com')`,
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('upgrades the NOLOGIN tenant role on first use: LOGIN, SCRAM password, connection limit, no powers', async () => {
    const [before] = await platformSql<{ rolcanlogin: boolean }>(
      `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`,
      roleA,
    );
    expect(before?.rolcanlogin).toBe(false);
    const answer = await core({ query: 'SELECT 1' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const [after] = await platformSql<Record<string, unknown>>(
      `SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit,
              left(rolpassword, 14) AS scheme,
              (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = a.oid) AS member_of
         FROM pg_authid a WHERE rolname = $1`,
      roleA,
    );
    expect(after).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolreplication: false,
      rolbypassrls: false,
      rolconnlimit: TENANT_CONNECTION_LIMIT,
      scheme: 'SCRAM-SHA-256$',
      member_of: 0,
    });
  });

  it('every door runs as the tenant role: session_user and current_user, in REST of both dialects and GraphQL', async () => {
    const sql = 'SELECT session_user::text, current_user::text';
    const viaCore = await core({ query: sql });
    expect(viaCore.body.data.rows).toEqual([[roleA, roleA]]);
    const viaAdmin = await admin({ query: sql });
    expect(viaAdmin.status, JSON.stringify(viaAdmin.body)).toBe(200);
    expect(viaAdmin.body.results[0].rows).toEqual([[roleA, roleA]]);
    const viaGraphql = await gql(sql);
    expect(viaGraphql.body.errors).toBeUndefined();
    expect(viaGraphql.body.data!.executeTenantQuery.rows).toEqual([[roleA, roleA]]);
    // The read-only default really is a READ ONLY transaction of that session.
    const readOnly = await core({ query: 'SHOW transaction_read_only' });
    expect(readOnly.body.data.rows).toEqual([['on']]);
  });

  it('role changes are refused or harmless: nothing to step back to', async () => {
    for (const sql of [
      'RESET ROLE',
      'SET ROLE postgres',
      `SELECT set_config('role', 'postgres', false)`,
      'SET SESSION AUTHORIZATION postgres',
    ]) {
      expectRefused(await core({ query: sql, read_only: false }), sql);
      expectRefused(await admin({ query: sql }), sql);
    }
    // Without the parser: RESET ROLE lands on the session user, which is the tenant role itself.
    const reset = await withTenantSession(
      t.platform.deps,
      tenantRoleTarget(t.platform.deps, { role: roleA, schemaName: a.schemaName, databaseUrl: null }),
      { readOnly: false, timeoutMs: 5000 },
      async (session) => {
        await session.query('RESET ROLE');
        await session.query(`SELECT set_config('role', 'none', false)`);
        return session.query('SELECT session_user::text, current_user::text');
      },
    );
    expect(reset.rows).toEqual([[roleA, roleA]]);
    for (const sql of [
      'SET ROLE postgres',
      `SELECT set_config('role', 'postgres', false)`,
      'SET SESSION AUTHORIZATION postgres',
      `SET ROLE "tenant_${b.id.toLowerCase()}"`,
    ]) {
      expect((await directError(sql)).code, sql).toBe('42501');
    }
  });

  it('built-ins that run SQL text are not executable, and would not help if they were', async () => {
    for (const sql of [
      `SELECT query_to_xml('select * from identity.users', true, false, '')`,
      `SELECT query_to_xml('select set_config(''role'', ''postgres'', false)', true, false, '')`,
      `SELECT * FROM ts_stat('select to_tsvector(email) from identity.users')`,
      `SELECT ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery')`,
      `SELECT table_to_xml('tenancy.tenants', true, false, '')`,
      `SELECT schema_to_xml('identity', true, false, '')`,
    ]) {
      expectRefused(await core({ query: sql }), sql);
      const error = await directError(sql);
      expect(error.code, `${sql}: ${error.message}`).toBe('42501');
    }
    // Grant one back to this role alone: the session user still cannot become anyone else.
    await platformSql(`GRANT EXECUTE ON FUNCTION query_to_xml(text, boolean, boolean, text) TO "${roleA}"`);
    try {
      const role = await directError(
        `SELECT query_to_xml('select set_config(''role'', ''postgres'', false)', true, false, '')`,
      );
      expect(role.message).toMatch(/permission denied to set role/);
      const read = await directError(`SELECT query_to_xml('select * from identity.users', true, false, '')`);
      expect(read.message).toMatch(/permission denied for schema identity/);
    } finally {
      await platformSql(`REVOKE EXECUTE ON FUNCTION query_to_xml(text, boolean, boolean, text) FROM "${roleA}"`);
    }
  });

  it('platform tables and other tenants’ tables are never readable or writable', async () => {
    for (const sql of [
      'SELECT * FROM identity.users',
      'SELECT * FROM identity.api_keys',
      'SELECT * FROM tenancy.tenants',
      `SELECT * FROM "${b.schemaName}".users`,
      `UPDATE tenancy.tenants SET name = 'pwned'`,
      `DELETE FROM "${b.schemaName}".users`,
    ]) {
      const error = await directError(sql);
      expect(error.code, `${sql}: ${error.message}`).toBe('42501');
      const answer = await core({ query: sql, read_only: false });
      expect(answer.status, sql).toBeGreaterThanOrEqual(400);
      expect(answer.status, sql).toBeLessThan(500);
    }
    const [kept] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${b.schemaName}".users`);
    expect(kept?.n).toBe(1);
  });

  it('server files, large objects, advisory locks, notifications and other databases are out of reach', async () => {
    for (const sql of [
      `SELECT pg_read_file('/etc/passwd')`,
      `SELECT pg_ls_dir('.')`,
      `SELECT lo_create(0)`,
      `SELECT lo_import('/etc/passwd')`,
      'SELECT pg_advisory_lock(1)',
      'SELECT pg_advisory_xact_lock(1)',
      'SELECT pg_try_advisory_lock(1)',
      `SELECT pg_notify('platform', 'hello')`,
      'SELECT datname FROM pg_database',
      'SELECT relname, n_live_tup FROM pg_stat_user_tables',
      'SELECT usename, query FROM pg_stat_activity',
      `SELECT pg_database_size('postgres')`,
    ]) {
      expectRefused(await core({ query: sql }), sql);
      expectRefused(await admin({ query: sql, read_only: true }), sql);
      // Read-only and read-write alike: privileges, not the transaction mode, stop these.
      for (const readOnly of [true, false]) {
        const error = await directError(sql, readOnly);
        expect(REFUSED_SQLSTATES, `${sql}: ${error.message}`).toContain(error.code);
      }
    }
    // The large-object table holds nothing new.
    const [objects] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_largeobject_metadata`);
    expect(objects?.n).toBe(0);
  });

  it('the tenant role can connect to no database but its own; PUBLIC has no CONNECT on the platform database', async () => {
    const platformUrl = new URL(process.env.TEST_DATABASE_URL!);
    const [acl] = await platformSql<{ public_connect: boolean; own: boolean; other: boolean }>(
      `SELECT has_database_privilege('public', current_database(), 'CONNECT') AS public_connect,
              has_database_privilege($1, current_database(), 'CONNECT') AS own,
              has_database_privilege('public', current_database(), 'TEMPORARY') AS other`,
      roleA,
    );
    expect(acl).toEqual({ public_connect: false, own: true, other: false });
    // A database of its own on the same server, as a dedicated tenant's or a workspace's is made.
    const otherDb = `sess_other_${a.id.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 60);
    await platformSql(`CREATE DATABASE "${otherDb}"`);
    try {
      await platformSql(`REVOKE ALL ON DATABASE "${otherDb}" FROM PUBLIC`);
      const client = new pg.Client({
        host: platformUrl.hostname,
        port: Number(platformUrl.port || 5432),
        database: otherDb,
        user: roleA,
        password: derivedPassword(t.platform.deps, roleA),
      });
      client.on('error', () => undefined);
      await expect(client.connect()).rejects.toMatchObject({ code: '42501' });
      await client.end().catch(() => undefined);
    } finally {
      await platformSql(`DROP DATABASE IF EXISTS "${otherDb}" WITH (FORCE)`);
    }
  });

  it('migrations run as the tenant role: they cannot write to other tenants or platform tables', async () => {
    const register = (version: string, upSql: string) =>
      t.graphql<{ registerTenantMigration: { version: string } }>(
        `mutation ($schema: String, $version: String!, $name: String!, $upSql: String!) {
          registerTenantMigration(schema: $schema, version: $version, name: $name, upSql: $upSql) { version }
        }`,
        { schema: a.schemaName, version, name: `attack ${version}`, upSql },
        { headers: FORWARDED },
      );
    const migrate = () =>
      t.rest('/api/database/migrate', { method: 'POST', body: { schema: a.schemaName }, headers: FORWARDED });
    const attacks = [
      `INSERT INTO "${b.schemaName}".users (email) VALUES ('from-a@example.com')`,
      `UPDATE tenancy.tenants SET name = 'pwned' WHERE id = '${b.id}'`,
      `CREATE TABLE stolen AS SELECT * FROM identity.api_keys`,
      `CREATE TABLE who AS SELECT query_to_xml('select * from tenancy.tenants', true, false, '') AS x`,
    ];
    let version = 20_300_000_000_000n;
    for (const sql of attacks) {
      version += 1n;
      const registered = await register(String(version), sql);
      // The guard's function allowlist is the first wall for SQL-text functions; the rest reach
      // the database, whose session user must refuse them.
      if (registered.body.errors) {
        expect(registered.body.errors[0]?.extensions?.code, sql).toBe('VALIDATION_ERROR');
        continue;
      }
      const answer = await migrate();
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const step = answer.body.data.executed_migrations.find((m: { version: string }) => m.version === String(version));
      expect(step, `${sql}: ${JSON.stringify(answer.body)}`).toMatchObject({ status: 'failed' });
      expect(step.error).toMatch(/permission denied/);
      // Failed steps stay pending; drop the script so the next attack is the one that runs.
      await platformSql(
        `DELETE FROM tenancy.tenant_migration_scripts WHERE tenant_id = $1 AND version = $2`,
        a.id,
        String(version),
      );
    }
    const [bRows] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${b.schemaName}".users`);
    expect(bRows?.n).toBe(1);
    const [tenantRow] = await platformSql<{ name: string }>(`SELECT name FROM tenancy.tenants WHERE id = $1`, b.id);
    expect(tenantRow?.name).not.toBe('pwned');
    // A good migration still applies, and its tables belong to the tenant role.
    version += 1n;
    expect((await register(String(version), 'CREATE TABLE notes (id int)')).body.errors).toBeUndefined();
    const ok = await migrate();
    expect(ok.body.data.schema_version).toBe(String(version));
    const [owner] = await platformSql<{ owner: string }>(
      `SELECT tableowner AS owner FROM pg_tables WHERE schemaname = $1 AND tablename = 'notes'`,
      a.schemaName,
    );
    expect(owner?.owner).toBe(roleA);
  });

  it('first use of several tenants at once: each role is prepared once, none of them fails', async () => {
    const fresh = await Promise.all([createTenant(), createTenant(), createTenant(), createTenant()]);
    const answers = await Promise.all(
      fresh.flatMap((tenant) =>
        [1, 2].map(() =>
          t.rest('/api/database/query', {
            method: 'POST',
            body: { query: 'SELECT session_user::text', schema: tenant.schemaName },
            headers: FORWARDED,
          }),
        ),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.data.rows).toEqual([[`tenant_${fresh[Math.floor(i / 2)]!.id.toLowerCase()}`]]);
    }
  });

  it('measures the latency of a tenant query: first call (role, pool, login) and warm calls', async () => {
    const [viaGateway, viaExecutor] = [await createTenant(), await createTenant()];
    const time = async (fn: () => Promise<unknown>) => {
      const started = performance.now();
      await fn();
      return performance.now() - started;
    };
    const send = () =>
      t.rest('/api/database/query', {
        method: 'POST',
        body: { query: 'SELECT 1', schema: viaGateway.schemaName },
        headers: FORWARDED,
      });
    const gatewayFirst = await time(async () => expect((await send()).status).toBe(200));
    const gatewayWarm: number[] = [];
    for (let i = 0; i < 30; i += 1) gatewayWarm.push(await time(send));
    // The executor alone, without the gateway: the tenant session against the former way (the
    // platform's pooled connection with SET LOCAL ROLE), interleaved so load affects both alike.
    const target = tenantRoleTarget(t.platform.deps, {
      role: `tenant_${viaExecutor.id.toLowerCase()}`,
      schemaName: viaExecutor.schemaName,
      databaseUrl: null,
    });
    const inSession = () =>
      withTenantSession(t.platform.deps, target, { readOnly: true, timeoutMs: 5000 }, (s) => s.query('SELECT 1'));
    const withSetRole = () =>
      withSession(t.platform.db, null, async (s) => {
        await s.query('SET TRANSACTION READ ONLY');
        await s.query('SET LOCAL statement_timeout = 5000');
        await s.query(`SET LOCAL search_path TO "${target.schemaName}", pg_temp`);
        await s.query(`SET LOCAL ROLE "${target.role}"`);
        await s.query('SELECT 1');
        await s.query(`SELECT current_user::text, current_setting('transaction_read_only')`);
      });
    const executorFirst = await time(inSession);
    await withSetRole();
    const session: number[] = [];
    const setRole: number[] = [];
    for (let i = 0; i < 100; i += 1) {
      session.push(await time(inSession));
      setRole.push(await time(withSetRole));
    }
    const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * p)]!;
    const r = (x: number) => Math.round(x * 100) / 100;
    const report = {
      gateway_first_call_ms: r(gatewayFirst),
      gateway_warm_median_ms: r(pct(gatewayWarm, 0.5)),
      executor_first_call_ms: r(executorFirst),
      executor_session_warm_median_ms: r(pct(session, 0.5)),
      executor_session_warm_p90_ms: r(pct(session, 0.9)),
      executor_set_role_warm_median_ms: r(pct(setRole, 0.5)),
      executor_set_role_warm_p90_ms: r(pct(setRole, 0.9)),
    };
    console.log('tenant SQL latency', JSON.stringify(report));
    expect(report.gateway_warm_median_ms).toBeLessThan(1000);
  });
});

describe.skipIf(!usingRealServices)('workspace, blueprint and deployment SQL run as their own login roles', () => {
  let t: TestPlatform;
  let key: string;

  const rest = (path: string, init: { method?: string; body?: unknown } = {}) =>
    t.rest(path, { ...init, token: key, headers: FORWARDED });
  const ok = (answer: RestAnswer, status = 200) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const platformSql = <T = Record<string, unknown>>(sql: string, ...params: unknown[]) =>
    t.platform.db.prisma.$queryRawUnsafe<T[]>(sql, ...params);
  const publish = async (workspace: string) => {
    const { body } = await t.graphql<{ publishBlueprint: { version: { version: string } } }>(
      `mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { version { version } } }`,
      { id: workspace },
      { token: key, headers: FORWARDED },
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data!.publishBlueprint.version.version;
  };

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
    const signup = await t.rest('/signup', {
      method: 'POST',
      token: null,
      headers: FORWARDED,
      body: {
        email: `${uniqueSlug('sessown')}@example.com`,
        password: 'Session-Owner-Passphrase-7',
        project_name: 'S',
      },
    });
    key = ok(signup, 201).api_key as string;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('workspace queries, blueprint DDL at tenant creation and deployments never run as the platform user', async () => {
    const name = uniqueSlug('sessws');
    ok(await rest('/workspaces', { method: 'POST', body: { name, database: 'PostgreSQL' } }), 201);
    const [workspace] = await platformSql<{ login_role: string }>(
      `SELECT login_role FROM tenancy.workspaces WHERE name = $1 AND deleted_at IS NULL`,
      name,
    );
    const wsRole = workspace!.login_role;
    const who = ok(
      await rest(`/workspaces/${name}/queries`, {
        method: 'POST',
        body: { query: 'SELECT session_user::text, current_user::text' },
      }),
    );
    expect(who.rows).toEqual([[wsRole, wsRole]]);
    const xml = await rest(`/workspaces/${name}/queries`, {
      method: 'POST',
      body: { query: `SELECT query_to_xml('select set_config(''role'', ''postgres'', false)', true, false, '')` },
    });
    expect(xml.status, JSON.stringify(xml.body)).toBeGreaterThanOrEqual(400);
    expect(xml.status).toBeLessThan(500);

    // A version's DDL is a schema dump of the workspace (no data); one statement that records
    // who ran it is added to it, as a stand-in for tenant-written DDL that evaluates something.
    ok(await rest(`/workspaces/${name}/queries`, { method: 'POST', body: { query: 'CREATE TABLE notes (id int)' } }));
    expect(await publish(name)).toBe('1.0');
    await platformSql(
      `UPDATE tenancy.blueprint_versions v SET ddl = ddl || E'\nCREATE TABLE who AS SELECT session_user::text AS s, current_user::text AS c;\n'
         FROM tenancy.blueprints b WHERE b.id = v.blueprint_id AND b.name = $1 AND v.version = '1.0'`,
      name,
    );
    const slug = uniqueSlug('sessbp');
    ok(
      await rest('/tenants', {
        method: 'POST',
        body: { tenant_id: slug, databases: [{ blueprint: name, isolation_level: 1 }] },
      }),
      201,
    );
    const [db] = await platformSql<{ schema_name: string; login_role: string; version: string }>(
      `SELECT d.schema_name, d.login_role, d.version FROM tenancy.tenant_databases d
         JOIN tenancy.tenants t ON t.id = d.tenant_id WHERE t.slug = $1`,
      slug,
    );
    expect(db!.version).toBe('1.0');
    expect(await platformSql(`SELECT s, c FROM "${db!.schema_name}".who`)).toEqual([
      { s: db!.login_role, c: db!.login_role },
    ]);

    // A deployment replays the captured statements themselves.
    ok(
      await rest(`/workspaces/${name}/queries`, {
        method: 'POST',
        body: { query: 'CREATE TABLE who2 AS SELECT session_user::text AS s' },
      }),
    );
    expect(await publish(name)).toBe('1.1');
    const queued = ok(
      await rest('/deployments', { method: 'POST', body: { blueprint_name: name, version: '1.1', deploy_all: true } }),
      202,
    );
    const status = await waitFor(
      async () => {
        const state: string = ok(await rest(`/deployments/${queued.job_id}`)).status;
        return ['pending', 'running'].includes(state) ? undefined : state;
      },
      `deployment ${queued.job_id} to finish`,
      { intervalMs: 100 },
    );
    expect(status).toBe('completed');
    expect(await platformSql(`SELECT s FROM "${db!.schema_name}".who2`)).toEqual([{ s: db!.login_role }]);
  }, 90_000);
});
