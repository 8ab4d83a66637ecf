import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareVersions,
  splitStatements,
} from '../subgraphs/tenancy/services/blueprints/tenant-databases-blueprint.js';
import { bootPlatform, uniqueSlug, usingRealServices, type TestPlatform, type RestAnswer } from './support/platform.js';
import { signUp } from './support/tenants.js';
import { waitFor } from './support/rest.js';

// Blueprints, tenant databases made from them, and deployments, end to end through the real
// gateway in tenantsdb's documented shapes: workspace → DDL → publish (1.0, 1.1, …) → tenants with
// a `<blueprint>__<tenant>` database → a deployment job applying the new version to each tenant in
// its own transaction; a tampered tenant fails alone, a re-run skips, a canary stops the rollout.
// On real PostgreSQL the returned connection string works with a plain pg client and sees only
// its own database.

describe('blueprints, tenant databases and deployments through the real gateway', () => {
  let t: TestPlatform;
  let key: string;

  const ok = (answer: RestAnswer, status = 200) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const sql = <T>(query: string, ...params: unknown[]) => t.platform.db.prisma.$queryRawUnsafe<T[]>(query, ...params);
  const tablesIn = async (schema: string) =>
    (
      await sql<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        schema,
      )
    ).map((r) => r.table_name);
  const schemaOf = async (slug: string, blueprint: string) =>
    (
      await sql<{ schema_name: string }>(
        `SELECT d.schema_name FROM tenancy.tenant_databases d JOIN tenancy.tenants t ON t.id = d.tenant_id
          JOIN tenancy.blueprints b ON b.id = d.blueprint_id WHERE t.slug = $1 AND b.name = $2`,
        slug,
        blueprint,
      )
    )[0]!.schema_name;

  const workspaceDdl = async (workspace: string, query: string) =>
    ok(await t.rest(`/workspaces/${workspace}/queries`, { token: key, method: 'POST', body: { query } }));

  const publish = async (workspace: string) => {
    const { body } = await t.graphql<{ publishBlueprint: { blueprint: string; version: { version: string } } }>(
      `mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { blueprint version { version statements checksum } } }`,
      { id: workspace },
      { token: key },
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data!.publishBlueprint;
  };

  const waitForDeployment = (id: string) =>
    waitFor(
      async () => {
        const body = ok(await t.rest(`/deployments/${id}`, { token: key }));
        return ['pending', 'running'].includes(body.status) ? undefined : body;
      },
      `deployment ${id} to finish`,
      { intervalMs: 100 },
    );

  const createTenant = async (slug: string, blueprint: string) =>
    ok(
      await t.rest('/tenants', {
        token: key,
        method: 'POST',
        body: { tenant_id: slug, databases: [{ blueprint, isolation_level: 1 }] },
      }),
      201,
    );

  beforeAll(async () => {
    t = await bootPlatform();
    key = (await signUp(t, 'owner')).apiKey;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('workspace → publish → tenant databases → deployment, failing tenant alone, idempotent re-run, canary stop', async () => {
    const name = uniqueSlug('app');
    ok(await t.rest('/workspaces', { token: key, method: 'POST', body: { name, database: 'PostgreSQL' } }), 201);
    await workspaceDdl(name, 'CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL)');

    const first = await publish(name);
    expect(first).toMatchObject({ blueprint: name, version: { version: '1.0' } });
    // Nothing new since 1.0: no empty version.
    const again = await t.graphql(
      `mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { blueprint } }`,
      { id: name },
      { token: key },
    );
    expect(again.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    const listed = ok(await t.rest('/blueprints', { token: key }));
    expect(listed).toEqual({
      success: true,
      blueprints: [
        {
          id: expect.stringMatching(new RegExp(`_${name}_v1_0$`)),
          name,
          version: '1.0',
          workspace_id: expect.stringMatching(new RegExp(`_${name}_dev$`)),
          database_type: 'PostgreSQL',
          project_id: expect.any(String),
          created_at: expect.any(Number),
          deployed_to: null,
        },
      ],
    });

    const [a, b, c] = [uniqueSlug('ta'), uniqueSlug('tb'), uniqueSlug('tc')];
    const createdA = await createTenant(a, name);
    expect(createdA).toMatchObject({
      success: true,
      tenant_id: a,
      status: 'ready',
      databases: [
        {
          blueprint: name,
          database_type: 'PostgreSQL',
          isolation_level: 1,
          connection: { database: `${name}__${a}` },
        },
      ],
    });
    await createTenant(b, name);
    await createTenant(c, name);
    const [schemaA, schemaB, schemaC] = [await schemaOf(a, name), await schemaOf(b, name), await schemaOf(c, name)];
    expect(await tablesIn(schemaA)).toEqual(['accounts']);

    // Unknown blueprint: NOT_FOUND and no tenant.
    const missing = uniqueSlug('tm');
    expect(
      (
        await t.rest('/tenants', {
          token: key,
          method: 'POST',
          body: { tenant_id: missing, databases: [{ blueprint: 'nope' }] },
        })
      ).status,
    ).toBe(404);
    expect(await sql(`SELECT id FROM tenancy.tenants WHERE slug = $1`, missing)).toEqual([]);

    const tenantA = ok(await t.rest(`/tenants/${a}`, { token: key }));
    expect(tenantA.databases).toHaveLength(1);
    expect(
      ok(await t.rest('/tenants', { token: key })).tenants.find((x: { tenant_id: string }) => x.tenant_id === a)
        .databases,
    ).toEqual([{ blueprint: name, database_type: 'PostgreSQL' }]);
    if (usingRealServices) {
      const url = tenantA.databases[0].connection.connection_string as string;
      expect(url).toMatch(/^postgres(ql)?:\/\/tenant_db_[0-9a-f]+:tdb_[0-9a-f]+@/);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`INSERT INTO accounts (name) VALUES ('alice')`);
        expect((await client.query(`SELECT name FROM accounts`)).rows).toEqual([{ name: 'alice' }]);
        await expect(client.query(`SELECT * FROM "${schemaB}".accounts`)).rejects.toThrow(/permission denied/);
        await expect(client.query(`SELECT * FROM tenancy.tenants`)).rejects.toThrow(/permission denied/);
      } finally {
        await client.end();
      }
    } else {
      expect(tenantA.databases[0].connection.connection_string).toBeUndefined();
    }

    // Tenant C's database was changed by hand: the next version's CREATE TABLE fails there only.
    await t.platform.db.prisma.$executeRawUnsafe(`CREATE TABLE "${schemaC}".invoices (id int)`);
    await workspaceDdl(
      name,
      'CREATE TABLE invoices (id serial PRIMARY KEY, account_id int REFERENCES accounts (id), amount numeric NOT NULL)',
    );
    expect((await publish(name)).version.version).toBe('1.1');

    const queued = ok(
      await t.rest('/deployments', {
        token: key,
        method: 'POST',
        body: { blueprint_name: name, version: '1.1', deploy_all: true },
      }),
      202,
    );
    expect(queued).toMatchObject({
      job_id: expect.stringMatching(/^dep_/),
      blueprint_id: name,
      version: '1.1',
      total_tenants: 3,
    });
    const done = await waitForDeployment(queued.job_id);
    expect(done).toMatchObject({
      success: true,
      status: 'failed',
      progress: 100,
      progress_display: '100%',
      total_tenants: 3,
      completed_tenants: 2,
      failed_tenants: 1,
      skipped_tenants: 0,
    });
    const byTenant = Object.fromEntries(done.tenants.map((x: { tenant_id: string }) => [x.tenant_id, x]));
    expect(byTenant[a]).toMatchObject({ status: 'completed', error: null });
    expect(byTenant[b]).toMatchObject({ status: 'completed' });
    expect(byTenant[c]).toMatchObject({ status: 'failed', error: expect.stringMatching(/already exists/) });
    expect(await tablesIn(schemaA)).toEqual(['accounts', 'invoices']);
    expect(await tablesIn(schemaB)).toEqual(['accounts', 'invoices']);
    // C's transaction rolled back whole: still on 1.0 with only the hand-made table.
    const cColumns = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'invoices'`,
      schemaC,
    );
    expect(cColumns[0]!.n).toBe(1);

    const historyA = ok(await t.rest(`/tenants/${a}/deployments`, { token: key }));
    expect(historyA).toMatchObject({
      tenant_id: a,
      count: 1,
      deployments: [{ job_id: queued.job_id, blueprint_id: name, version: '1.1', status: 'completed' }],
    });

    // Re-run: A and B are at 1.1 already (skipped), C fails again.
    const rerun = ok(
      await t.rest('/deployments', {
        token: key,
        method: 'POST',
        body: { blueprint_name: name, version: '1.1', deploy_all: true },
      }),
      202,
    );
    expect(await waitForDeployment(rerun.job_id)).toMatchObject({
      completed_tenants: 2,
      skipped_tenants: 2,
      failed_tenants: 1,
    });

    const listedDeployments = ok(await t.rest('/deployments', { token: key }));
    expect(listedDeployments.count).toBe(2);
    expect(listedDeployments.jobs[0]).toMatchObject({
      job_id: rerun.job_id,
      blueprint_id: name,
      progress_display: '100%',
    });

    // Canary: C first; its failure reaches the threshold, so A and B are not touched.
    await workspaceDdl(name, 'ALTER TABLE accounts ADD COLUMN email text');
    expect((await publish(name)).version.version).toBe('1.2');
    const canary = ok(
      await t.rest('/deployments', {
        token: key,
        method: 'POST',
        body: { blueprint_name: name, deploy_all: true, canary_tenant_ids: [c], failure_threshold: 1 },
      }),
      202,
    );
    const stopped = await waitForDeployment(canary.job_id);
    expect(stopped).toMatchObject({ version: '1.2', status: 'stopped', failed_tenants: 1, completed_tenants: 0 });
    expect(stopped.tenants.filter((x: { status: string }) => x.status === 'pending')).toHaveLength(2);
    const versionsOf = async () =>
      Object.fromEntries(
        (
          await sql<{ slug: string; version: string }>(
            `SELECT t.slug, d.version FROM tenancy.tenant_databases d JOIN tenancy.tenants t ON t.id = d.tenant_id WHERE t.slug = ANY($1::text[])`,
            [a, b, c],
          )
        ).map((r) => [r.slug, r.version]),
      );
    expect(await versionsOf()).toEqual({ [a]: '1.1', [b]: '1.1', [c]: '1.0' });

    // Without the canary, the rest goes to 1.2.
    const rollout = ok(
      await t.rest('/deployments', { token: key, method: 'POST', body: { blueprint_name: name, tenant_ids: [a, b] } }),
      202,
    );
    expect(await waitForDeployment(rollout.job_id)).toMatchObject({ status: 'completed', completed_tenants: 2 });
    expect(await versionsOf()).toEqual({ [a]: '1.2', [b]: '1.2', [c]: '1.0' });

    // The same through GraphQL directly.
    const { body: gql } = await t.graphql<{
      deployment: { status: string; progress: number; targets: { tenantSlug: string; status: string }[] };
      tenant: { databases: { blueprint: string; version: string; isolationLevel: number }[] };
    }>(
      `query ($id: ID!, $tenant: ID!) {
        deployment(id: $id) { status progress targets { tenantSlug status } }
        tenant(id: $tenant) { databases { blueprint version isolationLevel } }
      }`,
      { id: rollout.job_id, tenant: a },
      { token: key },
    );
    expect(gql.errors).toBeUndefined();
    expect(gql.data!.deployment.status).toBe('completed');
    expect(gql.data!.deployment.progress).toBe(100);
    expect(gql.data!.deployment.targets.map((x) => x.tenantSlug).sort()).toEqual([a, b].sort());
    expect(gql.data!.tenant.databases).toEqual([{ blueprint: name, version: '1.2', isolationLevel: 1 }]);

    const versions = ok(await t.rest(`/blueprints/${name}/versions`, { token: key }));
    expect(versions.versions.map((v: { version: string }) => v.version)).toEqual(['1.2', '1.1', '1.0']);
    expect(versions.versions[0]).toMatchObject({
      changes: ['ALTER TABLE accounts ADD COLUMN email text'],
      deployed_to: [a, b].sort(),
    });
    expect(versions.versions[2].deployed_to).toEqual([c]);
    const schema = ok(await t.rest(`/blueprints/${name}`, { token: key }));
    expect(schema).toMatchObject({
      name,
      version: '1.2',
      deployed_to: [a, b, c].sort(),
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(schema.schema.ddl).toMatch(/CREATE TABLE .*invoices/);

    // Another project sees none of it.
    const other = (await signUp(t, 'other')).apiKey;
    expect(ok(await t.rest('/blueprints', { token: other })).blueprints).toEqual([]);
    expect((await t.rest(`/deployments/${rollout.job_id}`, { token: other })).status).toBe(404);
    expect(
      (await t.rest('/deployments', { method: 'POST', token: other, body: { blueprint_name: name, deploy_all: true } }))
        .status,
    ).toBe(404);

    // Hard delete takes the tenant's blueprint database and its login role with it.
    const [roleA] = await sql<{ login_role: string }>(
      `SELECT login_role FROM tenancy.tenant_databases WHERE schema_name = $1`,
      schemaA,
    );
    ok(await t.rest(`/tenants/${a}?hard=true`, { token: key, method: 'DELETE' }));
    expect(await tablesIn(schemaA)).toEqual([]);
    expect(await sql(`SELECT 1 FROM pg_roles WHERE rolname = $1`, roleA!.login_role)).toEqual([]);
  });

  it('isolation level 2: a database of its own (real PostgreSQL), deployed like the others; refused on the embedded database', async () => {
    const name = uniqueSlug('ded');
    ok(await t.rest('/workspaces', { token: key, method: 'POST', body: { name, database: 'PostgreSQL' } }), 201);
    await workspaceDdl(name, 'CREATE TABLE notes (id serial PRIMARY KEY, body text)');
    await publish(name);
    const slug = uniqueSlug('td');
    const body = { tenant_id: slug, databases: [{ blueprint: name, isolation_level: 2 }] };
    if (!usingRealServices) {
      const refused = await t.rest('/tenants', { token: key, method: 'POST', body });
      expect(refused.status, JSON.stringify(refused.body)).toBe(501);
      expect(refused.body).toMatchObject({ success: false, error: { code: 'NOT_CONFIGURED' } });
      expect(await sql(`SELECT id FROM tenancy.tenants WHERE slug = $1`, slug)).toEqual([]);
      return;
    }
    const created = ok(await t.rest('/tenants', { token: key, method: 'POST', body }), 201);
    const database = created.databases[0].connection.database as string;
    expect(created.databases[0]).toMatchObject({ blueprint: name, isolation_level: 2 });
    const url = created.databases[0].connection.connection_string as string;
    expect(new URL(url).pathname).toBe(`/${database}`);
    const connect = async <T>(fn: (c: pg.Client) => Promise<T>) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end();
      }
    };
    await connect(async (c) => {
      await c.query(`INSERT INTO notes (body) VALUES ('hello')`);
      expect((await c.query('SELECT body FROM notes')).rows).toEqual([{ body: 'hello' }]);
    });
    // Elsewhere on the server it cannot even connect: PUBLIC has no CONNECT on the platform's
    // database once tenant sessions have hardened it (tenant-session.ts).
    const platformDb = new URL(process.env.TEST_DATABASE_URL!).pathname.slice(1);
    const elsewhere = new URL(url);
    elsewhere.pathname = `/${platformDb}`;
    const outsider = new pg.Client({ connectionString: elsewhere.toString() });
    outsider.on('error', () => undefined);
    await expect(outsider.connect()).rejects.toMatchObject({ code: '42501' });
    await outsider.end().catch(() => undefined);

    await workspaceDdl(name, 'ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false');
    await publish(name);
    const queued = ok(
      await t.rest('/deployments', { token: key, method: 'POST', body: { blueprint_name: name, deploy_all: true } }),
      202,
    );
    expect(await waitForDeployment(queued.job_id)).toMatchObject({ status: 'completed', completed_tenants: 1 });
    await connect(async (c) => {
      expect((await c.query('SELECT body, pinned FROM notes')).rows).toEqual([{ body: 'hello', pinned: false }]);
    });

    ok(await t.rest(`/tenants/${slug}?hard=true`, { token: key, method: 'DELETE' }));
    expect(await sql(`SELECT 1 FROM pg_database WHERE datname = $1`, database)).toEqual([]);
  });

  it('compares versions numerically and splits a schema script with PostgreSQL’s parser', async () => {
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('v3', '3.0')).toBe(0);
    expect(compareVersions('1.0', '1.1')).toBeLessThan(0);
    expect(() => compareVersions('latest', '1.0')).toThrow(/Invalid version/);
    const script =
      'CREATE TABLE a (id int);\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;\nCREATE INDEX a_id ON a (id);\n';
    expect(await splitStatements(script)).toEqual([
      'CREATE TABLE a (id int)',
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$',
      'CREATE INDEX a_id ON a (id)',
    ]);
  });
});
