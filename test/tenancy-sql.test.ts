import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSingleStatement, parseSql } from '../subgraphs/tenancy/services/sql/sql-guard.js';
import { bootPlatform, usingRealServices, type TestPlatform, type RestAnswer } from './support/platform.js';
import { createTenant as createTestTenant, signInTenantAdmin, signUp, type TenantInfo } from './support/tenants.js';
import { busyFor } from './support/busy-sql.js';
import { waitFor } from './support/rest.js';

// Tenant SQL, schema introspection and tenant migrations end to end through the gateway: the
// core-platform routes (/api/database/*), tenantsdb's /admin/query, and GraphQL. The attacks are
// the point: tenant A's credentials and SQL must not reach tenant B, and read-only must hold in
// the database, not only in a text check. Runs on PGlite by default and on real PostgreSQL with
// TEST_DATABASE_URL. timeout_ms holds on both: statement_timeout on PostgreSQL, a stopped worker
// thread on PGlite. pg_sleep is refused by the guard's function allowlist, so long statements
// here are a recursive CTE that spins on clock_timestamp() (busyFor below).

const PASSWORD = 'Tenant-Sql-Passphrase-42';
const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const rateLimitPolicies = {
  'platform-forge.auth': { points: 1000, durationSeconds: 60 },
  'core-platform.database-query': { points: 1000, durationSeconds: 60 },
};

describe('the SQL guard (PostgreSQL’s own parser)', () => {
  it('splits scripts on statement boundaries, including multi-byte text and semicolons in strings', async () => {
    const statements = await parseSql(`INSERT INTO t VALUES ('café; ☕'); -- done;\nCREATE INDEX i ON t (a)`);
    expect(statements.map((s) => [s.type, s.kind, s.text])).toEqual([
      ['InsertStmt', 'insert', `INSERT INTO t VALUES ('café; ☕')`],
      ['IndexStmt', 'ddl', 'CREATE INDEX i ON t (a)'],
    ]);
  });

  it('finds a denied function wherever it hides', async () => {
    for (const sql of [
      `WITH x AS (SELECT set_config('role', 'postgres', false)) SELECT * FROM x`,
      `SELECT * FROM users WHERE email = (SELECT set_config('a.b', 'c', true))`,
      `CREATE TABLE t (a text DEFAULT set_config('role', 'postgres', false))`,
      `SELECT * FROM dblink('dbname=postgres', 'select 1') AS x(a int)`,
      `EXPLAIN SELECT pg_advisory_lock(1)`,
      `CREATE VIEW v AS SELECT lo_import('/etc/passwd')`,
      `CREATE TEMP TABLE users (id int)`,
      `CREATE TABLE pg_temp.users (id int)`,
      `SELECT * INTO TEMPORARY t FROM users`,
    ]) {
      await expect(parseSingleStatement(sql), sql).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    }
  });

  it('lets ordinary tenant statements through, and says which can run behind a cursor', async () => {
    expect(await parseSingleStatement('SELECT * FROM users ORDER BY created_at')).toMatchObject({
      kind: 'select',
      cursorable: true,
    });
    expect(await parseSingleStatement('WITH d AS (DELETE FROM users RETURNING id) SELECT * FROM d')).toMatchObject({
      cursorable: false,
    });
    expect(await parseSingleStatement('DROP TABLE users')).toMatchObject({ kind: 'ddl' });
    await expect(parseSingleStatement('DROP FUNCTION f()')).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(parseSingleStatement('ALTER TABLE users SET SCHEMA elsewhere')).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });
});

describe('tenant SQL, introspection and migrations through the gateway', () => {
  let t: TestPlatform;
  let a: TenantInfo;
  let b: TenantInfo;
  let p1: TenantInfo;
  let p2: TenantInfo;
  let tokenA: string;
  let projectKey: string;

  const query = (body: Record<string, unknown>, token: string | null = tokenA) =>
    t.rest('/api/database/query', { method: 'POST', token, body });
  const admin = (body: Record<string, unknown>, token: string | null = t.operatorKey) =>
    t.rest('/admin/query', { method: 'POST', token, body });

  const createTenant = (token: string) => createTestTenant(t, token, FORWARDED, 'sql');
  const tenantAdmin = (tenantId: string) => signInTenantAdmin(t, tenantId, { password: PASSWORD, headers: FORWARDED });

  /** Platform-side SQL (the test's own superuser view), to check what the database really holds. */
  const platformSql = <T = Record<string, unknown>>(sql: string, ...params: unknown[]) =>
    t.platform.db.prisma.$queryRawUnsafe<T[]>(sql, ...params);

  /** A view made by the platform in tenant A's schema: its body is out of the parser's sight. */
  const platformView = async (name: string, expression: string) => {
    await t.platform.db.prisma.$executeRawUnsafe(
      `CREATE VIEW "${a.schemaName}".${name} AS SELECT "${a.schemaName}".${expression} AS value`,
    );
    await t.platform.db.prisma.$executeRawUnsafe(`GRANT SELECT ON "${a.schemaName}".${name} TO "tenant_${a.id}"`);
  };

  const expectCoreError = (answer: RestAnswer, status: number, code: string) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    expect(answer.body).toMatchObject({ status: 'error', error: { code, message: expect.any(String) } });
  };

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'], rateLimitPolicies });
    a = await createTenant(t.operatorKey);
    b = await createTenant(t.operatorKey);
    tokenA = await tenantAdmin(a.id);
    projectKey = (await signUp(t, 'sqlowner')).apiKey;
    p1 = await createTenant(projectKey);
    p2 = await createTenant(projectKey);
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  describe('core-platform POST /api/database/query', () => {
    it('answers the documented shape for the caller’s own tenant, with bound parameters', async () => {
      const answer = await query({
        query: 'SELECT COUNT(*) as total_users FROM users WHERE created_at >= $1',
        parameters: ['2025-11-01T00:00:00Z'],
        read_only: true,
        timeout_ms: 5000,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toEqual({
        status: 'success',
        data: {
          query_id: expect.stringMatching(/^q_[0-9a-f]{16}$/),
          execution_time_ms: expect.any(Number),
          row_count: 1,
          rows: [[0]],
          columns: ['total_users'],
          schema: a.schemaName,
          truncated: false,
          timeout_enforced: true,
        },
      });
    });

    it('writes when read_only is false, and a parameter is data, never SQL', async () => {
      const hostile = `x'); DROP TABLE users; --@example.com`;
      const insert = await query({
        query: 'INSERT INTO users (email) VALUES ($1), ($2) RETURNING email',
        parameters: [hostile, 'second@example.com'],
        read_only: false,
      });
      expect(insert.status, JSON.stringify(insert.body)).toBe(200);
      expect(insert.body.data).toMatchObject({
        row_count: 2,
        columns: ['email'],
        rows: [[hostile], ['second@example.com']],
      });
      const count = await query({ query: 'SELECT count(*) FROM users' });
      expect(count.body.data.rows).toEqual([[2]]);
      // Objects travel as JSON text; types come back as JSON (bigint as a number when exact).
      const typed = await query({
        query: `SELECT $1::jsonb ->> 'plan' AS plan, $2::int + 1 AS next, 9007199254740993::bigint AS big, NULL AS nothing`,
        parameters: [{ plan: 'pro' }, 41],
      });
      expect(typed.body.data).toMatchObject({
        columns: ['plan', 'next', 'big', 'nothing'],
        rows: [['pro', 42, '9007199254740993', null]],
      });
      // Only in A's schema: B's users table is untouched.
      const [inB] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${b.schemaName}".users`);
      expect(inB!.n).toBe(0);
    });

    it('caps answers at 1000 rows and says so', async () => {
      const answer = await query({ query: 'SELECT g FROM generate_series(1, 1500) AS g' });
      expect(answer.status).toBe(200);
      expect(answer.body.data).toMatchObject({ row_count: 1000, truncated: true, columns: ['g'] });
      expect(answer.body.data.rows).toHaveLength(1000);
      expect(answer.body.data.rows[0]).toEqual([1]);
      expect(answer.body.data.rows[999]).toEqual([1000]);
    });

    it('refuses zero, several or unparsable statements with the parser’s reason', async () => {
      const several = await query({ query: 'SELECT 1; SELECT 2' });
      expectCoreError(several, 400, 'validation_error');
      expect(several.body.error.details.reason).toMatch(/exactly one statement.*found 2/);
      const syntax = await query({ query: 'SELEC 1' });
      expectCoreError(syntax, 400, 'validation_error');
      expect(syntax.body.error.message).toMatch(/^invalid_query: syntax error/);
      const empty = await query({ query: '  -- nothing here\n ' });
      expectCoreError(empty, 400, 'validation_error');
      // A comment hiding a second statement is still two statements to a real parser.
      const hidden = await query({ query: 'SELECT 1 /* ; */ ; DELETE FROM users', read_only: false });
      expectCoreError(hidden, 400, 'validation_error');
      const [users] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${a.schemaName}".users`);
      expect(users!.n).toBe(2);
    });

    it('bounds timeout_ms and cancels a statement that runs over it, on both backends', async () => {
      expectCoreError(await query({ query: 'SELECT 1', timeout_ms: 0 }), 400, 'validation_error');
      expectCoreError(await query({ query: 'SELECT 1', timeout_ms: 30_001 }), 400, 'validation_error');
      const started = Date.now();
      const slow = await query({ query: busyFor(120_000), timeout_ms: 200 });
      expectCoreError(slow, 504, 'timeout');
      expect(slow.body.error.details.sqlstate).toBe('57014');
      // The statement was cut at its deadline: the query log holds the time until the cut. (On
      // PGlite the answer itself also waits for that log, written once the worker has restarted.)
      const [log] = await platformSql<{ duration_ms: number }>(
        `SELECT duration_ms FROM tenancy.query_logs WHERE id = $1`,
        slow.body.error.details.query_id,
      );
      expect(log!.duration_ms).toBeLessThan(2000);
      expect(Date.now() - started).toBeLessThan(usingRealServices ? 2000 : 60_000);
      // The database works again afterwards, data intact.
      const after = await query({ query: 'SELECT count(*) AS n FROM users' });
      expect(after.status, JSON.stringify(after.body)).toBe(200);
    }, 60_000);
  });

  describe('isolation: tenant A’s credentials and SQL never reach tenant B', () => {
    it('core-platform: naming B’s schema in SQL is refused by the database itself', async () => {
      for (const [sql, readOnly] of [
        [`SELECT * FROM "${b.schemaName}".users`, true],
        [`INSERT INTO ${b.schemaName}.users (email) VALUES ('evil@example.com')`, false],
        [`SELECT (SELECT count(*) FROM ${b.schemaName}.users) AS n`, true],
        [`WITH x AS (SELECT 1) SELECT * FROM x, ${b.schemaName}.users`, true],
      ] as const) {
        const answer = await query({ query: sql, read_only: readOnly });
        expectCoreError(answer, 403, 'tenant_access_denied');
        expect(answer.body.error.details).toMatchObject({
          sqlstate: '42501',
          database_message: `permission denied for schema ${b.schemaName}`,
        });
      }
      // The platform's own schemas are out of reach as well.
      const identity = await query({ query: 'SELECT * FROM identity.users' });
      expect(identity.status).toBe(403);
      expect(identity.body.error.details.database_message).toBe('permission denied for schema identity');
      const [inB] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${b.schemaName}".users`);
      expect(inB!.n).toBe(0);
    });

    it('core-platform: asking for B’s schema (or one that does not exist) is TENANT_MISMATCH', async () => {
      expectCoreError(await query({ query: 'SELECT 1', schema: b.schemaName }), 403, 'tenant_access_denied');
      expectCoreError(await query({ query: 'SELECT 1', schema: 'no_such_schema' }), 403, 'tenant_access_denied');
      expectCoreError(
        await t.rest(`/api/database/schema?schema=${b.schemaName}`, { token: tokenA }),
        403,
        'tenant_access_denied',
      );
      expectCoreError(
        await t.rest('/api/database/migrate', { method: 'POST', token: tokenA, body: { schema: b.schemaName } }),
        403,
        'tenant_access_denied',
      );
    });

    it('tenantsdb /admin/query: A may not name B, and A’s SQL on B’s schema fails in the database', async () => {
      const named = await admin({ tenant_id: b.slug, query: 'SELECT 1' }, tokenA);
      expect(named.status).toBe(403);
      expect(named.body).toMatchObject({ success: false, error: { code: 'TENANT_MISMATCH' } });
      const viaSql = await admin({ tenant_id: a.slug, query: `SELECT * FROM ${b.schemaName}.users` }, tokenA);
      expect(viaSql.status).toBe(403);
      expect(viaSql.body.error).toMatchObject({
        code: 'TENANT_MISMATCH',
        details: { sqlstate: '42501', database_message: `permission denied for schema ${b.schemaName}` },
      });
      const own = await admin({ tenant_id: a.slug, query: 'SELECT current_schema(), current_user' }, tokenA);
      expect(own.status, JSON.stringify(own.body)).toBe(200);
      expect(own.body).toMatchObject({
        success: true,
        all_tenants: false,
        tenant_count: 1,
        results: [
          { tenant_id: a.slug, schema: a.schemaName, status: 'success', columns: ['current_schema', 'current_user'] },
        ],
      });
      // The statement really ran as the tenant's own role, not the platform's connection user.
      expect(own.body.results[0].rows[0]).toEqual([a.schemaName, `tenant_${a.id}`]);
    });

    it('tenantsdb all_tenants: a project sees only its own tenants, and each runs in its own sandbox', async () => {
      const answer = await admin({ all_tenants: true, query: 'SELECT current_schema()' }, projectKey);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ success: true, all_tenants: true, tenant_count: 2, succeeded: 2, failed: 0 });
      expect(answer.body.results.map((r: { schema: string; rows: unknown[][] }) => [r.schema, r.rows[0]![0]])).toEqual([
        [p1.schemaName, p1.schemaName],
        [p2.schemaName, p2.schemaName],
      ]);
      // The attack through the fan-out: every tenant's copy is refused by the database.
      const attack = await admin({ all_tenants: true, query: `SELECT * FROM ${a.schemaName}.users` }, projectKey);
      expect(attack.status).toBe(200);
      expect(attack.body).toMatchObject({ tenant_count: 2, succeeded: 0, failed: 2 });
      for (const result of attack.body.results) {
        expect(result).toMatchObject({ status: 'error', error: { code: 'TENANT_MISMATCH' } });
      }
      // A project key cannot name another project's (or the operator's) tenant at all.
      const named = await admin({ tenant_id: a.slug, query: 'SELECT 1' }, projectKey);
      expect(named.body.error.code).toBe('TENANT_MISMATCH');
      // A tenant-bound caller cannot fan out.
      const bound = await admin({ all_tenants: true, query: 'SELECT 1' }, tokenA);
      expect(bound.status).toBe(403);
      expect(bound.body.error.code).toBe('FORBIDDEN');
    });

    it('GraphQL: the same refusal comes back from executeTenantQuery', async () => {
      const { body } = await t.graphql(
        `mutation ($input: TenantQueryInput!) { executeTenantQuery(input: $input) { rows } }`,
        { input: { query: `SELECT * FROM ${b.schemaName}.users` } },
        { token: tokenA, headers: FORWARDED },
      );
      expect(body.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');
    });
  });

  describe('read_only is enforced by the guard and by the database', () => {
    it('refuses writes in a read-only query with the same code whichever wall stops them', async () => {
      for (const sql of [
        `INSERT INTO users (email) VALUES ('ro@example.com')`,
        'UPDATE users SET email = email',
        'DELETE FROM users',
        'WITH gone AS (DELETE FROM users RETURNING 1) SELECT count(*) FROM gone',
        'CREATE TABLE sneaky (id int)',
        'SELECT * INTO sneaky2 FROM users',
      ]) {
        const answer = await query({ query: sql });
        // The guard's read door takes reads only; the read-only transaction stays behind it.
        expectCoreError(answer, 403, 'insufficient_permissions');
        expect(answer.body.error.details).toMatchObject({ reason: 'read_only' });
        expect(answer.body.error.message).toMatch(/^read_only: /);
      }
      const [users] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${a.schemaName}".users`);
      expect(users!.n).toBe(2);
    });

    it('refuses functions with side effects: nextval, and a volatile function that writes', async () => {
      expect((await query({ query: 'CREATE SEQUENCE counter_seq', read_only: false })).status).toBe(200);
      const next = await query({ query: "SELECT nextval('counter_seq')" });
      expectCoreError(next, 403, 'insufficient_permissions');
      expect(next.body.error.details.database_message).toMatch(/nextval\(\) in a read-only transaction/);
      // Tenants cannot create functions (the parser refuses it); one made by the platform in the
      // tenant's schema stands in for "something that got past parsing".
      await t.platform.db.prisma.$executeRawUnsafe(
        `CREATE FUNCTION "${a.schemaName}".add_user() RETURNS int VOLATILE LANGUAGE sql
           AS $$ INSERT INTO "${a.schemaName}".users (email) VALUES ('fn@example.com') RETURNING 1 $$`,
      );
      await t.platform.db.prisma.$executeRawUnsafe(
        `GRANT EXECUTE ON FUNCTION "${a.schemaName}".add_user() TO "tenant_${a.id}"`,
      );
      // The function allowlist refuses it before the database sees it.
      const writes = await query({ query: 'SELECT add_user()' });
      expectCoreError(writes, 400, 'validation_error');
      expect(writes.body.error.details.function).toBe('add_user');
      // Behind a platform-made view the parser sees a table name only: the database refuses.
      await platformView('add_user_v', 'add_user()');
      const viaView = await query({ query: 'SELECT * FROM add_user_v' });
      expectCoreError(viaView, 403, 'insufficient_permissions');
      expect(viaView.body.error.details.sqlstate).toBe('25006');
      const [users] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${a.schemaName}".users`);
      expect(users!.n).toBe(2);
    });

    it('refuses SET tricks, transaction control and role changes before they reach the database', async () => {
      for (const sql of [
        'SET TRANSACTION READ WRITE',
        'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE',
        'SET transaction_read_only = off',
        "SELECT set_config('transaction_read_only', 'off', true)",
        "SELECT pg_catalog.set_config('role', 'postgres', false)",
        'SET ROLE postgres',
        'RESET ROLE',
        'SET SESSION AUTHORIZATION postgres',
        'COMMIT',
        'BEGIN READ WRITE',
        "DO $$ BEGIN EXECUTE 'SET ROLE postgres'; END $$",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        'GRANT ALL ON users TO PUBLIC',
        'COPY users TO STDOUT',
        'SELECT pg_advisory_lock(1)',
        `DROP SCHEMA ${b.schemaName} CASCADE`,
        'EXPLAIN ANALYZE SELECT set_config($$role$$, $$postgres$$, true)',
      ]) {
        const answer = await query({ query: sql, read_only: false });
        expect(answer.status, `${sql}: ${JSON.stringify(answer.body)}`).toBe(400);
        expect(answer.body.error.code).toBe('validation_error');
        expect(answer.body.error.message).toMatch(/^invalid_query: /);
      }
    });

    it('rolls back a statement that changed its role behind the parser’s back', async () => {
      // Again a platform-made function stands in for something that slipped past the parser.
      await t.platform.db.prisma.$executeRawUnsafe(
        `CREATE FUNCTION "${a.schemaName}".escape() RETURNS text VOLATILE LANGUAGE sql
           AS $$ SELECT set_config('role', 'none', true) $$`,
      );
      await t.platform.db.prisma.$executeRawUnsafe(
        `GRANT EXECUTE ON FUNCTION "${a.schemaName}".escape() TO "tenant_${a.id}"`,
      );
      // The function allowlist refuses the call itself; behind a view it reaches the database.
      expectCoreError(await query({ query: 'SELECT escape()', read_only: false }), 400, 'validation_error');
      await platformView('role_switch_v', 'escape()');
      const answer = await query({ query: 'SELECT * FROM role_switch_v', read_only: false });
      if (usingRealServices) {
        // Logged in as the tenant role itself (tenant-session.ts): 'none' is that same role.
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        await t.platform.db.prisma.$executeRawUnsafe(
          `CREATE OR REPLACE FUNCTION "${a.schemaName}".escape() RETURNS text VOLATILE LANGUAGE sql
             AS $$ SELECT set_config('role', 'postgres', true) $$`,
        );
        const refused = await query({ query: 'SELECT * FROM role_switch_v', read_only: false });
        expectCoreError(refused, 403, 'insufficient_permissions');
        expect(refused.body.error.details).toMatchObject({ sqlstate: '42501' });
      } else {
        expectCoreError(answer, 403, 'insufficient_permissions');
        expect(answer.body.error.details.reason).toBe('sandbox_escape');
      }
      // Lifting read-only mode from inside a statement: PostgreSQL itself refuses, since the
      // transaction has already run a query.
      await t.platform.db.prisma.$executeRawUnsafe(
        `CREATE FUNCTION "${a.schemaName}".lift_read_only() RETURNS text VOLATILE LANGUAGE sql
           AS $$ SELECT set_config('transaction_read_only', 'off', true) $$`,
      );
      await t.platform.db.prisma.$executeRawUnsafe(
        `GRANT EXECUTE ON FUNCTION "${a.schemaName}".lift_read_only() TO "tenant_${a.id}"`,
      );
      await platformView('lift_read_only_v', 'lift_read_only()');
      const lifted = await query({ query: 'SELECT * FROM lift_read_only_v' });
      expectCoreError(lifted, 400, 'bad_request');
      expect(lifted.body.error.details).toMatchObject({
        sqlstate: '25001',
        database_message: 'transaction read-write mode must be set before any query',
      });
    });
  });

  describe('query logs', () => {
    it('records every query, success or failure, without parameters', async () => {
      const ok = await query({ query: 'SELECT $1::text AS secret', parameters: ['s3cr3t-value'] });
      const failed = await query({ query: `SELECT * FROM ${b.schemaName}.users` });
      const rejected = await query({ query: 'SELECT 1; SELECT 2' });
      const viaAdmin = await admin({ tenant_id: a.slug, query: 'SELECT 42' }, tokenA);
      const ids = [
        ok.body.data.query_id,
        failed.body.error.details.query_id,
        rejected.body.error.details.query_id,
        viaAdmin.body.results[0].query_id,
      ] as string[];
      const rows = await platformSql<{
        id: string;
        tenant_id: string;
        source: string;
        statement: string;
        status: string;
        error_code: string | null;
        read_only: boolean;
        slow: boolean;
        statement_kind: string | null;
      }>(
        `SELECT id, tenant_id, source, statement, status, error_code, read_only, slow, statement_kind
           FROM tenancy.query_logs WHERE id = ANY($1::text[])`,
        ids,
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(ids[0]!)).toMatchObject({
        tenant_id: a.id,
        source: 'api',
        status: 'success',
        statement: 'SELECT $1::text AS secret',
        statement_kind: 'select',
        read_only: true,
        slow: false,
      });
      expect(byId.get(ids[1]!)).toMatchObject({ tenant_id: a.id, status: 'error', error_code: '42501' });
      expect(byId.get(ids[2]!)).toMatchObject({ tenant_id: a.id, status: 'error', error_code: 'VALIDATION_ERROR' });
      expect(byId.get(ids[3]!)).toMatchObject({ tenant_id: a.id, source: 'admin', status: 'success' });
      expect(JSON.stringify(rows)).not.toContain('s3cr3t-value');
    });

    it('measures execution time and flags slow queries (>= 1000 ms)', async () => {
      const answer = await query({ query: busyFor(1050), timeout_ms: 5000 });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.data.execution_time_ms).toBeGreaterThanOrEqual(1000);
      expect(answer.body.data.execution_time_ms).toBeLessThan(4000);
      const [log] = await platformSql<{ slow: boolean; duration_ms: number }>(
        `SELECT slow, duration_ms FROM tenancy.query_logs WHERE id = $1`,
        answer.body.data.query_id,
      );
      expect(log).toMatchObject({ slow: true, duration_ms: answer.body.data.execution_time_ms });
    });

    it('logs an admin query that fails to parse, against the caller’s tenant', async () => {
      const answer = await admin({ tenant_id: a.slug, query: 'SELEC 1' }, tokenA);
      expect(answer.status).toBe(400);
      const [log] = await platformSql<{ status: string; source: string; error_code: string }>(
        `SELECT status, source, error_code FROM tenancy.query_logs WHERE id = $1`,
        answer.body.error.details.query_id,
      );
      expect(log).toEqual({ status: 'error', source: 'admin', error_code: 'VALIDATION_ERROR' });
    });
  });

  describe('core-platform GET /api/database/schema', () => {
    it('describes the baseline from the catalog, with constraints, indexes, counts and sizes', async () => {
      const answer = await t.rest('/api/database/schema?table=users&include_indexes=true', { token: tokenA });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toEqual({
        status: 'success',
        data: {
          schema: a.schemaName,
          tables: [
            {
              name: 'users',
              columns: [
                {
                  name: 'id',
                  type: 'uuid',
                  nullable: false,
                  default: 'gen_random_uuid()',
                  constraints: ['PRIMARY KEY'],
                },
                { name: 'email', type: 'varchar(255)', nullable: false, constraints: ['UNIQUE'] },
                { name: 'created_at', type: 'timestamp with time zone', nullable: false, default: 'now()' },
              ],
              indexes: [
                { name: 'users_created_at_idx', columns: ['created_at'], type: 'btree', unique: false },
                { name: 'users_email_key', columns: ['email'], type: 'btree', unique: true },
                { name: 'users_pkey', columns: ['id'], type: 'primary_key', unique: true },
              ],
              row_count: 2,
              row_count_estimated: false,
              size_mb: expect.any(Number),
            },
          ],
        },
      });
      expect(answer.body.data.tables[0].size_mb).toBeGreaterThan(0);
    });

    it('lists every table of the schema, and leaves indexes out unless asked', async () => {
      const answer = await t.rest(`/api/database/schema?schema=${p1.schemaName}`, { token: projectKey });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.data.schema).toBe(p1.schemaName);
      expect(answer.body.data.tables.map((x: { name: string }) => x.name)).toEqual(['users']);
      expect(answer.body.data.tables[0].indexes).toBeUndefined();
      expectCoreError(
        await t.rest(`/api/database/schema?schema=${a.schemaName}`, { token: projectKey }),
        403,
        'tenant_access_denied',
      );
    });
  });

  describe('tenant migrations', () => {
    const register = (
      version: string,
      name: string,
      upSql: string,
      downSql: string | null,
      { token = projectKey, schema = p1.schemaName }: { token?: string; schema?: string } = {},
    ) =>
      t.graphql<{ registerTenantMigration: { version: string; checksum: string } }>(
        `mutation ($schema: String, $version: String!, $name: String!, $upSql: String!, $downSql: String) {
          registerTenantMigration(schema: $schema, version: $version, name: $name, upSql: $upSql, downSql: $downSql) {
            version checksum
          }
        }`,
        { schema, version, name, upSql, downSql },
        { token, headers: FORWARDED },
      );
    const migrate = (body: Record<string, unknown>, schema = p1.schemaName) =>
      t.rest('/api/database/migrate', { method: 'POST', token: projectKey, body: { schema, ...body } });
    const tableExists = async (schema: string, table: string) => {
      const [row] = await platformSql<{ ok: boolean }>(
        `SELECT to_regclass($1) IS NOT NULL AS ok`,
        `"${schema}".${table}`,
      );
      return row!.ok;
    };

    it('registers, dry-runs, applies and rolls back versioned migrations under the tenant role', async () => {
      const first = await register(
        '20251124000101',
        'Create user profiles',
        `CREATE TABLE profiles (user_id uuid PRIMARY KEY REFERENCES users (id), bio text CHECK (length(bio) < 500));
         CREATE INDEX profiles_bio_idx ON profiles USING hash (bio);`,
        'DROP TABLE profiles;',
      );
      expect(first.body.errors).toBeUndefined();
      expect(first.body.data!.registerTenantMigration.checksum).toMatch(/^[0-9a-f]{64}$/);
      const second = await register(
        '20251124000102',
        'Add user preferences',
        `ALTER TABLE profiles ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}'`,
        'ALTER TABLE profiles DROP COLUMN preferences',
      );
      expect(second.body.errors).toBeUndefined();

      const dry = await migrate({ direction: 'up', dry_run: true });
      expect(dry.status, JSON.stringify(dry.body)).toBe(200);
      expect(dry.body.data).toMatchObject({
        migration_id: expect.stringMatching(/^mig_[0-9a-f]{16}$/),
        executed_migrations: [
          { version: '20251124000101', name: 'Create user profiles', status: 'planned' },
          { version: '20251124000102', name: 'Add user preferences', status: 'planned' },
        ],
        schema_version: '1',
      });
      expect(await tableExists(p1.schemaName, 'profiles')).toBe(false);

      const up = await migrate({ direction: 'up', dry_run: false });
      expect(up.status, JSON.stringify(up.body)).toBe(200);
      expect(up.body.data).toEqual({
        migration_id: expect.stringMatching(/^mig_[0-9a-f]{16}$/),
        executed_migrations: [
          {
            version: '20251124000101',
            name: 'Create user profiles',
            execution_time_ms: expect.any(Number),
            status: 'success',
          },
          {
            version: '20251124000102',
            name: 'Add user preferences',
            execution_time_ms: expect.any(Number),
            status: 'success',
          },
        ],
        total_execution_time_ms: expect.any(Number),
        schema_version: '20251124000102',
        schema: p1.schemaName,
        dry_run: false,
      });
      // Owned by the tenant's role: it ran inside the sandbox, not as the platform.
      const [owner] = await platformSql<{ owner: string }>(
        `SELECT tableowner AS owner FROM pg_tables WHERE schemaname = $1 AND tablename = 'profiles'`,
        p1.schemaName,
      );
      expect(owner!.owner).toBe(`tenant_${p1.id}`);
      const described = await t.rest(
        `/api/database/schema?schema=${p1.schemaName}&table=profiles&include_indexes=true`,
        {
          token: projectKey,
        },
      );
      expect(described.body.data.tables[0].columns).toEqual([
        { name: 'user_id', type: 'uuid', nullable: false, constraints: ['PRIMARY KEY', 'FOREIGN KEY'] },
        { name: 'bio', type: 'text', nullable: true, constraints: ['CHECK'] },
        { name: 'preferences', type: 'jsonb', nullable: false, default: "'{}'::jsonb" },
      ]);
      expect(described.body.data.tables[0].indexes).toContainEqual({
        name: 'profiles_bio_idx',
        columns: ['bio'],
        type: 'hash',
        unique: false,
      });

      const again = await migrate({});
      expect(again.body.data).toMatchObject({ executed_migrations: [], schema_version: '20251124000102' });

      const down = await migrate({ direction: 'down', version: '20251124000101' });
      expect(down.body.data).toMatchObject({
        executed_migrations: [{ version: '20251124000102', status: 'success' }],
        schema_version: '20251124000101',
      });
      const downAll = await migrate({ direction: 'down' });
      expect(downAll.body.data).toMatchObject({
        executed_migrations: [{ version: '20251124000101', status: 'success' }],
        schema_version: '1',
      });
      expect(await tableExists(p1.schemaName, 'profiles')).toBe(false);
      // The baseline is the platform's: it cannot be rolled back through the API.
      expectCoreError(await migrate({ direction: 'down' }), 400, 'validation_error');

      const history = await platformSql<{ status: string; direction: string; dry_run: boolean }>(
        `SELECT status, direction, dry_run FROM tenancy.tenant_migration_runs WHERE tenant_id = $1 ORDER BY created_at, version`,
        p1.id,
      );
      expect(history.filter((h) => h.dry_run).map((h) => h.status)).toEqual(['planned', 'planned']);
      expect(history.filter((h) => !h.dry_run && h.direction === 'down')).toHaveLength(2);
    });

    it('a migration reaching another tenant fails in the database and leaves nothing applied', async () => {
      const registered = await register(
        '20251124000201',
        'Sneak into another tenant',
        `CREATE TABLE mine (id int); CREATE TABLE "${p2.schemaName}".stolen (id int);`,
        null,
      );
      expect(registered.body.errors).toBeUndefined();
      const answer = await migrate({ version: '20251124000201' });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const step = answer.body.data.executed_migrations.at(-1);
      expect(step).toMatchObject({ version: '20251124000201', status: 'failed' });
      expect(step.error).toBe(`permission denied for schema ${p2.schemaName}`);
      expect(await tableExists(p1.schemaName, 'mine')).toBe(false);
      expect(await tableExists(p2.schemaName, 'stolen')).toBe(false);
      const applied = await platformSql<{ version: string }>(
        `SELECT version FROM tenancy.tenant_applied_migrations WHERE tenant_id = $1`,
        p1.id,
      );
      expect(applied.map((r) => r.version)).not.toContain('20251124000201');
    });

    it('runs each step once when two migrate requests race', async () => {
      const p4 = await createTenant(projectKey);
      const registered = await register(
        '20251124000701',
        'Counters',
        'CREATE TABLE counters (id int); INSERT INTO counters VALUES (1);',
        'DROP TABLE counters',
        { schema: p4.schemaName },
      );
      expect(registered.body.errors).toBeUndefined();
      const [one, two] = await Promise.all([migrate({}, p4.schemaName), migrate({}, p4.schemaName)]);
      const steps = [...one.body.data.executed_migrations, ...two.body.data.executed_migrations];
      expect(steps.filter((s: { status: string }) => s.status === 'success')).toHaveLength(1);
      const [rows] = await platformSql<{ n: number }>(`SELECT count(*)::int AS n FROM "${p4.schemaName}".counters`);
      expect(rows!.n).toBe(1);
    });

    it('guards scripts: parsed at registration, immutable per version, checksums checked on migrate', async () => {
      const fn = await register(
        '20251124000301',
        'Function',
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        null,
      );
      expect(fn.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');
      const reserved = await register('5', 'Too low', 'CREATE TABLE low (id int)', null);
      expect(reserved.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');

      const tenantOnly = await t.graphql(
        `mutation { registerTenantMigration(schema: "${p2.schemaName}", version: "20251124000401", name: "x", upSql: "CREATE TABLE x (id int)") { version } }`,
        {},
        { token: tokenA, headers: FORWARDED },
      );
      expect(tenantOnly.body.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');

      // On p2: p1 still has the failed script of the previous test pending, which blocks it.
      const onP2 = { schema: p2.schemaName };
      const notes = await register('20251124000501', 'Notes', 'CREATE TABLE notes (id int)', 'DROP TABLE notes', onP2);
      expect(notes.body.errors).toBeUndefined();
      const changed = await register(
        '20251124000501',
        'Notes',
        'CREATE TABLE notes (id bigint)',
        'DROP TABLE notes',
        onP2,
      );
      expect(changed.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      const up = await migrate({ version: '20251124000501' }, p2.schemaName);
      expect(up.body.data.executed_migrations).toMatchObject([{ version: '20251124000501', status: 'success' }]);
      // Someone edits the applied script behind the platform's back: migrate refuses to go on.
      await t.platform.db.prisma.$executeRawUnsafe(
        `UPDATE tenancy.tenant_migration_scripts SET up_sql = 'CREATE TABLE notes (id text)', checksum = 'edited'
          WHERE tenant_id = $1 AND version = '20251124000501'`,
        p2.id,
      );
      const refused = await migrate({}, p2.schemaName);
      expectCoreError(refused, 409, 'conflict');
      expect(refused.body.error.details).toMatchObject({ version: '20251124000501' });
    });
  });

  // Isolation level 2 (a dedicated database) needs real PostgreSQL: PGlite holds one database.
  describe.runIf(usingRealServices)('isolation level 2: the same sandbox in the tenant’s dedicated database', () => {
    it('queries, describes and migrates the dedicated database, still under the tenant role', async () => {
      const p3 = await createTenant(projectKey);
      const seeded = await query(
        { query: `INSERT INTO users (email) VALUES ('moved@example.com')`, schema: p3.schemaName, read_only: false },
        projectKey,
      );
      expect(seeded.status, JSON.stringify(seeded.body)).toBe(200);
      const change = await t.graphql<{ changeTenantIsolation: { id: string } }>(
        `mutation ($id: ID!) { changeTenantIsolation(tenantId: $id, isolationLevel: 2) { id } }`,
        { id: p3.id },
        { token: projectKey, headers: FORWARDED },
      );
      expect(change.body.errors).toBeUndefined();
      const operationId = change.body.data!.changeTenantIsolation.id;
      const status = await waitFor(
        async () => {
          const op = await t.graphql<{ tenantOperation: { status: string; error: string | null } }>(
            `query ($id: ID!) { tenantOperation(id: $id) { status error } }`,
            { id: operationId },
            { token: projectKey, headers: FORWARDED },
          );
          const state = op.body.data?.tenantOperation.status ?? 'unknown';
          return state === 'completed' || state === 'failed' ? state : undefined;
        },
        `isolation change ${operationId} to finish`,
        { intervalMs: 200 },
      );
      expect(status).toBe('completed');
      const [row] = await platformSql<{ database_name: string }>(
        `SELECT database_name FROM tenancy.tenants WHERE id = $1`,
        p3.id,
      );

      const where = await query(
        {
          query: 'SELECT current_database(), current_schema(), current_user, (SELECT count(*) FROM users)',
          schema: p3.schemaName,
        },
        projectKey,
      );
      expect(where.status, JSON.stringify(where.body)).toBe(200);
      expect(where.body.data.rows).toEqual([[row!.database_name, p3.schemaName, `tenant_${p3.id}`, 1]]);
      // Other tenants' schemas are not even in this database; the platform's are not either.
      const other = await query({ query: `SELECT * FROM ${p1.schemaName}.users`, schema: p3.schemaName }, projectKey);
      expect(other.status).toBe(400);
      expect(other.body.error.details.sqlstate).toBe('42P01');
      const readOnly = await query({ query: 'DELETE FROM users', schema: p3.schemaName }, projectKey);
      expect(readOnly.status).toBe(403);
      expect(readOnly.body.error.details?.reason).toBe('read_only');

      const described = await t.rest(`/api/database/schema?schema=${p3.schemaName}&table=users`, { token: projectKey });
      expect(described.status, JSON.stringify(described.body)).toBe(200);
      expect(described.body.data.tables[0]).toMatchObject({ name: 'users', row_count: 1 });

      const registered = await t.graphql(
        `mutation ($schema: String) { registerTenantMigration(schema: $schema, version: "20251124000601", name: "Tags", upSql: "CREATE TABLE tags (id int)", downSql: "DROP TABLE tags") { version } }`,
        { schema: p3.schemaName },
        { token: projectKey, headers: FORWARDED },
      );
      expect(registered.body.errors).toBeUndefined();
      const up = await t.rest('/api/database/migrate', {
        method: 'POST',
        token: projectKey,
        body: { schema: p3.schemaName },
      });
      expect(up.body.data).toMatchObject({
        executed_migrations: [{ version: '20251124000601', status: 'success' }],
        schema_version: '20251124000601',
      });
      const tags = await query({ query: 'SELECT count(*) FROM tags', schema: p3.schemaName }, projectKey);
      expect(tags.body.data.rows).toEqual([[0]]);
    }, 60_000);
  });
});
