import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRINCIPAL_HEADER, signPrincipal, type Principal } from '../lib/principal.js';
import { SUBGRAPH_NAMES } from '../lib/env.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';

const CREATE_TENANT = /* GraphQL */ `
  mutation ($input: CreateTenantInput!) {
    createTenant(input: $input) {
      id
      name
      slug
      schemaName
      status
    }
  }
`;
const CREATE_USER = /* GraphQL */ `
  mutation ($input: CreateUserInput!) {
    createUser(input: $input) {
      id
      tenantId
      email
    }
  }
`;
const TENANT_WITH_USERS = /* GraphQL */ `
  query ($id: ID!) {
    tenant(id: $id) {
      id
      slug
      users {
        id
        email
        name
        roles
      }
    }
  }
`;

describe.each(['in-process', 'http'] as const)('the supergraph over the %s transport', (transport) => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform({ transport });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('crosses subgraphs: a Tenant from tenancy with users contributed by identity', async () => {
    const slug = uniqueSlug();
    const created = await t.graphql<{ createTenant: { id: string; schemaName: string; status: string } }>(
      CREATE_TENANT,
      { input: { name: 'Acme', slug } },
    );
    expect(created.body.errors).toBeUndefined();
    const tenant = created.body.data!.createTenant;
    expect(tenant).toMatchObject({ status: 'active', schemaName: `t_${slug.replaceAll('-', '_')}` });

    const user = await t.graphql(CREATE_USER, {
      input: { tenantId: tenant.id, email: 'Ada@Example.com', name: 'Ada', roles: ['admin'] },
    });
    expect(user.body.errors).toBeUndefined();

    const read = await t.graphql<{ tenant: { id: string; users: Array<{ email: string; roles: string[] }> } }>(
      TENANT_WITH_USERS,
      { id: tenant.id },
    );
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data!.tenant.users).toEqual([
      expect.objectContaining({ email: 'ada@example.com', name: 'Ada', roles: ['admin'] }),
    ]);
  });

  it('creates the tenant schema in Postgres with the row, and refuses a duplicate slug without half-writing', async () => {
    const slug = uniqueSlug();
    const first = await t.graphql<{ createTenant: { schemaName: string } }>(CREATE_TENANT, {
      input: { name: 'A', slug },
    });
    const schemaName = first.body.data!.createTenant.schemaName;
    const rows = await t.platform.db.prisma.$queryRaw<Array<{ n: bigint }>>`
      SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = ${schemaName}`;
    expect(Number(rows[0]!.n)).toBe(1);

    const second = await t.graphql(CREATE_TENANT, { input: { name: 'B', slug } });
    expect(second.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await t.platform.db.prisma.tenant.count({ where: { slug } })).toBe(1);
  });

  it('rejects bad input with VALIDATION_ERROR and field details', async () => {
    const response = await t.graphql(CREATE_TENANT, { input: { name: '', slug: 'Not A Slug' } });
    const error = response.body.errors?.[0];
    expect(error?.extensions?.code).toBe('VALIDATION_ERROR');
    const fields = (error?.extensions?.details as { fields: Array<{ path: string }> }).fields.map((f) => f.path);
    expect(fields).toEqual(expect.arrayContaining(['name', 'slug']));
  });

  it('reports every subgraph in the health report, each probed by the subgraph itself', async () => {
    const fields = SUBGRAPH_NAMES.map((n) => `${n} { name status database { status responseTimeMs } }`).join(' ');
    const response = await t.graphql<{ health: Record<string, unknown> }>(`{ health { status ${fields} } }`);
    expect(response.body.errors).toBeUndefined();
    for (const name of SUBGRAPH_NAMES) {
      expect(response.body.data!.health[name]).toMatchObject({ name, status: 'HEALTHY' });
    }
  });

  it('refuses callers without credentials or with a wrong key', async () => {
    const anonymous = await t.graphql(`{ health { status } }`, {}, { token: null });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');

    const wrong = await t.graphql(`{ health { status } }`, {}, { token: 'op_not_the_key' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');

    const liveness = await t.graphql<{ liveness: { status: string } }>(`{ liveness { status } }`, {}, { token: null });
    expect(liveness.body.data?.liveness.status).toBe('HEALTHY');
  });
});

describe('the trust boundary: subgraphs called directly', () => {
  let t: TestPlatform;
  let tenancyUrl: string;
  const query = JSON.stringify({ query: '{ tenants { id } }' });
  const tenantBound = (tenantId: string): Principal => ({
    kind: 'api_key',
    id: 'key_test',
    projectId: null,
    tenantId,
    roles: ['admin'],
    scopes: ['read:tenants', 'read:users'],
  });
  const post = (headers: Record<string, string>, body = query) =>
    fetch(tenancyUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  beforeAll(async () => {
    t = await bootPlatform({ transport: 'http' });
    tenancyUrl = t.platform.subgraphUrls.tenancy!;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a request with no signed principal', async () => {
    const response = await post({});
    expect(response.status).toBe(401);
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHORIZED');
  });

  it('refuses a principal signed with another secret, and a tampered one', async () => {
    const operator: Principal = {
      kind: 'operator',
      id: 'operator',
      projectId: null,
      tenantId: null,
      roles: [],
      scopes: ['read:tenants'],
    };
    const forged = signPrincipal(operator, 'req_forged', 'x'.repeat(64));
    expect((await post({ [PRINCIPAL_HEADER]: forged })).status).toBe(401);

    const genuine = signPrincipal(tenantBound('ten_a'), 'req_tamper', t.platform.signingSecret);
    const [, signature] = genuine.split('.');
    const escalated = Buffer.from(
      JSON.stringify({ p: operator, rid: 'req_tamper', exp: Date.now() + 60_000 }),
    ).toString('base64url');
    expect((await post({ [PRINCIPAL_HEADER]: `${escalated}.${signature}` })).status).toBe(401);
  });

  it('accepts a principal the gateway signed, and scopes it to its own tenant', async () => {
    const slugA = uniqueSlug();
    const slugB = uniqueSlug();
    const a = await t.graphql<{ createTenant: { id: string } }>(CREATE_TENANT, { input: { name: 'A', slug: slugA } });
    const b = await t.graphql<{ createTenant: { id: string } }>(CREATE_TENANT, { input: { name: 'B', slug: slugB } });
    const tenantA = a.body.data!.createTenant.id;
    const tenantB = b.body.data!.createTenant.id;
    const header = signPrincipal(tenantBound(tenantA), 'req_scoped', t.platform.signingSecret);

    const own = await post({ [PRINCIPAL_HEADER]: header });
    expect(own.status).toBe(200);
    expect(((await own.json()) as { data: { tenants: Array<{ id: string }> } }).data.tenants).toEqual([
      { id: tenantA },
    ]);

    const other = await post(
      { [PRINCIPAL_HEADER]: header },
      JSON.stringify({ query: 'query ($id: ID!) { tenant(id: $id) { id } }', variables: { id: tenantB } }),
    );
    const body = (await other.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('TENANT_MISMATCH');
  });
});
