import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, usingRealServices, type RestAnswer, type TestPlatform } from './support/platform.js';

// A database login's password goes only to a caller who may write (write:tenants): a key with
// only read:tenants sees the connection with the password masked, over REST (GET /workspaces/{id},
// GET /tenants/{id}) and GraphQL alike; the tenant list shows no connection at all. On the
// embedded default there are no direct connections (connection null for everyone); the
// password checks run on real PostgreSQL.

const realPg = usingRealServices;

interface WorkspaceData {
  workspace: { connection: { password: string } | null };
}
const MASK = '********';

describe('connection secrets follow write:tenants', () => {
  let t: TestPlatform;
  let writeKey: string;
  let readKey: string;
  let workspace: string;
  let tenant: string;

  const ok = (answer: RestAnswer, status = 200) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };

  beforeAll(async () => {
    t = await bootPlatform();
    const signup = await t.rest('/signup', {
      method: 'POST',
      token: null,
      body: { email: `secrets-${uniqueSlug()}@example.com`, password: 'correct horse battery 42', project_name: 'S' },
    });
    writeKey = ok(signup, 201).api_key as string;
    readKey = ok(
      await t.rest('/apikeys', {
        method: 'POST',
        token: writeKey,
        body: { project_name: 'read only', scopes: ['read:tenants'] },
      }),
      201,
    ).key as string;

    workspace = uniqueSlug('sec').replaceAll('-', '_');
    ok(
      await t.rest('/workspaces', {
        method: 'POST',
        token: writeKey,
        body: { name: workspace, database: 'PostgreSQL' },
      }),
      201,
    );
    ok(
      await t.rest(`/workspaces/${workspace}/queries`, {
        method: 'POST',
        token: writeKey,
        body: { query: 'CREATE TABLE notes (id int PRIMARY KEY, body text)' },
      }),
    );
    const published = await t.graphql(
      `mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { blueprint } }`,
      { id: workspace },
      { token: writeKey },
    );
    expect(published.body.errors, JSON.stringify(published.body.errors)).toBeUndefined();
    tenant = uniqueSlug('sec');
    const created = ok(
      await t.rest('/tenants', {
        method: 'POST',
        token: writeKey,
        body: { tenant_id: tenant, databases: [{ blueprint: workspace, isolation_level: 1 }] },
      }),
      201,
    );
    if (realPg) expect(created.databases[0].connection.connection_string).not.toContain(MASK);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('GET /workspaces/{id}: the password for write:tenants, masked for read:tenants', async () => {
    const full = ok(await t.rest(`/workspaces/${workspace}`, { token: writeKey }));
    const masked = ok(await t.rest(`/workspaces/${workspace}`, { token: readKey }));
    if (!realPg) {
      expect(full.connection).toBeNull();
      expect(masked.connection).toBeNull();
      expect(masked.connection_string).toBeNull();
      return;
    }
    const password = full.connection.password as string;
    expect(password).toMatch(/^tdb_[0-9a-f]{32}$/);
    expect(full.connection_string).toContain(`:${password}@`);
    expect(full.message).toBeUndefined();
    // The revealed connection works; the masked one is the same apart from the password.
    const client = new pg.Client({ connectionString: full.connection_string });
    await client.connect();
    await client.end();

    expect(masked.connection).toEqual({ ...full.connection, password: MASK });
    expect(masked.connection_string).toBe(full.connection_string.replace(`:${password}@`, `:${MASK}@`));
    expect(masked.message).toMatch(/write:tenants/);
    expect(JSON.stringify(masked)).not.toContain(password);
  });

  it('GraphQL workspace query: the same rule', async () => {
    const query = `query ($id: String!) { workspace(id: $id) { connection { host port database user password } } }`;
    const full = await t.graphql<WorkspaceData>(query, { id: workspace }, { token: writeKey });
    const masked = await t.graphql<WorkspaceData>(query, { id: workspace }, { token: readKey });
    expect(masked.body.errors).toBeUndefined();
    if (!realPg) {
      expect(masked.body.data!.workspace.connection).toBeNull();
      return;
    }
    const password = full.body.data!.workspace.connection!.password;
    expect(password).not.toBe(MASK);
    expect(masked.body.data!.workspace.connection!.password).toBe(MASK);
    expect(JSON.stringify(masked.body)).not.toContain(password);
  });

  it('GET /tenants/{id} and TenantDatabase.connectionString: the same rule; the list shows none', async () => {
    const full = ok(await t.rest(`/tenants/${tenant}`, { token: writeKey }));
    const masked = ok(await t.rest(`/tenants/${tenant}`, { token: readKey }));
    const query = `query ($id: ID!) { tenant(id: $id) { databases { connectionString } } }`;
    const gqlFull = await t.graphql<{ tenant: { databases: { connectionString: string | null }[] } }>(
      query,
      { id: tenant },
      { token: writeKey },
    );
    const gqlMasked = await t.graphql<{ tenant: { databases: { connectionString: string | null }[] } }>(
      query,
      { id: tenant },
      { token: readKey },
    );
    expect(gqlMasked.body.errors).toBeUndefined();
    const list = ok(await t.rest('/tenants', { token: readKey }));
    const listed = (list.tenants as { tenant_id: string; databases: object[] }[]).find((x) => x.tenant_id === tenant)!;
    expect(listed.databases).toEqual([{ blueprint: workspace, database_type: 'PostgreSQL' }]);
    if (!realPg) {
      expect(masked.databases[0].connection.connection_string).toBeUndefined();
      expect(gqlMasked.body.data!.tenant.databases[0]!.connectionString).toBeNull();
      return;
    }
    const url = new URL(full.databases[0].connection.connection_string as string);
    expect(url.password).not.toBe(MASK);
    expect(url.password.length).toBeGreaterThan(8);
    const maskedUrl = new URL(masked.databases[0].connection.connection_string as string);
    expect(maskedUrl.password).toBe(MASK);
    expect(maskedUrl.username).toBe(url.username);
    expect(JSON.stringify(masked)).not.toContain(url.password);
    expect(new URL(gqlFull.body.data!.tenant.databases[0]!.connectionString!).password).toBe(url.password);
    expect(new URL(gqlMasked.body.data!.tenant.databases[0]!.connectionString!).password).toBe(MASK);
  });
});
