import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, type TestPlatform, type RestAnswer } from './support/platform.js';
import { expectRestError, ISO_TIMESTAMP, waitFor } from './support/rest.js';

// platform-forge's /admin/users end to end: a tenant admin (a real user, signed in with a
// password) manages its tenant's users through REST in the documented envelope; suspension and
// deletion cut access at once; nothing crosses into another tenant.

const PASSWORD = 'Admin-Module-Passphrase-7';
const iso = expect.stringMatching(ISO_TIMESTAMP);

const expectError = (answer: RestAnswer, status: number, code: string) =>
  expectRestError('platform-forge', answer, status, code);

describe('platform-forge admin users through the real gateway', () => {
  let t: TestPlatform;
  let tenantA: string;
  let tenantB: string;
  let admin: { id: string; email: string; token: string };

  const register = async (tenantId: string, email = `${uniqueSlug('u')}@example.com`, name = 'Some User') => {
    const { body } = await t.graphql<{ register: { user: { id: string } } }>(
      `mutation ($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
        register(email: $email, password: $password, name: $name, tenantId: $tenantId) { user { id } }
      }`,
      { email, password: PASSWORD, name, tenantId },
    );
    expect(body.errors).toBeUndefined();
    return { id: body.data!.register.user.id, email };
  };

  const login = async (tenantId: string, email: string) => {
    const { body } = await t.graphql<{ login: { accessToken: string; refreshToken: string } }>(
      `mutation ($email: String!, $password: String!, $tenantId: ID) {
        login(email: $email, password: $password, tenantId: $tenantId) { accessToken refreshToken }
      }`,
      { email, password: PASSWORD, tenantId },
      { token: null },
    );
    return body;
  };

  const tokenFor = async (tenantId: string, email: string) => {
    const body = await login(tenantId, email);
    expect(body.errors).toBeUndefined();
    return body.data!.login;
  };

  /** A user with the given roles, set by the operator, and signed in. */
  const member = async (tenantId: string, roles: string[]) => {
    const user = await register(tenantId);
    if (roles.join() !== 'user') {
      const promoted = await t.rest(`/api/v1/admin/users/${user.id}`, { method: 'PUT', body: { roles } });
      expect(promoted.status).toBe(200);
    }
    return { ...user, ...(await tokenFor(tenantId, user.email)) };
  };

  const me = (token: string) => t.graphql<{ me: { id: string } | null }>('{ me { id status } }', {}, { token });

  beforeAll(async () => {
    t = await bootPlatform();
    const created = await Promise.all(
      ['a', 'b'].map((p) =>
        t.graphql<{ createTenant: { id: string } }>(
          `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }`,
          { input: { name: `Admin ${p}`, slug: uniqueSlug(p) } },
        ),
      ),
    );
    [tenantA, tenantB] = created.map(({ body }) => body.data!.createTenant.id) as [string, string];
    const a = await member(tenantA, ['admin']);
    admin = { id: a.id, email: a.email, token: a.accessToken };
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /api/v1/admin/users lists the tenant’s users in the documented envelope, filtered and paged', async () => {
    const tag = uniqueSlug('list');
    const alice = await register(tenantA, `${tag}-alice@example.com`, 'Alice Listed');
    const bob = await register(tenantA, `${tag}-bob@example.com`, 'Bob Listed');
    const other = await register(tenantB, `${tag}-carol@example.com`, 'Carol Elsewhere');

    const answer = await t.rest(`/api/v1/admin/users?search=${tag}`, { token: admin.token });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'success',
      data: { users: expect.any(Array), pagination: { page: 1, limit: 20, total: 2, pages: 1 } },
      meta: { timestamp: iso, version: '1.0' },
    });
    // Newest first; tenant B's matching user is not there.
    expect(answer.body.data.users.map((u: { id: string }) => u.id)).toEqual([bob.id, alice.id]);
    expect(answer.body.data.users[1]).toEqual({
      id: alice.id,
      email: alice.email,
      name: 'Alice Listed',
      tenant_id: tenantA,
      roles: ['user'],
      status: 'active',
      created_at: iso,
      updated_at: iso,
      last_login_at: iso, // register signs the user in
      deleted_at: null,
    });
    expect(JSON.stringify(answer.body)).not.toContain(other.id);

    const byName = await t.rest(`/api/v1/admin/users?search=alice%20listed`, { token: admin.token });
    expect(byName.body.data.users.map((u: { id: string }) => u.id)).toContain(alice.id);
    const admins = await t.rest('/api/v1/admin/users?role=admin', { token: admin.token });
    expect(admins.body.data.users.map((u: { id: string }) => u.id)).toEqual([admin.id]);
    const paged = await t.rest(`/api/v1/admin/users?search=${tag}&limit=1&page=2`, { token: admin.token });
    expect(paged.body.data).toEqual({
      users: [expect.objectContaining({ id: alice.id })],
      pagination: { page: 2, limit: 1, total: 2, pages: 2 },
    });

    expectError(await t.rest('/api/v1/admin/users?limit=101', { token: admin.token }), 400, 'VALIDATION_ERROR');
    expectError(await t.rest('/api/v1/admin/users?status=gone', { token: admin.token }), 400, 'VALIDATION_ERROR');
    expectError(await t.rest('/api/v1/admin/users', { token: null }), 401, 'UNAUTHORIZED');
    const plain = await member(tenantA, ['user']);
    expectError(await t.rest('/api/v1/admin/users', { token: plain.accessToken }), 403, 'FORBIDDEN');
  });

  it('PUT /api/v1/admin/users/{id} changes name, email and roles; an email in use is a CONFLICT', async () => {
    const user = await register(tenantA);
    const taken = await register(tenantA);
    const newEmail = `${uniqueSlug('renamed')}@Example.com`;
    const answer = await t.rest(`/api/v1/admin/users/${user.id}`, {
      method: 'PUT',
      token: admin.token,
      body: { name: 'Renamed Person', email: newEmail, roles: ['user', 'viewer'] },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.data.user).toMatchObject({
      id: user.id,
      name: 'Renamed Person',
      email: newEmail.toLowerCase(),
      roles: ['user', 'viewer'],
      status: 'active',
    });

    const conflict = await t.rest(`/api/v1/admin/users/${user.id}`, {
      method: 'PUT',
      token: admin.token,
      body: { email: taken.email },
    });
    expectError(conflict, 409, 'CONFLICT');
    expectError(
      await t.rest(`/api/v1/admin/users/${user.id}`, { method: 'PUT', token: admin.token, body: {} }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await t.rest(`/api/v1/admin/users/${user.id}`, {
        method: 'PUT',
        token: admin.token,
        body: { status: 'active' },
      }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('an administrator cannot grant roles it lacks, nor change its own', async () => {
    // An owner holds write:users but not admin:security, which the admin role carries.
    const owner = await member(tenantA, ['owner']);
    const user = await register(tenantA);
    const grant = await t.rest(`/api/v1/admin/users/${user.id}`, {
      method: 'PUT',
      token: owner.accessToken,
      body: { roles: ['admin'] },
    });
    expectError(grant, 403, 'FORBIDDEN');
    expect(grant.body.error.details).toMatchObject({ roles: ['admin'], missing_scopes: ['admin:security'] });
    // Nor may it act on an admin, who holds more than it does.
    expectError(
      await t.rest(`/api/v1/admin/users/${admin.id}/suspend`, { method: 'POST', token: owner.accessToken }),
      403,
      'FORBIDDEN',
    );
    // Granting what it holds is fine.
    const ok = await t.rest(`/api/v1/admin/users/${user.id}`, {
      method: 'PUT',
      token: owner.accessToken,
      body: { roles: ['owner'] },
    });
    expect(ok.status).toBe(200);
    expectError(
      await t.rest(`/api/v1/admin/users/${admin.id}`, {
        method: 'PUT',
        token: admin.token,
        body: { roles: ['user'] },
      }),
      403,
      'FORBIDDEN',
    );
    // Its own name is its own business.
    const renamed = await t.rest(`/api/v1/admin/users/${admin.id}`, {
      method: 'PUT',
      token: admin.token,
      body: { name: 'The Admin' },
    });
    expect(renamed.body.data.user.name).toBe('The Admin');
  });

  it('suspending a user refuses their current access and refresh tokens at once; activating lets them sign in again', async () => {
    const victim = await member(tenantA, ['user']);
    expect((await me(victim.accessToken)).body.data?.me?.id).toBe(victim.id);

    const suspended = await t.rest(`/api/v1/admin/users/${victim.id}/suspend`, { method: 'POST', token: admin.token });
    expect(suspended.status).toBe(200);
    expect(suspended.body.data.user).toMatchObject({ id: victim.id, status: 'suspended' });

    // The very next request with the old token is refused by the gateway.
    const refused = await me(victim.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    const refreshed = await t.graphql(
      `mutation ($r: String!) { refreshSession(refreshToken: $r) { accessToken } }`,
      { r: victim.refreshToken },
      { token: null },
    );
    expect(refreshed.body.errors?.[0]?.extensions?.code).toMatch(/ACCOUNT_DISABLED|UNAUTHORIZED/);
    expect((await login(tenantA, victim.email)).errors?.[0]?.extensions?.code).toBe('ACCOUNT_DISABLED');
    const listed = await t.rest('/api/v1/admin/users?status=suspended', { token: admin.token });
    expect(listed.body.data.users.map((u: { id: string }) => u.id)).toContain(victim.id);

    const activated = await t.rest(`/api/v1/admin/users/${victim.id}/activate`, {
      method: 'POST',
      token: admin.token,
    });
    expect(activated.body.data.user.status).toBe('active');
    const again = await tokenFor(tenantA, victim.email);
    expect((await me(again.accessToken)).body.data?.me?.id).toBe(victim.id);
  });

  it('DELETE removes the user softly: access ends, the email is free again, the list no longer shows them', async () => {
    const doomed = await member(tenantA, ['user']);
    const answer = await t.rest(`/api/v1/admin/users/${doomed.id}`, { method: 'DELETE', token: admin.token });
    expect(answer.status).toBe(200);
    expect(answer.body.data.user).toMatchObject({ id: doomed.id, status: 'deleted', deleted_at: iso });
    expect(answer.body.data.user.email).not.toBe(doomed.email);

    expect((await me(doomed.accessToken)).status).toBe(401);
    const list = await t.rest('/api/v1/admin/users?limit=100', { token: admin.token });
    expect(list.body.data.users.map((u: { id: string }) => u.id)).not.toContain(doomed.id);
    const deletedList = await t.rest('/api/v1/admin/users?status=deleted', { token: admin.token });
    expect(deletedList.body.data.users.map((u: { id: string }) => u.id)).toContain(doomed.id);
    // Deleted users are gone for every other admin action.
    expectError(
      await t.rest(`/api/v1/admin/users/${doomed.id}/activate`, { method: 'POST', token: admin.token }),
      404,
      'NOT_FOUND',
    );
    // The same person can be registered again.
    const back = await register(tenantA, doomed.email);
    expect(back.id).not.toBe(doomed.id);
  });

  it('an administrator cannot suspend or delete itself', async () => {
    expectError(
      await t.rest(`/api/v1/admin/users/${admin.id}/suspend`, { method: 'POST', token: admin.token }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await t.rest(`/api/v1/admin/users/${admin.id}`, { method: 'DELETE', token: admin.token }),
      403,
      'FORBIDDEN',
    );
    expect((await me(admin.token)).body.data?.me?.id).toBe(admin.id);
  });

  it("tenant A's admin cannot see or touch tenant B's users: NOT_FOUND, and B's user keeps working", async () => {
    const stranger = await member(tenantB, ['user']);
    for (const [method, path, body] of [
      ['PUT', `/api/v1/admin/users/${stranger.id}`, { name: 'Hijacked' }],
      ['POST', `/api/v1/admin/users/${stranger.id}/suspend`, undefined],
      ['POST', `/api/v1/admin/users/${stranger.id}/activate`, undefined],
      ['DELETE', `/api/v1/admin/users/${stranger.id}`, undefined],
    ] as const) {
      expectError(await t.rest(path, { method, token: admin.token, body }), 404, 'NOT_FOUND');
    }
    expect((await me(stranger.accessToken)).body.data?.me?.id).toBe(stranger.id);
    const list = await t.rest(`/api/v1/admin/users?limit=100`, { token: admin.token });
    for (const user of list.body.data.users) expect(user.tenant_id).toBe(tenantA);
    // The operator, bound to no tenant, may act on any tenant's user.
    const byOperator = await t.rest(`/api/v1/admin/users/${stranger.id}`, {
      method: 'PUT',
      body: { name: 'Renamed By Operator' },
    });
    expect(byOperator.body.data.user.name).toBe('Renamed By Operator');
  });

  it('admin actions land in the audit log with the admin as actor', async () => {
    const user = await register(tenantA);
    await t.rest(`/api/v1/admin/users/${user.id}/suspend`, { method: 'POST', token: admin.token });
    const entry = await waitFor(async () => {
      const logs = await t.rest(`/api/v1/admin/audit-logs?action=user.suspend&user_id=${admin.id}`, {
        token: admin.token,
      });
      return logs.body.data.logs.find((l: { details: { resource_id: string } }) => l.details.resource_id === user.id);
    }, 'the user.suspend audit entry');
    expect(entry).toMatchObject({
      user_id: admin.id,
      resource: 'user',
      details: { outcome: 'success', tenant_id: tenantA },
    });
  });
});
