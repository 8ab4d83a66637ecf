import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDriverHandle } from '../lib/db.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import {
  markChangesDeployed,
  pendingChanges,
  snapshotWorkspace,
} from '../subgraphs/tenancy/services/workspaces/workspaces.js';
import { bootPlatform, uniqueSlug, type TestPlatform, type RestAnswer } from './support/platform.js';

// tenantsdb workspaces end to end through the real gateway: create/list/get/delete in the
// documented shapes, project isolation, DDL capture through the API and (real PostgreSQL) a
// plain pg client on the returned connection, diff / skip / revert, schema import from templates,
// JSON and a live database, and settings.

const PASSWORD = 'Workspace-Owner-Passphrase-9';
const realPg = Boolean(process.env.TEST_DATABASE_URL);

function ok(answer: RestAnswer, status = 200) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.success).toBe(true);
  return answer.body;
}

function failed(answer: RestAnswer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ success: false, error: { code } });
  return answer.body;
}

/** A workspace name: lower-case, unique per test run. */
const wsName = (prefix: string) => uniqueSlug(prefix).replaceAll('-', '_');

describe('tenantsdb workspaces through the real gateway', () => {
  let t: TestPlatform;
  let keyA: string;
  let keyB: string;

  const signup = async () => {
    const answer = await t.rest('/signup', {
      method: 'POST',
      token: null,
      body: { email: `ws-owner-${uniqueSlug()}@example.com`, password: PASSWORD, project_name: 'Workspaces' },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return answer.body.api_key as string;
  };
  const sql = <T>(query: string, ...params: unknown[]) => t.platform.db.prisma.$queryRawUnsafe<T[]>(query, ...params);

  beforeAll(async () => {
    t = await bootPlatform();
    keyA = await signup();
    keyB = await signup();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('creates, lists, reads and deletes a workspace, only within the caller’s project', async () => {
    const name = wsName('myapp');
    const created = ok(
      await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }),
      201,
    );
    expect(created).toMatchObject({ success: true, id: name, blueprint: name, database: 'PostgreSQL' });
    if (realPg) {
      expect(created.connection).toMatchObject({
        port: expect.any(Number),
        user: expect.stringMatching(/^tenant_ws_/),
      });
      expect(created.connection.database).toMatch(new RegExp(`^${name}_[0-9a-f]{12}_dev$`));
      expect(created.connection_string).toMatch(/^postgresql:\/\//);
    } else {
      expect(created.connection).toBeNull();
      expect(created.connection_string).toBeNull();
      expect(created.message).toMatch(/Direct connections need PostgreSQL/);
    }
    failed(
      await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }),
      409,
      'CONFLICT',
    );

    const listed = ok(await t.rest('/workspaces', { token: keyA }));
    expect(listed.workspaces).toContainEqual({
      created_at: expect.any(Number),
      database: 'PostgreSQL',
      id: name,
      name,
      version: '1.0',
    });
    expect(ok(await t.rest('/workspaces', { token: keyB })).workspaces.map((w: { id: string }) => w.id)).not.toContain(
      name,
    );

    const details = ok(await t.rest(`/workspaces/${name}`, { token: keyA }));
    expect(details).toMatchObject({
      id: name,
      name,
      version: '1.0',
      database: 'PostgreSQL',
      schema: { type: 'tables', data: { table_count: 0, tables: null } },
      undeployed_changes: 0,
    });

    // Another project's workspace does not exist for it, whatever the verb.
    failed(await t.rest(`/workspaces/${name}`, { token: keyB }), 404, 'NOT_FOUND');
    failed(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyB }), 404, 'NOT_FOUND');
    failed(
      await t.rest(`/workspaces/${name}/queries`, { method: 'POST', token: keyB, body: { query: 'SELECT 1' } }),
      404,
      'NOT_FOUND',
    );
    failed(await t.rest('/workspaces', { token: null }), 401, 'UNAUTHORIZED');
    // The operator (no project) has workspaces of its own, apart from every project's.
    const operatorWs = wsName('op');
    ok(await t.rest('/workspaces', { method: 'POST', body: { name: operatorWs, database: 'PostgreSQL' } }), 201);
    failed(await t.rest(`/workspaces/${operatorWs}`, { token: keyA }), 404, 'NOT_FOUND');
    expect(ok(await t.rest('/workspaces')).workspaces.map((w: { id: string }) => w.id)).toContain(operatorWs);
    ok(await t.rest(`/workspaces/${operatorWs}`, { method: 'DELETE' }));
    // Two creates of one name at the same time: one wins, the other is a conflict.
    const racing = wsName('race');
    const raced = await Promise.all(
      [0, 1].map(() =>
        t.rest('/workspaces', { method: 'POST', token: keyA, body: { name: racing, database: 'PostgreSQL' } }),
      ),
    );
    expect(raced.map((a) => a.status).sort()).toEqual([201, 409]);
    ok(await t.rest(`/workspaces/${racing}`, { method: 'DELETE', token: keyA }));

    const [row] = await sql<{ database_name: string | null; login_role: string; schema_name: string }>(
      `SELECT database_name, login_role, schema_name FROM tenancy.workspaces WHERE name = $1`,
      name,
    );
    ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
    failed(await t.rest(`/workspaces/${name}`, { token: keyA }), 404, 'NOT_FOUND');
    const roles = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1`,
      row!.login_role,
    );
    expect(roles[0]!.n).toBe(0);
    if (row!.database_name) {
      const dbs = await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`,
        row!.database_name,
      );
      expect(dbs[0]!.n).toBe(0);
    } else {
      const schemas = await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`,
        row!.schema_name,
      );
      expect(schemas[0]!.n).toBe(0);
    }
  }, 60_000);

  it('answers unsupported_database for other database types and validates the name', async () => {
    const answer = failed(
      await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name: wsName('my'), database: 'MySQL' } }),
      400,
      'UNSUPPORTED_DATABASE',
    );
    expect(answer.error.message).toMatch(/unsupported_database/);
    failed(
      await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name: wsName('x'), database: 'Oracle' } }),
      400,
      'VALIDATION_ERROR',
    );
    failed(
      await t.rest('/workspaces', {
        method: 'POST',
        token: keyA,
        body: { name: 'Bad Name!', database: 'PostgreSQL' },
      }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('captures API DDL in order; diff, skip and revert', async () => {
    const name = wsName('diff');
    ok(await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }), 201);
    const run = async (query: string) =>
      ok(await t.rest(`/workspaces/${name}/queries`, { method: 'POST', token: keyA, body: { query } }));

    const created = await run('CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL)');
    expect(created.captured).toHaveLength(1);
    expect(created.captured[0]).toMatchObject({
      command: 'CREATE TABLE',
      object: '"accounts"',
      captured_via: 'api',
      reversible: true,
    });
    await run('ALTER TABLE accounts ADD COLUMN nickname text');
    await run('CREATE INDEX accounts_email_idx ON accounts (email)');
    await run(`INSERT INTO accounts (email, nickname) VALUES ('a@example.com', 'a')`);
    const selected = await run('SELECT email, nickname FROM accounts');
    expect(selected).toMatchObject({
      columns: ['email', 'nickname'],
      rows: [['a@example.com', 'a']],
      row_count: 1,
      captured: [],
    });
    await run("ALTER TABLE accounts ALTER COLUMN email SET DEFAULT 'none'");
    await run('CREATE TABLE scratch (id int)');
    // Data statements are not schema changes, on either path.
    expect((await run('TRUNCATE scratch')).captured).toEqual([]);

    // The guard refuses what tenant SQL refuses, before anything runs.
    failed(
      await t.rest(`/workspaces/${name}/queries`, {
        method: 'POST',
        token: keyA,
        body: { query: 'SET ROLE postgres' },
      }),
      400,
      'VALIDATION_ERROR',
    );

    const diff = ok(await t.rest(`/workspaces/${name}/diff`, { token: keyA }));
    expect(diff.changes.map((c: { command: string }) => c.command)).toEqual([
      'CREATE TABLE',
      'ALTER TABLE',
      'CREATE INDEX',
      'ALTER TABLE',
      'CREATE TABLE',
    ]);
    const [createAccounts, addColumn, createIndex, setDefault, createScratch] = diff.changes;
    expect(diff.changes.map((c: { seq: number }) => c.seq)).toEqual(
      [...diff.changes.map((c: { seq: number }) => c.seq)].sort((a, b) => a - b),
    );
    expect(createAccounts).toMatchObject({
      statement: 'CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL)',
      reversible: true,
    });
    expect(createIndex).toMatchObject({ object: '"accounts_email_idx"', reversible: true });
    expect(setDefault).toMatchObject({
      reversible: false,
      irreversible_reason: expect.stringMatching(/ColumnDefault/),
    });
    expect(ok(await t.rest(`/workspaces/${name}`, { token: keyA })).undeployed_changes).toBe(5);

    // Revert ADD COLUMN: the column is gone from the workspace, the change leaves the queue.
    const reverted = ok(
      await t.rest(`/workspaces/${name}/diff/${addColumn.ddl_id}/revert`, { method: 'POST', token: keyA }),
    );
    expect(reverted).toMatchObject({
      status: 'reverted',
      reverted_with: 'ALTER TABLE "accounts" DROP COLUMN "nickname"',
    });
    const schema = ok(await t.rest(`/workspaces/${name}/schema`, { token: keyA }));
    const accounts = schema.tables.find((tb: { name: string }) => tb.name === 'accounts');
    expect(accounts.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'email']);
    expect(accounts.indexes.map((i: { name: string }) => i.name)).toContain('accounts_email_idx');

    // Revert CREATE INDEX and CREATE TABLE.
    ok(await t.rest(`/workspaces/${name}/diff/${createIndex.ddl_id}/revert`, { method: 'POST', token: keyA }));
    ok(await t.rest(`/workspaces/${name}/diff/${createScratch.ddl_id}/revert`, { method: 'POST', token: keyA }));
    const after = ok(await t.rest(`/workspaces/${name}/schema`, { token: keyA }));
    expect(after.tables.map((tb: { name: string }) => tb.name)).toEqual(['accounts']);
    expect(after.tables[0].indexes.map((i: { name: string }) => i.name)).not.toContain('accounts_email_idx');

    // Not reversible: a clear reason, nothing changes.
    const refused = failed(
      await t.rest(`/workspaces/${name}/diff/${setDefault.ddl_id}/revert`, { method: 'POST', token: keyA }),
      400,
      'BAD_REQUEST',
    );
    expect(refused.error.message).toMatch(/^not_reversible: ALTER TABLE ColumnDefault cannot be reverted/);
    // Reverted twice: a conflict. Unknown id: not found. Another project: not found.
    failed(
      await t.rest(`/workspaces/${name}/diff/${addColumn.ddl_id}/revert`, { method: 'POST', token: keyA }),
      409,
      'CONFLICT',
    );
    failed(await t.rest(`/workspaces/${name}/diff/ddl_0000/revert`, { method: 'POST', token: keyA }), 404, 'NOT_FOUND');
    failed(
      await t.rest(`/workspaces/${name}/diff/${setDefault.ddl_id}`, { method: 'DELETE', token: keyB }),
      404,
      'NOT_FOUND',
    );

    // Skip: stays in the workspace, leaves the queue.
    ok(await t.rest(`/workspaces/${name}/diff/${setDefault.ddl_id}`, { method: 'DELETE', token: keyA }));
    const remaining = ok(await t.rest(`/workspaces/${name}/diff`, { token: keyA }));
    expect(remaining.changes.map((c: { ddl_id: string }) => c.ddl_id)).toEqual([createAccounts.ddl_id]);
    const statuses = await sql<{ id: string; status: string }>(
      `SELECT id, status FROM tenancy.workspace_changes WHERE id = ANY($1::text[]) ORDER BY seq`,
      [addColumn.ddl_id, setDefault.ddl_id, createScratch.ddl_id],
    );
    expect(statuses.map((s) => s.status)).toEqual(['reverted', 'skipped', 'reverted']);
    ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
  }, 60_000);

  it.runIf(realPg)(
    'real PostgreSQL: the connection works with a plain pg client, is limited to its database, and its DDL is captured',
    async () => {
      const name = wsName('direct');
      const other = wsName('other');
      const created = ok(
        await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }),
        201,
      );
      const otherWs = ok(
        await t.rest('/workspaces', { method: 'POST', token: keyB, body: { name: other, database: 'PostgreSQL' } }),
        201,
      );

      const client = new pg.Client({ connectionString: created.connection_string });
      await client.connect();
      try {
        await client.query('CREATE TABLE direct_orders (id bigserial PRIMARY KEY, total numeric(10,2) NOT NULL)');
        await client.query('ALTER TABLE direct_orders ADD COLUMN note text');
        await client.query(`INSERT INTO direct_orders (total) VALUES (12.5)`);
        // A rolled-back DDL leaves nothing in the queue.
        await client.query('BEGIN');
        await client.query('CREATE TABLE never_committed (id int)');
        await client.query('ROLLBACK');
        // No temporary objects (they would be captured but cannot be deployed).
        await expect(client.query('CREATE TEMP TABLE scratch (id int)')).rejects.toThrow(/permission denied/);
        // The capture log is out of its reach.
        await expect(client.query('SELECT * FROM _workspace.ddl_log')).rejects.toThrow(/permission denied/);
        await expect(client.query('DROP EVENT TRIGGER workspace_capture')).rejects.toThrow(
          /must be owner|permission denied/,
        );
        await expect(client.query('SELECT count(*) FROM tenancy.workspaces')).rejects.toThrow(
          /permission denied|does not exist/,
        );
      } finally {
        await client.end();
      }
      // Another workspace's database refuses this role.
      const url = new URL(created.connection_string);
      url.pathname = `/${otherWs.connection.database}`;
      const intruder = new pg.Client({ connectionString: url.toString() });
      await expect(intruder.connect()).rejects.toThrow(/permission denied/);
      await intruder.end().catch(() => undefined);

      // API DDL after the direct DDL comes after it in the queue.
      ok(
        await t.rest(`/workspaces/${name}/queries`, {
          method: 'POST',
          token: keyA,
          body: { query: 'CREATE INDEX direct_orders_total_idx ON direct_orders (total)' },
        }),
      );
      const diff = ok(await t.rest(`/workspaces/${name}/diff`, { token: keyA }));
      expect(
        diff.changes.map((c: { command: string; captured_via: string; object: string }) => [
          c.command,
          c.captured_via,
          c.object,
        ]),
      ).toEqual([
        ['CREATE TABLE', 'direct', '"direct_orders"'],
        ['ALTER TABLE', 'direct', '"direct_orders"'],
        ['CREATE INDEX', 'api', '"direct_orders_total_idx"'],
      ]);
      // Revert of a directly made change works too, and is not itself captured.
      ok(await t.rest(`/workspaces/${name}/diff/${diff.changes[1].ddl_id}/revert`, { method: 'POST', token: keyA }));
      const after = ok(await t.rest(`/workspaces/${name}/diff`, { token: keyA }));
      expect(after.count).toBe(2);

      ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
      ok(await t.rest(`/workspaces/${other}`, { method: 'DELETE', token: keyB }));
      const gone = new pg.Client({ connectionString: created.connection_string });
      await expect(gone.connect()).rejects.toThrow();
      await gone.end().catch(() => undefined);
    },
    60_000,
  );

  it('imports a template and a JSON table list as captured import changes', async () => {
    const name = wsName('imp');
    ok(await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }), 201);
    const imported = ok(
      await t.rest(`/workspaces/${name}/schema`, {
        method: 'POST',
        token: keyA,
        body: { source: 'template', template: 'fintech' },
      }),
    );
    expect(imported.changes).toBeGreaterThanOrEqual(8);
    const schema = ok(await t.rest(`/workspaces/${name}/schema`, { token: keyA }));
    expect(schema.tables.map((tb: { name: string }) => tb.name).sort()).toEqual([
      'accounts',
      'cards',
      'customers',
      'transactions',
      'transfers',
    ]);
    const accounts = schema.tables.find((tb: { name: string }) => tb.name === 'accounts');
    expect(accounts.columns.find((c: { name: string }) => c.name === 'id').constraints).toContain('PRIMARY KEY');
    expect(accounts.indexes.map((i: { name: string }) => i.name)).toContain('accounts_customer_id_idx');
    const diff = ok(await t.rest(`/workspaces/${name}/diff`, { token: keyA }));
    expect(diff.changes.every((c: { captured_via: string }) => c.captured_via === 'import')).toBe(true);
    expect(diff.changes.map((c: { ddl_id: string }) => c.ddl_id)).toEqual(imported.ddl_ids);

    failed(
      await t.rest(`/workspaces/${name}/schema`, {
        method: 'POST',
        token: keyA,
        body: { source: 'template', template: 'nope' },
      }),
      404,
      'NOT_FOUND',
    );
    for (const template of ['ecommerce', 'saas']) {
      const other = wsName(template.slice(0, 4));
      ok(
        await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name: other, database: 'PostgreSQL' } }),
        201,
      );
      ok(
        await t.rest(`/workspaces/${other}/schema`, {
          method: 'POST',
          token: keyA,
          body: { source: 'template', template },
        }),
      );
      expect(ok(await t.rest(`/workspaces/${other}/schema`, { token: keyA })).table_count).toBeGreaterThanOrEqual(5);
      ok(await t.rest(`/workspaces/${other}`, { method: 'DELETE', token: keyA }));
    }

    // JSON: types are checked by the parser; an injection attempt is a validation error, not SQL.
    const bad = async (column: Record<string, unknown>) =>
      failed(
        await t.rest(`/workspaces/${name}/schema`, {
          method: 'POST',
          token: keyA,
          body: { source: 'json', tables: [{ name: 'evil', columns: [{ name: 'id', ...column }] }] },
        }),
        400,
        'VALIDATION_ERROR',
      );
    await bad({ type: 'int); DROP TABLE accounts; --' });
    await bad({ type: 'int CHECK (true)' });
    await bad({ type: 'text', default: `'x'); DROP TABLE accounts; --` });
    await bad({ type: 'text', default: `(SELECT set_config('role', 'postgres', true))` });
    failed(
      await t.rest(`/workspaces/${name}/schema`, {
        method: 'POST',
        token: keyA,
        body: { source: 'json', tables: [] },
      }),
      400,
      'VALIDATION_ERROR',
    );

    const json = ok(
      await t.rest(`/workspaces/${name}/schema`, {
        method: 'POST',
        token: keyA,
        body: {
          source: 'json',
          tables: [
            {
              name: 'loyalty_points',
              columns: [
                { name: 'id', type: 'uuid', primary_key: true, default: 'gen_random_uuid()' },
                { name: 'customer_email', type: 'varchar(255)', nullable: false, unique: true },
                { name: 'points', type: 'integer', nullable: false, default: '0' },
              ],
            },
          ],
        },
      }),
    );
    expect(json.changes).toBe(1);
    const after = ok(await t.rest(`/workspaces/${name}/schema`, { token: keyA }));
    const loyalty = after.tables.find((tb: { name: string }) => tb.name === 'loyalty_points');
    expect(loyalty.columns).toEqual([
      { name: 'id', type: 'uuid', nullable: false, default: 'gen_random_uuid()', constraints: ['PRIMARY KEY'] },
      { name: 'customer_email', type: 'varchar(255)', nullable: false, constraints: ['UNIQUE'] },
      { name: 'points', type: 'integer', nullable: false, default: '0' },
    ]);
    // A JSON import is a reversible CREATE TABLE like any other.
    const last = ok(await t.rest(`/workspaces/${name}/diff`, { token: keyA })).changes.at(-1);
    expect(last).toMatchObject({
      command: 'CREATE TABLE',
      object: '"loyalty_points"',
      captured_via: 'import',
      reversible: true,
    });
    ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
  }, 60_000);

  it.runIf(realPg)(
    'imports the schema of a live PostgreSQL database',
    async () => {
      const source = `ws_source_${uniqueSlug().replace('-', '_')}`;
      const server = new URL(process.env.TEST_DATABASE_URL!);
      await sql(`CREATE DATABASE ${source}`);
      try {
        const sourceUrl = new URL(server.toString());
        sourceUrl.pathname = `/${source}`;
        const admin = new pg.Client({ connectionString: sourceUrl.toString() });
        await admin.connect();
        await admin.query(`CREATE TYPE plan AS ENUM ('free', 'pro')`);
        await admin.query(
          `CREATE TABLE orgs (id serial PRIMARY KEY, name text NOT NULL UNIQUE, plan plan NOT NULL DEFAULT 'free')`,
        );
        await admin.query(
          `CREATE TABLE seats (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org_id int NOT NULL REFERENCES orgs(id), email text)`,
        );
        await admin.query(`CREATE INDEX seats_org_idx ON seats (org_id)`);
        await admin.query(`INSERT INTO orgs (name) VALUES ('acme')`);
        await admin.end();

        const name = wsName('live');
        ok(await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }), 201);
        const imported = ok(
          await t.rest(`/workspaces/${name}/schema`, {
            method: 'POST',
            token: keyA,
            body: {
              source: 'database',
              connection: {
                type: 'postgresql',
                host: server.hostname,
                port: Number(server.port || 5432),
                database: source,
                user: decodeURIComponent(server.username),
                password: decodeURIComponent(server.password),
              },
            },
          }),
        );
        expect(imported.changes).toBeGreaterThanOrEqual(4);
        const schema = ok(await t.rest(`/workspaces/${name}/schema`, { token: keyA }));
        expect(schema.tables.map((tb: { name: string }) => tb.name)).toEqual(['orgs', 'seats']);
        expect(schema.tables[0].row_count).toBe(0); // schema only, no data
        expect(schema.tables[1].indexes.map((i: { name: string }) => i.name)).toContain('seats_org_idx');
        // The source password is not stored anywhere in the platform's records.
        const stored = await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM tenancy.workspace_changes WHERE statement ILIKE '%' || $1 || '%'`,
          source,
        );
        expect(stored[0]!.n).toBe(0);
        failed(
          await t.rest(`/workspaces/${name}/schema`, {
            method: 'POST',
            token: keyA,
            body: {
              source: 'database',
              connection: { type: 'postgresql', host: '127.0.0.1', port: 1, database: 'x', user: 'x', password: 'x' },
            },
          }),
          502,
          'SOURCE_UNREACHABLE',
        );
        ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
      } finally {
        await sql(`DROP DATABASE IF EXISTS ${source} WITH (FORCE)`);
      }
    },
    60_000,
  );

  it('reads and updates settings, validated; GraphQL answers the same', async () => {
    const name = wsName('set');
    ok(await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }), 201);
    expect(ok(await t.rest(`/workspaces/${name}/settings`, { token: keyA })).settings).toEqual({
      description: '',
      default_isolation_level: 1,
      query_timeout_ms: 5000,
      allow_api_ddl: true,
    });
    const updated = ok(
      await t.rest(`/workspaces/${name}/settings`, {
        method: 'POST',
        token: keyA,
        body: { description: 'Billing schema', allow_api_ddl: false },
      }),
    );
    expect(updated.settings).toMatchObject({
      description: 'Billing schema',
      allow_api_ddl: false,
      query_timeout_ms: 5000,
    });
    failed(
      await t.rest(`/workspaces/${name}/settings`, { method: 'POST', token: keyA, body: { query_timeout_ms: 0 } }),
      400,
      'VALIDATION_ERROR',
    );
    failed(
      await t.rest(`/workspaces/${name}/settings`, { method: 'POST', token: keyA, body: { unknown: 1 } }),
      400,
      'VALIDATION_ERROR',
    );
    failed(
      await t.rest(`/workspaces/${name}/settings`, {
        method: 'POST',
        token: keyA,
        body: { default_isolation_level: 3 },
      }),
      400,
      'VALIDATION_ERROR',
    );
    // allow_api_ddl false: API DDL runs read-only and is refused by the database.
    failed(
      await t.rest(`/workspaces/${name}/queries`, {
        method: 'POST',
        token: keyA,
        body: { query: 'CREATE TABLE x (id int)' },
      }),
      403,
      'FORBIDDEN',
    );
    expect(ok(await t.rest(`/workspaces/${name}/settings`, { token: keyA })).settings.description).toBe(
      'Billing schema',
    );

    const gql = await t.graphql<{ workspaces: Array<{ id: string; createdAt: string }> }>(
      `query { workspaces { id createdAt } }`,
      {},
      { token: keyA },
    );
    expect(gql.body.errors).toBeUndefined();
    expect(gql.body.data!.workspaces.map((w) => w.id)).toContain(name);
    const other = await t.graphql(
      `query($id: String!) { workspaceSettings(id: $id) { allowApiDdl } }`,
      { id: name },
      { token: keyB },
    );
    expect(other.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
  }, 60_000);

  it('snapshotWorkspace gives replayable DDL and the introspection JSON; pendingChanges / markChangesDeployed (for blueprints)', async () => {
    const name = wsName('snap');
    ok(await t.rest('/workspaces', { method: 'POST', token: keyA, body: { name, database: 'PostgreSQL' } }), 201);
    ok(
      await t.rest(`/workspaces/${name}/schema`, {
        method: 'POST',
        token: keyA,
        body: { source: 'template', template: 'ecommerce' },
      }),
    );
    ok(
      await t.rest(`/workspaces/${name}/queries`, {
        method: 'POST',
        token: keyA,
        body: { query: `INSERT INTO categories (slug, name) VALUES ('toys', 'Toys')` },
      }),
    );
    const deps = { db: t.platform.db, kv: t.platform.kv, jobs: t.platform.jobs } as unknown as SubgraphDeps;
    const workspace = await t.platform.db.prisma.workspace.findFirstOrThrow({ where: { name } });

    const { ddl, snapshot } = await snapshotWorkspace(deps, workspace);
    expect(ddl).toMatch(/CREATE TABLE "orders"/);
    expect(ddl).not.toMatch(/INSERT INTO|setval|OWNER TO/); // schema only: no data, positions or owners
    expect(snapshot.tables.map((tb) => tb.name).sort()).toEqual([
      'categories',
      'customers',
      'order_items',
      'orders',
      'payments',
      'products',
    ]);

    // Replayed into an empty schema, it gives the same tables, columns and indexes.
    const replay = `replay_${uniqueSlug().replace('-', '_')}`;
    const handle = getDriverHandle(t.platform.db);
    const script = `CREATE SCHEMA ${replay}; SET search_path TO ${replay}; ${ddl} RESET search_path;`;
    if (handle.kind === 'pglite') await handle.pglite.exec(script);
    else {
      const client = new pg.Client({ connectionString: handle.connectionString });
      await client.connect();
      await client.query(script);
      await client.end();
    }
    try {
      const replayed = await snapshotWorkspace(deps, { ...workspace, databaseName: null, schemaName: replay });
      const shape = (s: typeof snapshot) =>
        s.tables.map((tb) => ({
          name: tb.name,
          // The catalog lists a column's constraints in no fixed order.
          columns: tb.columns.map((c) => ({
            ...c,
            constraints: c.constraints ? [...c.constraints].sort() : undefined,
          })),
          indexes: (tb.indexes ?? []).map((i) => i.name).sort(),
        }));
      expect(shape(replayed.snapshot)).toEqual(shape(snapshot));
    } finally {
      await sql(`DROP SCHEMA ${replay} CASCADE`);
    }

    const pending = await pendingChanges(deps, workspace.id);
    expect(pending.length).toBeGreaterThanOrEqual(9);
    expect(pending.map((c) => c.seq)).toEqual([...pending.map((c) => c.seq)].sort((a, b) => a - b));
    const marked = await t.platform.db.prisma.$transaction((tx) =>
      markChangesDeployed(
        tx,
        pending.map((c) => c.id),
        'bpv_test',
      ),
    );
    expect(marked).toBe(pending.length);
    expect(await pendingChanges(deps, workspace.id)).toEqual([]);
    expect(ok(await t.rest(`/workspaces/${name}`, { token: keyA })).undeployed_changes).toBe(0);
    ok(await t.rest(`/workspaces/${name}`, { method: 'DELETE', token: keyA }));
  }, 60_000);
});
