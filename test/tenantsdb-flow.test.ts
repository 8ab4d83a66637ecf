import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, usingRealServices, type RestAnswer, type TestPlatform } from './support/platform.js';
import { waitFor } from './support/rest.js';
import { signUp } from './support/tenants.js';

// The tenantsdb document's flow as a new user meets it, with only its documented routes
// (specs/tenantsdb-api.md) and the API key /signup hands out: no GraphQL, no publish step, no
// database access from the test. Workspace → DDL (one change reverted) → tenant from the
// blueprint → admin query on the tenant's blueprint database → deployments with and without a
// version → blueprints listed with where they are deployed.

describe('the tenantsdb flow over REST alone', () => {
  let t: TestPlatform;
  let key: string;

  const ok = (answer: RestAnswer, status = 200) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const workspaceQuery = async (workspace: string, query: string) =>
    ok(await t.rest(`/workspaces/${workspace}/queries`, { method: 'POST', token: key, body: { query } }));
  const adminQuery = async (body: Record<string, unknown>) =>
    ok(await t.rest('/admin/query', { method: 'POST', token: key, body: body }));
  const deploy = async (body: Record<string, unknown>) => {
    const queued = ok(await t.rest('/deployments', { method: 'POST', token: key, body: body }), 202);
    return waitFor(
      async () => {
        const state = ok(await t.rest(`/deployments/${queued.job_id}`, { token: key }));
        return ['pending', 'running'].includes(state.status) ? undefined : state;
      },
      `deployment ${queued.job_id} to finish`,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  };
  const blueprintNamed = async (name: string) =>
    ok(await t.rest('/blueprints', { token: key })).blueprints.find((b: { name: string }) => b.name === name);

  beforeAll(async () => {
    t = await bootPlatform();
    key = (await signUp(t, 'flow')).apiKey;
    expect(key).toMatch(/^tenantsdb_sk_/);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('workspace → DDL → tenant from the blueprint → admin query → deploy (next, named) → blueprints', async () => {
    const app = uniqueSlug('app');
    const created = ok(
      await t.rest('/workspaces', { method: 'POST', token: key, body: { name: app, database: 'PostgreSQL' } }),
      201,
    );
    expect(created).toMatchObject({ success: true, id: app, blueprint: app, database: 'PostgreSQL' });

    await workspaceQuery(app, 'CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL)');
    // A change made by mistake, reverted from the deploy queue: it never reaches a tenant.
    await workspaceQuery(app, 'CREATE TABLE scratch (id int)');
    const diff = ok(await t.rest(`/workspaces/${app}/diff`, { token: key }));
    const scratch = diff.changes.find((c: { statement: string }) => /scratch/.test(c.statement));
    expect(scratch).toMatchObject({ reversible: true });
    expect(
      ok(await t.rest(`/workspaces/${app}/diff/${scratch.ddl_id}/revert`, { method: 'POST', token: key, body: {} })),
    ).toMatchObject({
      ddl_id: scratch.ddl_id,
      status: 'reverted',
    });
    expect(
      ok(await t.rest(`/workspaces/${app}/diff`, { token: key })).changes.map(
        (c: { statement: string }) => c.statement,
      ),
    ).toEqual(['CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL)']);

    // Nothing was published: the tenant's creation publishes the workspace's schema as 1.0.
    const acme = uniqueSlug('acme');
    const tenant = ok(
      await t.rest('/tenants', {
        method: 'POST',
        token: key,
        body: { tenant_id: acme, databases: [{ blueprint: app, isolation_level: 1 }] },
      }),
      201,
    );
    expect(tenant).toMatchObject({
      success: true,
      tenant_id: acme,
      status: 'ready',
      databases: [
        {
          blueprint: app,
          database_type: 'PostgreSQL',
          isolation_level: 1,
          connection: { database: `${app}__${acme}` },
        },
      ],
    });
    expect(await blueprintNamed(app)).toMatchObject({ name: app, version: '1.0', deployed_to: [acme] });
    expect(ok(await t.rest(`/workspaces/${app}/diff`, { token: key })).count).toBe(0);

    // The admin query runs on the tenant's database from the blueprint, not on its own schema.
    const inserted = await adminQuery({
      tenant_id: acme,
      blueprint: app,
      database_type: 'PostgreSQL',
      query: "INSERT INTO accounts (name) VALUES ('alice') RETURNING name",
    });
    expect(inserted).toMatchObject({
      success: true,
      all_tenants: false,
      tenant_count: 1,
      succeeded: 1,
      results: [{ tenant_id: acme, status: 'success', columns: ['name'], rows: [['alice']], row_count: 1 }],
    });
    const tables = await adminQuery({
      tenant_id: acme,
      blueprint: app,
      // The system catalogs are closed to tenant SQL (sql-guard.ts): the table itself answers.
      query: `SELECT count(*)::int FROM accounts`,
    });
    expect(tables.results[0].rows).toEqual([[1]]);
    const ownSchema = await t.rest('/admin/query', {
      method: 'POST',
      token: key,
      body: { tenant_id: acme, query: 'SELECT name FROM accounts' },
    });
    expect(ownSchema.status, JSON.stringify(ownSchema.body)).toBe(400);
    expect(ownSchema.body.error.message).toMatch(/accounts/);
    const noSuch = await t.rest('/admin/query', {
      method: 'POST',
      token: key,
      body: { tenant_id: acme, blueprint: uniqueSlug('nope'), query: 'SELECT 1' },
    });
    expect(noSuch.status).toBe(404);

    // A deployment without a version publishes the pending change as the next version and applies it.
    await workspaceQuery(app, 'ALTER TABLE accounts ADD COLUMN email text');
    const next = await deploy({ blueprint_name: app, deploy_all: true });
    expect(next).toMatchObject({
      success: true,
      blueprint_id: app,
      version: '1.1',
      status: 'completed',
      total_tenants: 1,
      completed_tenants: 1,
      failed_tenants: 0,
    });
    expect(
      (await adminQuery({ tenant_id: acme, blueprint: app, query: 'SELECT name, email FROM accounts' })).results[0]
        .rows,
    ).toEqual([['alice', null]]);

    // A named version that does not exist yet (the document's "v3") is published as that version.
    await workspaceQuery(app, 'CREATE TABLE invoices (id serial PRIMARY KEY, account_id int REFERENCES accounts (id))');
    const named = await deploy({ blueprint_name: app, version: 'v3', deploy_all: true });
    expect(named).toMatchObject({ version: '3.0', status: 'completed', completed_tenants: 1 });
    // Versions only go forward; nothing pending means nothing new to publish.
    const backwards = await t.rest('/deployments', {
      method: 'POST',
      token: key,
      body: { blueprint_name: app, version: '2.0', deploy_all: true },
    });
    expect(backwards.status, JSON.stringify(backwards.body)).toBe(409);
    const unchanged = await t.rest('/deployments', {
      method: 'POST',
      token: key,
      body: { blueprint_name: app, version: '4.0', deploy_all: true },
    });
    expect(unchanged.status, JSON.stringify(unchanged.body)).toBe(409);
    // No version and nothing pending: the latest again, already in place.
    expect(await deploy({ blueprint_name: app, deploy_all: true })).toMatchObject({
      version: '3.0',
      status: 'completed',
      skipped_tenants: 1,
    });

    // A tenant created now starts from the latest version; nothing new is published for it.
    const globex = uniqueSlug('globex');
    ok(
      await t.rest('/tenants', {
        method: 'POST',
        token: key,
        body: { tenant_id: globex, databases: [{ blueprint: app }] },
      }),
      201,
    );
    const everywhere = await adminQuery({ all_tenants: true, blueprint: app, query: 'SELECT count(*) FROM invoices' });
    expect(everywhere).toMatchObject({ all_tenants: true, tenant_count: 2, succeeded: 2, failed: 0 });
    expect(everywhere.results.map((r: { tenant_id: string }) => r.tenant_id).sort()).toEqual([acme, globex].sort());

    const versions = ok(await t.rest(`/blueprints/${app}/versions`, { token: key }));
    expect(versions.versions.map((v: { version: string }) => v.version)).toEqual(['3.0', '1.1', '1.0']);
    expect(versions.versions[0].deployed_to).toEqual([acme, globex].sort());
    expect(versions.versions[1].changes).toEqual(['ALTER TABLE accounts ADD COLUMN email text']);
    expect(ok(await t.rest('/blueprints', { token: key })).blueprints).toEqual([
      {
        id: expect.stringMatching(new RegExp(`_${app}_v3_0$`)),
        name: app,
        version: '3.0',
        workspace_id: expect.stringMatching(new RegExp(`_${app}_dev$`)),
        database_type: 'PostgreSQL',
        project_id: expect.any(String),
        created_at: expect.any(Number),
        deployed_to: [acme, globex].sort(),
      },
    ]);
    const history = ok(await t.rest(`/tenants/${acme}/deployments`, { token: key }));
    expect(history.deployments.map((d: { version: string }) => d.version)).toEqual(['3.0', '3.0', '1.1']);
  }, 120_000);

  it('a first deployment publishes 1.0 with no tenants yet; a refused tenant creation publishes nothing', async () => {
    const shop = uniqueSlug('shop');
    ok(await t.rest('/workspaces', { method: 'POST', token: key, body: { name: shop, database: 'PostgreSQL' } }), 201);
    await workspaceQuery(shop, 'CREATE TABLE orders (id serial PRIMARY KEY)');
    expect(await deploy({ blueprint_name: shop, version: '1.0', deploy_all: true })).toMatchObject({
      version: '1.0',
      status: 'completed',
      total_tenants: 0,
    });
    expect(await blueprintNamed(shop)).toMatchObject({ version: '1.0', deployed_to: null });

    // Planned before anything is written: the unknown blueprint refuses the whole request.
    const draft = uniqueSlug('draft');
    ok(await t.rest('/workspaces', { method: 'POST', token: key, body: { name: draft, database: 'PostgreSQL' } }), 201);
    await workspaceQuery(draft, 'CREATE TABLE notes (id int)');
    const tenantId = uniqueSlug('t');
    const refused = await t.rest('/tenants', {
      method: 'POST',
      token: key,
      body: {
        tenant_id: tenantId,
        databases: [{ blueprint: draft }, { blueprint: uniqueSlug('missing') }],
      },
    });
    expect(refused.status, JSON.stringify(refused.body)).toBe(404);
    expect(await blueprintNamed(draft)).toBeUndefined();
    expect((await t.rest(`/tenants/${tenantId}`, { token: key })).status).toBe(404);
    expect(ok(await t.rest(`/workspaces/${draft}/diff`, { token: key })).count).toBe(1);

    // Another project cannot deploy, publish or query any of it.
    const other = (await signUp(t, 'other')).apiKey;
    const foreign = await t.rest('/deployments', {
      method: 'POST',
      token: other,
      body: { blueprint_name: draft, deploy_all: true },
    });
    expect(foreign.status).toBe(404);
    expect(await blueprintNamed(draft)).toBeUndefined();
  }, 60_000);

  it('requests racing to publish the same workspace settle on one version', async () => {
    const rush = uniqueSlug('rush');
    ok(await t.rest('/workspaces', { method: 'POST', token: key, body: { name: rush, database: 'PostgreSQL' } }), 201);
    await workspaceQuery(rush, 'CREATE TABLE items (id serial PRIMARY KEY)');
    const [one, two] = [uniqueSlug('r1'), uniqueSlug('r2')];
    const tenants = await Promise.all([
      t.rest('/tenants', { method: 'POST', token: key, body: { tenant_id: one, databases: [{ blueprint: rush }] } }),
      t.rest('/tenants', { method: 'POST', token: key, body: { tenant_id: two, databases: [{ blueprint: rush }] } }),
    ]);
    for (const answer of tenants) ok(answer, 201);
    const versionsOf = async () =>
      ok(await t.rest(`/blueprints/${rush}/versions`, { token: key })).versions.map(
        (v: { version: string }) => v.version,
      );
    expect(await versionsOf()).toEqual(['1.0']);

    await workspaceQuery(rush, 'ALTER TABLE items ADD COLUMN label text');
    const deployments = await Promise.all([
      t.rest('/deployments', { method: 'POST', token: key, body: { blueprint_name: rush, deploy_all: true } }),
      t.rest('/deployments', { method: 'POST', token: key, body: { blueprint_name: rush, deploy_all: true } }),
    ]);
    expect(deployments.map((d) => ok(d, 202).version)).toEqual(['1.1', '1.1']);
    expect(await versionsOf()).toEqual(['1.1', '1.0']);
  }, 120_000);

  // Level 2 needs a server that can hold another database: real PostgreSQL only (the embedded one
  // refuses it, as test/deployments.test.ts checks).
  it.runIf(usingRealServices)(
    'the admin query reaches a dedicated (level 2) blueprint database too',
    async () => {
      const crm = uniqueSlug('crm');
      ok(await t.rest('/workspaces', { method: 'POST', token: key, body: { name: crm, database: 'PostgreSQL' } }), 201);
      await workspaceQuery(crm, 'CREATE TABLE contacts (id serial PRIMARY KEY, email text)');
      const initech = uniqueSlug('initech');
      const created = ok(
        await t.rest('/tenants', {
          method: 'POST',
          token: key,
          body: { tenant_id: initech, databases: [{ blueprint: crm, isolation_level: 2 }] },
        }),
        201,
      );
      expect(created.databases[0]).toMatchObject({ blueprint: crm, isolation_level: 2 });
      const answer = await adminQuery({
        tenant_id: initech,
        blueprint: crm,
        query: "INSERT INTO contacts (email) VALUES ('a@initech.example') RETURNING current_database()::text, email",
      });
      expect(answer.results[0]).toMatchObject({
        status: 'success',
        rows: [[created.databases[0].connection.database, 'a@initech.example']],
      });
      ok(await t.rest(`/tenants/${initech}?hard=true`, { token: key, method: 'DELETE' }));
    },
    120_000,
  );

  it('health reports the database connections in the documented shapes', async () => {
    const detailed = ok(await t.rest('/api/health/detailed', { token: t.operatorKey }));
    const status = ok(await t.rest('/api/v1/status', { token: t.operatorKey }));
    const connections = detailed.data.components.database.connections;
    const pool = status.data.components.database.connection_pool;
    if (usingRealServices) {
      expect(connections).toEqual({ active: expect.any(Number), idle: expect.any(Number), max: 5 });
      expect(pool.total).toBe(pool.active + pool.idle);
    } else {
      // The embedded database is one in-process connection, busy or not at the moment it is read
      // (the health check's own parts run side by side).
      expect(connections).toEqual({ active: expect.any(Number), idle: expect.any(Number), max: 1 });
      expect(connections.active + connections.idle).toBe(1);
      expect([0, 1]).toContain(connections.active);
      expect(pool).toEqual({ active: expect.any(Number), idle: expect.any(Number), total: 1 });
    }
  });
});
