import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import type { Platform } from '../app/platform.js';
import {
  bootPlatform,
  testDataImportConfig,
  uniqueSlug,
  type RestAnswer,
  type TestPlatform,
} from './support/platform.js';
import { expectRestError, waitFor } from './support/rest.js';
import { signUp } from './support/tenants.js';

// Data import end to end through the gateway (tenantsdb REST and GraphQL): a real source
// PostgreSQL database is created on TEST_DATABASE_URL's server, analyzed, and imported into one
// tenant per routing value; every tenant's tables are compared row by row with the source. On the
// embedded default there is no PostgreSQL server to hold a source database: those tests are
// skipped (the error paths, which need no source, still run).

const SERVER_URL = process.env.TEST_DATABASE_URL;
const hasServer = Boolean(SERVER_URL);

let t: TestPlatform;
let platform: Platform;
const logLines: string[] = [];

/** The workspace row an import hangs off (created directly: workspaces are another capability's routes). */
async function createWorkspace(projectId: string): Promise<string> {
  const name = uniqueSlug('ws').replaceAll('-', '_');
  const id = `${projectId}_${name}_dev`;
  await platform.db.prisma.workspace.create({
    data: { id, projectId, name, databaseType: 'PostgreSQL', schemaName: `ws_${randomBytes(6).toString('hex')}` },
  });
  return id;
}

async function waitForImport(workspaceId: string, importId: string, key: string): Promise<RestAnswer> {
  return waitFor(
    async () => {
      const answer = await t.rest(`/workspaces/${workspaceId}/import-data/status?import_id=${importId}`, {
        token: key,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body.status === 'completed' || answer.body.status === 'failed' ? answer : undefined;
    },
    `import ${importId} to finish`,
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

// --- the source database -----------------------------------------------------------------------

function serverUrl(database: string): string {
  const url = new URL(SERVER_URL!);
  url.pathname = `/${database}`;
  url.search = '';
  return url.toString();
}

async function onSource<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl(database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const sourceDatabases: string[] = [];

/**
 * Two routed tables (a serial key; a composite key that includes the routing column) and one
 * reference table without it. Rows for each value in `values`, a few with a null routing value.
 */
async function createSource(values: string[], bulk?: { value: string; rows: number }): Promise<string> {
  const name = `imp_src_${randomBytes(5).toString('hex')}`;
  await onSource('postgres', (c) => c.query(`CREATE DATABASE ${name}`));
  sourceDatabases.push(name);
  await onSource(name, async (c) => {
    await c.query(`CREATE TABLE customers (id serial PRIMARY KEY, tenant_id text, name text NOT NULL,
      meta jsonb, tags text[], joined date)`);
    await c.query(`CREATE TABLE orders (tenant_id text NOT NULL, id int NOT NULL, customer_id int,
      total numeric(10,2), note text, PRIMARY KEY (tenant_id, id))`);
    await c.query(`CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL)`);
    await c.query(`INSERT INTO countries VALUES ('fr', 'France'), ('de', 'Germany')`);
    for (const [i, value] of values.entries()) {
      for (let n = 0; n <= i + 1; n += 1) {
        await c.query(`INSERT INTO customers (tenant_id, name, meta, tags, joined) VALUES ($1, $2, $3, $4, $5)`, [
          value,
          `cust ${n} of ${value} 'quoted' ✓`,
          { n, nested: { v: value } },
          [`t${n}`, 'x "y"'],
          `2024-01-0${n + 1}`,
        ]);
      }
      for (let n = 1; n <= (i + 1) * 3; n += 1) {
        await c.query(`INSERT INTO orders VALUES ($1, $2, $3, $4, $5)`, [
          value,
          n,
          n % 2,
          (n * 10.25).toFixed(2),
          n % 3 ? null : `note ${n}`,
        ]);
      }
    }
    await c.query(`INSERT INTO customers (tenant_id, name) VALUES (NULL, 'orphan')`);
    // Enough rows for several cursor fetches (1,000) and INSERT batches (500) in one tenant.
    if (bulk) {
      await c.query(
        `INSERT INTO orders SELECT $1, g, g % 7, g * 1.5, 'bulk ' || g FROM generate_series(1000, 999 + $2::int) g`,
        [bulk.value, bulk.rows],
      );
    }
  });
  return name;
}

function connectionFor(database: string, password: string) {
  const url = new URL(SERVER_URL!);
  return {
    type: 'postgresql',
    host: url.hostname,
    port: Number(url.port || 5432),
    database,
    user: decodeURIComponent(url.username || 'postgres'),
    password,
  };
}

/** A table's rows as JSON, ordered, for a row-by-row comparison. */
async function sourceRows(database: string, table: string, value: string, dropRouting: boolean): Promise<unknown[]> {
  return onSource(database, async (c) => {
    const projection = dropRouting ? `to_jsonb(t) - 'tenant_id'` : 'to_jsonb(t)';
    const { rows } = await c.query<{ row: unknown }>(
      `SELECT ${projection} AS row FROM ${table} t WHERE tenant_id = $1 ORDER BY id`,
      [value],
    );
    return rows.map((r) => r.row);
  });
}

async function tenantRows(schema: string, table: string): Promise<unknown[]> {
  const rows = await platform.db.prisma.$queryRawUnsafe<{ row: unknown }[]>(
    `SELECT to_jsonb(t) AS row FROM "${schema}"."${table}" t ORDER BY id`,
  );
  return rows.map((r) => r.row);
}

// --- setup -----------------------------------------------------------------------------------

beforeAll(async () => {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  t = await bootPlatform(
    {
      requestTimeoutMs: 20_000,
      rateLimitEnabled: false,
      // 127.0.0.1 for the unreachable cases below even on the embedded default (no server there).
      dataImport: { ...testDataImportConfig(), allowedHosts: [...testDataImportConfig().allowedHosts, '127.0.0.1'] },
    },
    // debug: everything the import could log is captured and searched for the password.
    { logger: createLogger({ level: 'debug', destination }) },
  );
  platform = t.platform;
}, 120_000);

afterAll(async () => {
  await t?.close();
  if (hasServer) {
    for (const name of sourceDatabases) {
      await onSource('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    }
  }
});

async function createWorkspaceThroughApi(apiKey: string): Promise<string> {
  const name = uniqueSlug('ws').replaceAll('-', '_');
  const answer = await t.rest('/workspaces', { method: 'POST', token: apiKey, body: { name, database: 'PostgreSQL' } });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body.id as string;
}

async function workspaceColumns(workspaceId: string, apiKey: string): Promise<Record<string, string[]>> {
  const answer = await t.rest(`/workspaces/${workspaceId}/schema`, { token: apiKey });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const tables = answer.body.tables as { name: string; columns: { name: string }[] }[];
  return Object.fromEntries(tables.map((t) => [t.name, t.columns.map((c) => c.name)]));
}

// --- tests -----------------------------------------------------------------------------------

describe('data import: errors that need no source database', () => {
  it('answers a clear error for an unreachable source, an unknown workspace and another project', async () => {
    const { apiKey, projectId } = await signUp(t, 'imp');
    const workspaceId = await createWorkspace(projectId);
    const unreachable = {
      connection: {
        type: 'postgresql',
        host: '127.0.0.1',
        port: 1,
        database: 'nope',
        user: 'u',
        password: 'pw-unreachable',
      },
      routing_field: 'tenant_id',
    };
    const refused = await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
      method: 'POST',
      token: apiKey,
      body: unreachable,
    });
    expectRestError('tenantsdb', refused, 502, 'SOURCE_UNREACHABLE');
    expect(JSON.stringify(refused.body)).not.toContain('pw-unreachable');
    expect(logLines.join('')).not.toContain('pw-unreachable');

    const started = await t.rest(`/workspaces/${workspaceId}/import-data`, {
      method: 'POST',
      token: apiKey,
      body: unreachable,
    });
    expectRestError('tenantsdb', started, 502, 'SOURCE_UNREACHABLE');
    expect(await platform.db.prisma.dataImport.count({ where: { workspaceId } })).toBe(0);

    expectRestError(
      'tenantsdb',
      await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
        method: 'POST',
        token: apiKey,
        body: { ...unreachable, connection: { ...unreachable.connection, type: 'mysql' } },
      }),
      400,
      'VALIDATION_ERROR',
    );
    expectRestError(
      'tenantsdb',
      await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
        method: 'POST',
        token: apiKey,
        body: { ...unreachable, routing_field: 'tenant_id; drop table x' },
      }),
      400,
      'VALIDATION_ERROR',
    );

    const other = await signUp(t, 'imp');
    expectRestError(
      'tenantsdb',
      await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
        method: 'POST',
        token: other.apiKey,
        body: unreachable,
      }),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'tenantsdb',
      await t.rest(`/workspaces/${workspaceId}/import-data/status?import_id=imp_missing`, { token: apiKey }),
      404,
      'NOT_FOUND',
    );
    expectRestError(
      'tenantsdb',
      await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
        method: 'POST',
        token: null,
        body: unreachable,
      }),
      401,
      'UNAUTHORIZED',
    );
  });
});

describe.skipIf(!hasServer)('data import from a real source database (needs TEST_DATABASE_URL)', () => {
  it('analyzes the source: tables, row counts, routing values', async () => {
    const suffix = randomBytes(3).toString('hex');
    const values = [`acme-${suffix}`, `beta-${suffix}`, `gamma-${suffix}`];
    const source = await createSource(values);
    const { apiKey, projectId } = await signUp(t, 'imp');
    const workspaceId = await createWorkspace(projectId);
    const answer = await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
      method: 'POST',
      token: apiKey,
      body: { connection: connectionFor(source, 'pw-analyze'), routing_field: 'tenant_id' },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.success).toBe(true);
    expect(answer.body.tables).toEqual([
      { schema: 'public', name: 'countries', row_count: 2, has_routing_column: false },
      { schema: 'public', name: 'customers', row_count: 2 + 3 + 4 + 1, has_routing_column: true },
      { schema: 'public', name: 'orders', row_count: 3 + 6 + 9, has_routing_column: true },
    ]);
    expect(answer.body.routing_values).toEqual([
      { value: values[0], row_count: 2 + 3 },
      { value: values[1], row_count: 3 + 6 },
      { value: values[2], row_count: 4 + 9 },
    ]);
    expect(answer.body.tenants_to_create).toBe(3);
    expect(answer.body.routing_values_truncated).toBe(false);
    expect(answer.body.routing_values_limit).toBe(1000);
    expect(answer.body.rows_without_routing_value).toBe(1);

    const wrongDb = await t.rest(`/workspaces/${workspaceId}/import-data/analyze`, {
      method: 'POST',
      token: apiKey,
      body: { connection: connectionFor(`${source}_missing`, 'pw-analyze'), routing_field: 'tenant_id' },
    });
    // A missing database is answered like a closed port: the same code and message.
    expectRestError('tenantsdb', wrongDb, 502, 'SOURCE_UNREACHABLE');
    expect(wrongDb.body.error.message).not.toMatch(/does not exist/);
  });

  it('imports one tenant per value, row by row, drops the routing column, fails a bad value alone, stores no secret', async () => {
    const suffix = randomBytes(3).toString('hex');
    const good = [`acme-${suffix}`, `beta-${suffix}`, `gamma-${suffix}`];
    const bad = `Bad Value! ${suffix}`;
    const source = await createSource([...good, bad], { value: good[0]!, rows: 2500 });
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const { apiKey, projectId } = await signUp(t, 'imp');
    const workspaceId = await createWorkspace(projectId);

    const started = await t.rest(`/workspaces/${workspaceId}/import-data`, {
      method: 'POST',
      token: apiKey,
      body: {
        connection: connectionFor(source, password),
        routing_field: 'tenant_id',
        options: { drop_routing_column: true, create_tenants: true },
      },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.body.kind).toBe('data');
    expect(['pending', 'running', 'completed']).toContain(started.body.status);
    const importId = started.body.import_id as string;

    // The job payload holds a kv reference, never the password (readable in Redis under BullMQ).
    const redis = platform.kv.connection();
    if (redis) {
      const payload = await redis.hget(`${platform.kv.keyPrefix}bull:jobs:data-import-${importId}`, 'data');
      expect(payload).toBeTruthy();
      expect(payload).not.toContain(password);
      expect(JSON.parse(payload!).secretKey).toMatch(/^data-import:source:[0-9a-f]{48}$/);
    }

    const done = await waitForImport(workspaceId, importId, apiKey);
    expect(done.body.status).toBe('completed');
    expect(done.body.progress).toBe(100);
    expect(done.body.total_tenants).toBe(4);
    expect(done.body.completed_tenants).toBe(3);
    expect(done.body.failed_tenants).toBe(1);
    expect(done.body.progress_display).toBe('4/4 tenants');
    expect(done.body.rows_copied).toBe(2 + 3 + 2500 + 3 + 6 + 4 + 9);
    expect(done.body.failures).toEqual([expect.objectContaining({ routing_value: bad, code: 'VALIDATION_ERROR' })]);
    expect(done.body.options).toEqual({ drop_routing_column: true, create_tenants: true });

    for (const value of good) {
      const tenant = await platform.db.prisma.tenant.findUniqueOrThrow({ where: { slug: value } });
      expect(tenant.projectId).toBe(projectId);
      expect(tenant.status).toBe('active');
      for (const table of ['customers', 'orders']) {
        const expected = await sourceRows(source, table, value, true);
        expect(expected.length).toBeGreaterThan(0);
        expect(await tenantRows(tenant.schemaName, table)).toEqual(expected);
      }
      // The routing column is gone, the reference table (no routing column) was not copied.
      const columns = await platform.db.prisma.$queryRawUnsafe<{ column_name: string }[]>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 ORDER BY column_name`,
        tenant.schemaName,
      );
      expect(columns.map((c) => c.column_name)).not.toContain('tenant_id');
      const tables = await platform.db.prisma.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = 'countries'`,
        tenant.schemaName,
      );
      expect(tables[0]!.n).toBe(0);
      // Tables belong to the tenant's role; the serial key continues after the copied ids.
      const [owner] = await platform.db.prisma.$queryRawUnsafe<{ owner: string }[]>(
        `SELECT tableowner AS owner FROM pg_tables WHERE schemaname = $1 AND tablename = 'customers'`,
        tenant.schemaName,
      );
      expect(owner!.owner).toBe(tenant.dbRole);
      const [next] = await platform.db.prisma.$queryRawUnsafe<{ id: number }[]>(
        `INSERT INTO "${tenant.schemaName}".customers (name) VALUES ('new') RETURNING id`,
      );
      const maxId = Math.max(
        ...((await sourceRows(source, 'customers', value, true)) as { id: number }[]).map((r) => r.id),
      );
      expect(next!.id).toBeGreaterThan(maxId);
    }
    // The value that could not become a tenant left nothing behind.
    expect(await platform.db.prisma.tenant.count({ where: { slug: { contains: suffix, startsWith: 'bad' } } })).toBe(0);

    // Nothing secret in the row, the logs or kv.
    const row = await platform.db.prisma.dataImport.findUniqueOrThrow({ where: { id: importId } });
    expect(JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(password);
    expect(row.source).toEqual({
      type: 'postgresql',
      host: connectionFor(source, '').host,
      port: connectionFor(source, '').port,
      database: source,
      user: connectionFor(source, '').user,
      ssl: false,
    });
    expect(logLines.join('')).not.toContain(password);
    expect(logLines.some((l) => l.includes('data import finished'))).toBe(true);
    if (redis) {
      const payload = await redis.hget(`${platform.kv.keyPrefix}bull:jobs:data-import-${importId}`, 'data');
      if (payload) expect(await platform.kv.cache.get(JSON.parse(payload).secretKey as string)).toBeNull();
    }

    // GraphQL reads the same record.
    const graphql = await fetch(`${platform.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        query: `query($w: ID!, $id: ID!) { dataImport(workspaceId: $w, id: $id) { status completedTenants failedTenants rowsCopied } }`,
        variables: { w: workspaceId, id: importId },
      }),
    });
    const gql = (await graphql.json()) as { data: { dataImport: Record<string, unknown> } };
    expect(gql.data.dataImport).toEqual({
      status: 'completed',
      completedTenants: 3,
      failedTenants: 1,
      rowsCopied: 2527,
    });
  });

  it('import-full: schema into the workspace, routing column kept; create_tenants off fails every unknown tenant', async () => {
    const suffix = randomBytes(3).toString('hex');
    const values = [`one-${suffix}`, `two-${suffix}`, `three-${suffix}`];
    const source = await createSource(values);
    const { apiKey } = await signUp(t, 'imp');
    const workspaceId = await createWorkspaceThroughApi(apiKey);
    const connection = connectionFor(source, 'pw-full');

    const noTenants = await t.rest(`/workspaces/${workspaceId}/import-data`, {
      method: 'POST',
      token: apiKey,
      body: { connection, routing_field: 'tenant_id', options: { create_tenants: false } },
    });
    expect(noTenants.status, JSON.stringify(noTenants.body)).toBe(202);
    const refused = await waitForImport(workspaceId, noTenants.body.import_id as string, apiKey);
    expect(refused.body.status).toBe('failed');
    expect(refused.body.failed_tenants).toBe(3);
    expect(refused.body.failures.map((f: { code: string }) => f.code)).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    expect(await platform.db.prisma.tenant.count({ where: { slug: { in: values } } })).toBe(0);

    const full = await t.rest(`/workspaces/${workspaceId}/import-full`, {
      method: 'POST',
      token: apiKey,
      body: { connection, routing_field: 'tenant_id', options: { drop_routing_column: false } },
    });
    expect(full.status, JSON.stringify(full.body)).toBe(202);
    expect(full.body.kind).toBe('full');
    const done = await waitForImport(workspaceId, full.body.import_id as string, apiKey);
    expect(done.body.status, JSON.stringify(done.body)).toBe('completed');
    expect(done.body.completed_tenants).toBe(3);
    expect(done.body.options.workspace_schema_changes).toBeGreaterThanOrEqual(3);
    // The schema half went through the workspace's own import: its tables, routing column included.
    expect(await workspaceColumns(workspaceId, apiKey)).toEqual({
      countries: ['code', 'name'],
      customers: ['id', 'tenant_id', 'name', 'meta', 'tags', 'joined'],
      orders: ['tenant_id', 'id', 'customer_id', 'total', 'note'],
    });
    for (const value of values) {
      const tenant = await platform.db.prisma.tenant.findUniqueOrThrow({ where: { slug: value } });
      for (const table of ['customers', 'orders']) {
        expect(await tenantRows(tenant.schemaName, table)).toEqual(await sourceRows(source, table, value, false));
      }
    }

    // Another project cannot read the import.
    const other = await signUp(t, 'imp');
    expectRestError(
      'tenantsdb',
      await t.rest(`/workspaces/${workspaceId}/import-data/status?import_id=${full.body.import_id}`, {
        token: other.apiKey,
      }),
      404,
      'NOT_FOUND',
    );
  });

  it('import-full drops the routing column in the workspace and the tenants when asked', async () => {
    const value = `solo-${randomBytes(3).toString('hex')}`;
    const source = await createSource([value]);
    const { apiKey } = await signUp(t, 'imp');
    const workspaceId = await createWorkspaceThroughApi(apiKey);
    const full = await t.rest(`/workspaces/${workspaceId}/import-full`, {
      method: 'POST',
      token: apiKey,
      body: {
        connection: connectionFor(source, 'pw-drop'),
        routing_field: 'tenant_id',
        options: { drop_routing_column: true },
      },
    });
    expect(full.status, JSON.stringify(full.body)).toBe(202);
    const done = await waitForImport(workspaceId, full.body.import_id as string, apiKey);
    expect(done.body.status, JSON.stringify(done.body)).toBe('completed');
    const columns = await workspaceColumns(workspaceId, apiKey);
    expect(columns.customers).toEqual(['id', 'name', 'meta', 'tags', 'joined']);
    expect(columns.orders).toEqual(['id', 'customer_id', 'total', 'note']);
    const tenant = await platform.db.prisma.tenant.findUniqueOrThrow({ where: { slug: value } });
    for (const table of ['customers', 'orders']) {
      expect(await tenantRows(tenant.schemaName, table)).toEqual(await sourceRows(source, table, value, true));
    }
  });
});
