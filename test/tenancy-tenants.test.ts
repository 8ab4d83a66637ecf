import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, type TestPlatform, type RestAnswer } from './support/platform.js';
import { ISO_TIMESTAMP } from './support/rest.js';

// Tenant creation and lifecycle end to end through the real gateway: core-platform's
// /api/tenants and tenantsdb's /tenants in their documented shapes, the all-or-nothing creation
// (schema, role, baseline, extensions, admin user through identity), usage figures from their
// owners, and suspension enforced at the gateway.

const PASSWORD = 'Tenant-Admin-Passphrase-9';
const iso = expect.stringMatching(ISO_TIMESTAMP);

function coreError(answer: RestAnswer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ status: 'error', error: { code } });
}

function tenantsdbError(answer: RestAnswer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ success: false, error: { code } });
}

/** A core-platform create body for a fresh tenant. */
function tenantBody(overrides: Record<string, unknown> = {}, admin: Record<string, unknown> = {}) {
  const slug = uniqueSlug('acme');
  const schema = slug.replaceAll('-', '_');
  return {
    tenant: {
      name: `Acme ${slug}`,
      schema_name: schema,
      domain: `${slug}.example.com`,
      settings: {
        timezone: 'America/New_York',
        currency: 'USD',
        locale: 'en-US',
        features: { advanced_analytics: true, custom_integrations: false },
      },
      admin_user: { email: `admin-${slug}@example.com`, name: 'John Admin', password: PASSWORD, ...admin },
      limits: { users: 1000, storage_gb: 100, api_calls_per_day: 100000 },
      ...overrides,
    },
  };
}

describe('tenant creation and lifecycle through the real gateway', () => {
  let t: TestPlatform;

  const sql = <T>(query: string, ...params: unknown[]) => t.platform.db.prisma.$queryRawUnsafe<T[]>(query, ...params);
  const schemaExists = async (schema: string) =>
    (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, schema))[0]!.n === 1;
  const roles = async () =>
    new Set(
      (await sql<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'tenant\\_%'`)).map(
        (r) => r.rolname,
      ),
    );

  const create = async (body = tenantBody()) => {
    const answer = await t.rest('/api/tenants', { method: 'POST', body });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return { answer, body };
  };

  const login = async (tenantId: string, email: string): Promise<string> => {
    const { body } = await t.graphql<{ login: { accessToken: string } }>(
      `mutation ($email: String!, $password: String!, $tenantId: ID) {
        login(email: $email, password: $password, tenantId: $tenantId) { accessToken }
      }`,
      { email, password: PASSWORD, tenantId },
      { token: null },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.login.accessToken;
  };

  beforeAll(async () => {
    t = await bootPlatform();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('POST /api/tenants creates everything and answers the documented shape', async () => {
    const body = tenantBody({ extensions: ['pgcrypto', 'no_such_extension_xyz'] });
    const { answer } = await create(body);
    expect(answer.body).toEqual({
      status: 'success',
      data: {
        tenant: {
          id: expect.stringMatching(/^ten_[0-9a-f]+$/),
          name: body.tenant.name,
          schema_name: body.tenant.schema_name,
          domain: body.tenant.domain,
          status: 'active',
          created_at: iso,
        },
        admin_user: {
          id: expect.stringMatching(/^usr_/),
          email: body.tenant.admin_user.email,
          name: 'John Admin',
          role: 'tenant_admin',
        },
        database: {
          schema_created: true,
          migrations_applied: true,
          extensions_enabled: expect.any(Array),
          extensions_missing: expect.arrayContaining(['no_such_extension_xyz']),
        },
      },
    });
    const { extensions_enabled: enabled, extensions_missing: missing } = answer.body.data.database;
    // Whatever is claimed enabled really is in pg_extension; nothing is both.
    const present = (await sql<{ extname: string }>(`SELECT extname FROM pg_extension`)).map((r) => r.extname);
    for (const name of enabled) expect(present).toContain(name);
    expect([...enabled, ...missing].sort()).toEqual(['no_such_extension_xyz', 'pgcrypto'].sort());
    expect(enabled).not.toContain('no_such_extension_xyz');

    const schema = body.tenant.schema_name;
    // The baseline ran: the documented users table, owned by the tenant's role.
    const columns = await sql<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' ORDER BY column_name`,
      schema,
    );
    expect(columns.map((c) => c.column_name)).toEqual(['created_at', 'email', 'id']);
    const [row] = await sql<{
      db_role: string;
      status: string;
      admin_user_id: string;
      settings: unknown;
      features: unknown;
    }>(
      `SELECT db_role, status, admin_user_id, settings, features FROM tenancy.tenants WHERE id = $1`,
      answer.body.data.tenant.id,
    );
    expect(row).toMatchObject({
      status: 'active',
      admin_user_id: answer.body.data.admin_user.id,
      settings: { timezone: 'America/New_York', currency: 'USD', locale: 'en-US' },
      features: { advanced_analytics: true, custom_integrations: false },
    });
    const [owner] = await sql<{ owner: string }>(
      `SELECT tableowner AS owner FROM pg_tables WHERE schemaname = $1 AND tablename = 'users'`,
      schema,
    );
    expect(owner!.owner).toBe(row!.db_role);
    // The admin is a real identity user with the admin role and can sign in.
    const token = await login(answer.body.data.tenant.id, body.tenant.admin_user.email);
    expect(token).toEqual(expect.any(String));
  });

  it('GET /api/tenants/{id} shows usage: users from identity, storage from the catalog, limits', async () => {
    const { answer, body } = await create();
    const tenantId = answer.body.data.tenant.id as string;
    // Two more users in the tenant (the admin registers them): 3 in all.
    const adminToken = await login(tenantId, body.tenant.admin_user.email);
    for (const n of [1, 2]) {
      const { body: reg } = await t.graphql(
        `mutation ($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
          register(email: $email, password: $password, name: $name, tenantId: $tenantId) { user { id } }
        }`,
        { email: `user${n}-${uniqueSlug()}@example.com`, password: PASSWORD, name: `User ${n}`, tenantId },
        { token: adminToken },
      );
      expect(reg.errors).toBeUndefined();
    }
    const got = await t.rest(`/api/tenants/${tenantId}`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(got.body).toEqual({
      status: 'success',
      data: {
        tenant: {
          id: tenantId,
          name: body.tenant.name,
          schema_name: body.tenant.schema_name,
          domain: body.tenant.domain,
          status: 'active',
          created_at: iso,
          updated_at: iso,
        },
        usage: {
          users: { current: 3, limit: 1000, usage_percent: 0.3 },
          storage: { current_gb: expect.any(Number), limit_gb: 100, usage_percent: expect.any(Number) },
          // The admin's two register calls, metered by the gateway (the operator's are no tenant's).
          api_calls: { current_daily: 2, limit_daily: 100000, usage_percent: 0 },
        },
        features: {
          multi_tenancy: true,
          gdpr_compliance: true,
          advanced_analytics: true,
          custom_integrations: false,
        },
      },
    });
    // Storage is measured, not invented: the baseline's table and indexes take some bytes.
    const { body: gql } = await t.graphql<{ tenant: { storageBytes: number } }>(
      `query ($id: ID!) { tenant(id: $id) { storageBytes } }`,
      { id: tenantId },
    );
    expect(gql.data!.tenant.storageBytes).toBeGreaterThan(0);
  });

  it('a duplicate slug or schema is 409 with nothing written', async () => {
    const { body } = await create();
    const before = await roles();
    const sameSchema = tenantBody({ schema_name: body.tenant.schema_name });
    coreError(await t.rest('/api/tenants', { method: 'POST', body: sameSchema }), 409, 'conflict');
    const sameDomain = tenantBody({ domain: body.tenant.domain });
    coreError(await t.rest('/api/tenants', { method: 'POST', body: sameDomain }), 409, 'conflict');

    const slug = uniqueSlug('dup');
    const first = await t.rest('/tenants', { method: 'POST', body: { tenant_id: slug } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toEqual({ success: true, tenant_id: slug, status: 'ready', databases: [] });
    tenantsdbError(await t.rest('/tenants', { method: 'POST', body: { tenant_id: slug } }), 409, 'CONFLICT');
    // An existing non-tenant schema cannot be taken over either.
    coreError(
      await t.rest('/api/tenants', { method: 'POST', body: tenantBody({ schema_name: 'identity' }) }),
      400,
      'validation_error',
    );

    const [{ n }] = (await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM tenancy.tenants WHERE name = ANY($1::text[])`,
      [sameSchema.tenant.name, sameDomain.tenant.name],
    )) as [{ n: number }];
    expect(n).toBe(0);
    expect(await schemaExists(sameDomain.tenant.schema_name)).toBe(false);
    // Every role that appeared meanwhile belongs to a tenant row (the tenantsdb one above, or
    // another suite's): the refused creations left none.
    const added = [...(await roles())].filter((r) => !before.has(r));
    const owned = new Set(
      // Blueprint databases' and workspaces' login roles (other suites) belong to their rows too.
      (
        await sql<{ db_role: string }>(
          `SELECT db_role FROM tenancy.tenants WHERE db_role IS NOT NULL
           UNION SELECT login_role FROM tenancy.tenant_databases WHERE login_role IS NOT NULL
           UNION SELECT login_role FROM tenancy.workspaces WHERE login_role IS NOT NULL`,
        )
      ).map((r) => r.db_role),
    );
    expect(added.filter((r) => !owned.has(r))).toEqual([]);
  });

  it('a bad schema_name is 400 and creates nothing', async () => {
    for (const schema_name of ['Acme', '1acme', 'acme-corp', 'pg_acme', 'a'.repeat(64), 'acme"; DROP SCHEMA x; --']) {
      const body = tenantBody({ schema_name });
      coreError(await t.rest('/api/tenants', { method: 'POST', body }), 400, 'validation_error');
    }
  });

  it('a failing admin step (weak password) leaves no row, no schema and no role', async () => {
    const before = await roles();
    const body = tenantBody({}, { password: 'short' });
    const answer = await t.rest('/api/tenants', { method: 'POST', body });
    coreError(answer, 400, 'validation_error');
    expect(answer.body.error.message).toMatch(/Password/);

    const rows = await sql<{ id: string }>(
      `SELECT id FROM tenancy.tenants WHERE schema_name = $1 OR name = $2`,
      body.tenant.schema_name,
      body.tenant.name,
    );
    expect(rows).toEqual([]);
    expect(await schemaExists(body.tenant.schema_name)).toBe(false);
    // Every role that appeared meanwhile belongs to a tenant row (another test's); none is orphaned.
    const added = [...(await roles())].filter((r) => !before.has(r));
    const owned = new Set(
      // Blueprint databases' and workspaces' login roles (other suites) belong to their rows too.
      (
        await sql<{ db_role: string }>(
          `SELECT db_role FROM tenancy.tenants WHERE db_role IS NOT NULL
           UNION SELECT login_role FROM tenancy.tenant_databases WHERE login_role IS NOT NULL
           UNION SELECT login_role FROM tenancy.workspaces WHERE login_role IS NOT NULL`,
        )
      ).map((r) => r.db_role),
    );
    expect(added.filter((r) => !owned.has(r))).toEqual([]);
    // No admin user was left in identity either.
    const users = await sql<{ id: string }>(
      `SELECT id FROM identity.users WHERE email = $1`,
      body.tenant.admin_user.email.toLowerCase(),
    );
    expect(users).toEqual([]);
  });

  it('suspend refuses the tenant’s users at the gateway (TENANT_SUSPENDED); resume lets them back', async () => {
    const { answer, body } = await create();
    const tenant = answer.body.data.tenant;
    const slug = (await sql<{ slug: string }>(`SELECT slug FROM tenancy.tenants WHERE id = $1`, tenant.id))[0]!.slug;
    const adminToken = await login(tenant.id, body.tenant.admin_user.email);
    expect((await t.rest(`/api/tenants/${tenant.id}`, { token: adminToken })).status).toBe(200);

    const suspended = await t.rest(`/tenants/${slug}/suspend`, { method: 'POST' });
    expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
    expect(suspended.body).toEqual({
      success: true,
      tenant_id: slug,
      status: 'suspended',
      message: `Tenant '${slug}' suspended`,
    });
    // REST, in the dialect's own error shape, and GraphQL alike.
    coreError(await t.rest(`/api/tenants/${tenant.id}`, { token: adminToken }), 403, 'tenant_suspended');
    tenantsdbError(await t.rest(`/tenants/${slug}`, { token: adminToken }), 403, 'TENANT_SUSPENDED');
    const gql = await t.graphql(`{ tenants { id } }`, {}, { token: adminToken });
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('TENANT_SUSPENDED');
    // The project owner (here the operator) still sees it, as suspended.
    expect((await t.rest(`/tenants/${slug}`)).body.status).toBe('suspended');

    const resumed = await t.rest(`/tenants/${slug}/resume`, { method: 'POST' });
    expect(resumed.body).toMatchObject({ success: true, tenant_id: slug, status: 'ready' });
    expect((await t.rest(`/api/tenants/${tenant.id}`, { token: adminToken })).status).toBe(200);
  });

  it('soft delete hides the tenant (404) and refuses its users; restore brings it back', async () => {
    const { answer, body } = await create();
    const tenant = answer.body.data.tenant;
    const slug = (await sql<{ slug: string }>(`SELECT slug FROM tenancy.tenants WHERE id = $1`, tenant.id))[0]!.slug;
    const adminToken = await login(tenant.id, body.tenant.admin_user.email);

    const deleted = await t.rest(`/tenants/${slug}`, { method: 'DELETE' });
    expect(deleted.body).toEqual({
      success: true,
      tenant_id: slug,
      status: 'deleted',
      message: `Tenant '${slug}' deleted`,
    });
    tenantsdbError(await t.rest(`/tenants/${slug}`), 404, 'NOT_FOUND');
    coreError(await t.rest(`/api/tenants/${tenant.id}`), 404, 'not_found');
    expect((await t.rest('/tenants')).body.tenants.map((x: { tenant_id: string }) => x.tenant_id)).not.toContain(slug);
    coreError(await t.rest(`/api/tenants/${tenant.id}`, { token: adminToken }), 403, 'tenant_suspended');
    // The data is kept while soft-deleted.
    expect(await schemaExists(body.tenant.schema_name)).toBe(true);

    const restored = await t.rest(`/tenants/${slug}/restore`, { method: 'POST' });
    expect(restored.body).toMatchObject({ success: true, tenant_id: slug, status: 'ready' });
    expect((await t.rest(`/tenants/${slug}`)).body).toEqual({
      success: true,
      tenant_id: slug,
      status: 'ready',
      databases: [],
    });
    expect((await t.rest(`/api/tenants/${tenant.id}`, { token: adminToken })).status).toBe(200);
    tenantsdbError(await t.rest(`/tenants/${slug}/restore`, { method: 'POST' }), 409, 'CONFLICT');
  });

  it('hard delete drops the schema, the role and the row', async () => {
    const { answer, body } = await create();
    const tenant = answer.body.data.tenant;
    const [row] = await sql<{ slug: string; db_role: string }>(
      `SELECT slug, db_role FROM tenancy.tenants WHERE id = $1`,
      tenant.id,
    );
    const adminToken = await login(tenant.id, body.tenant.admin_user.email);
    const gone = await t.rest(`/tenants/${row!.slug}?hard=true`, { method: 'DELETE' });
    expect(gone.body).toEqual({
      success: true,
      tenant_id: row!.slug,
      status: 'deleted',
      message: `Tenant '${row!.slug}' permanently deleted`,
    });
    expect(await schemaExists(body.tenant.schema_name)).toBe(false);
    expect((await roles()).has(row!.db_role)).toBe(false);
    expect(await sql(`SELECT id FROM tenancy.tenants WHERE id = $1`, tenant.id)).toEqual([]);
    tenantsdbError(await t.rest(`/tenants/${row!.slug}/restore`, { method: 'POST' }), 404, 'NOT_FOUND');
    coreError(await t.rest(`/api/tenants/${tenant.id}`, { token: adminToken }), 403, 'tenant_suspended');
  });

  it("tenant A's admin cannot read or suspend tenant B (TENANT_MISMATCH), nor change its own lifecycle", async () => {
    const a = await create();
    const b = await create();
    const tenantA = a.answer.body.data.tenant.id as string;
    const tenantB = b.answer.body.data.tenant.id as string;
    const slugB = (await sql<{ slug: string }>(`SELECT slug FROM tenancy.tenants WHERE id = $1`, tenantB))[0]!.slug;
    const adminA = await login(tenantA, a.body.tenant.admin_user.email);

    coreError(await t.rest(`/api/tenants/${tenantB}`, { token: adminA }), 403, 'tenant_access_denied');
    tenantsdbError(await t.rest(`/tenants/${slugB}`, { token: adminA }), 403, 'TENANT_MISMATCH');
    tenantsdbError(
      await t.rest(`/tenants/${slugB}/suspend`, { method: 'POST', token: adminA }),
      403,
      'TENANT_MISMATCH',
    );
    tenantsdbError(
      await t.rest(`/tenants/${slugB}?hard=true`, { method: 'DELETE', token: adminA }),
      403,
      'TENANT_MISMATCH',
    );
    expect((await t.rest(`/tenants/${slugB}`)).body.status).toBe('ready');
    // Its own tenant: readable, but the lifecycle belongs to the project owner.
    expect((await t.rest(`/api/tenants/${tenantA}`, { token: adminA })).status).toBe(200);
    const slugA = (await sql<{ slug: string }>(`SELECT slug FROM tenancy.tenants WHERE id = $1`, tenantA))[0]!.slug;
    tenantsdbError(await t.rest(`/tenants/${slugA}/suspend`, { method: 'POST', token: adminA }), 403, 'FORBIDDEN');
    // And it cannot create tenants.
    coreError(
      await t.rest('/api/tenants', { method: 'POST', body: tenantBody(), token: adminA }),
      403,
      'insufficient_permissions',
    );
    // A tenant admin lists only its own tenant.
    const listed = await t.rest('/tenants', { token: adminA });
    expect(listed.body.tenants.map((x: { tenant_id: string }) => x.tenant_id)).toEqual([
      (await sql<{ slug: string }>(`SELECT slug FROM tenancy.tenants WHERE id = $1`, tenantA))[0]!.slug,
    ]);
  });

  it('tenantsdb project keys: each project sees and manages only its own tenants', async () => {
    const signup = async () => {
      const answer = await t.rest('/signup', {
        method: 'POST',
        token: null,
        body: { email: `owner-${uniqueSlug()}@example.com`, password: PASSWORD, project_name: 'Tenants' },
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      return answer.body.api_key as string;
    };
    const [keyA, keyB] = [await signup(), await signup()];
    const slug = uniqueSlug('proj');
    const created = await t.rest('/tenants', { method: 'POST', token: keyA, body: { tenant_id: slug } });
    expect(created.body).toEqual({ success: true, tenant_id: slug, status: 'ready', databases: [] });

    const listedA = await t.rest('/tenants', { token: keyA });
    expect(listedA.body).toEqual({
      success: true,
      count: 1,
      tenants: [{ created_at: iso, databases: [], status: 'ready', tenant_id: slug }],
    });
    expect((await t.rest('/tenants', { token: keyB })).body).toEqual({ success: true, count: 0, tenants: [] });
    tenantsdbError(await t.rest(`/tenants/${slug}`, { token: keyB }), 403, 'TENANT_MISMATCH');
    tenantsdbError(await t.rest(`/tenants/${slug}/suspend`, { method: 'POST', token: keyB }), 403, 'TENANT_MISMATCH');
    tenantsdbError(await t.rest(`/tenants/${slug}`, { method: 'DELETE', token: keyB }), 403, 'TENANT_MISMATCH');
    expect((await t.rest(`/tenants/${slug}/suspend`, { method: 'POST', token: keyA })).body.status).toBe('suspended');
    expect((await t.rest(`/tenants/${slug}/resume`, { method: 'POST', token: keyA })).body.status).toBe('ready');
    const [row] = await sql<{ project_id: string; schema_name: string }>(
      `SELECT project_id, schema_name FROM tenancy.tenants WHERE slug = $1`,
      slug,
    );
    expect(row!.project_id).toMatch(/\S/);
    expect(row!.schema_name).toBe(`t_${slug.replaceAll('-', '_')}`);
  });

  it('tenantsdb POST /tenants with a blueprint database answers NOT_FOUND and creates nothing', async () => {
    const slug = uniqueSlug('bp');
    const answer = await t.rest('/tenants', {
      method: 'POST',
      body: { tenant_id: slug, databases: [{ blueprint: 'myapp', isolation_level: 1 }] },
    });
    tenantsdbError(answer, 404, 'NOT_FOUND');
    expect(await sql(`SELECT id FROM tenancy.tenants WHERE slug = $1`, slug)).toEqual([]);
  });

  it('an abandoned creation (stuck in provisioning) is removed by the cleanup job', async () => {
    const { answer } = await create();
    const id = answer.body.data.tenant.id as string;
    const [row] = await sql<{ schema_name: string; db_role: string }>(
      `SELECT schema_name, db_role FROM tenancy.tenants WHERE id = $1`,
      id,
    );
    // Simulate a crash between the transaction and the admin step, long ago.
    await t.platform.db.prisma.tenant.update({
      where: { id },
      data: { status: 'provisioning', createdAt: new Date(Date.now() - 60 * 60_000) },
    });
    const { jobId } = await t.platform.jobs.enqueue('tenancy.cleanup-provisioning', {}, { jobId: `cleanup-${id}` });
    await expect.poll(async () => (await t.platform.jobs.getJob(jobId))?.state, { timeout: 15_000 }).toBe('completed');
    expect(await sql(`SELECT id FROM tenancy.tenants WHERE id = $1`, id)).toEqual([]);
    expect(await schemaExists(row!.schema_name)).toBe(false);
    expect((await roles()).has(row!.db_role)).toBe(false);
  });
});

describe('tenant creation with every subgraph over HTTP (the production transport)', () => {
  let t: TestPlatform;

  beforeAll(async () => {
    t = await bootPlatform({ transport: 'http' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('creates the admin through identity over HTTP, and compensates when identity refuses', async () => {
    const ok = tenantBody();
    const created = await t.rest('/api/tenants', { method: 'POST', body: ok });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.data.admin_user).toMatchObject({ email: ok.tenant.admin_user.email, role: 'tenant_admin' });

    // The same admin email in a second tenant is fine (directories are per tenant); a common password is not.
    const weak = tenantBody({}, { password: 'password1234' });
    coreError(await t.rest('/api/tenants', { method: 'POST', body: weak }), 400, 'validation_error');
    const rows = await t.platform.db.prisma.tenant.findMany({ where: { schemaName: weak.tenant.schema_name } });
    expect(rows).toEqual([]);
  });
});
