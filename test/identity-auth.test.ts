import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  ISSUED_AT_MS_CLAIM,
  REVOCATIONS_RESTORED_KEY,
  userRevokedKey,
} from '../lib/access-token.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import {
  assertPasswordPolicy,
  getDummyHash,
  hashPassword,
  needsRehash,
  verifyPassword,
} from '../subgraphs/identity/services/passwords.js';
import { revokeUserSessions } from '../subgraphs/identity/services/sessions.js';
import { bootPlatform, uniqueSlug, type RestInit, type TestPlatform } from './support/platform.js';
import { uniqueClientIp } from './support/rest.js';

// Password sign-in end to end through the real gateway: REST in platform-forge's and
// cloudpioneer's documented shapes, GraphQL, JWT verification at the gateway, key rotation,
// refresh rotation and reuse detection, lockout, registration policy and rate limits.

const PASSWORD = 'correct horse battery 42';
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

function uniqueEmail(): string {
  return `u-${randomBytes(5).toString('hex')}@example.com`;
}

describe('identity auth core through the real gateway', () => {
  let t: TestPlatform;
  let deps: SubgraphDeps;

  beforeAll(async () => {
    // The gateway believes X-Forwarded-For from the loopback proxy, so each test has its own address.
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
    deps = t.platform.deps;
  });
  afterAll(async () => {
    await t?.close();
  });

  // The sign-in routes: POST and anonymous unless told, each call from a fresh client address, as
  // sign-in rate limits and threat detection remember addresses (a test that wants one passes it).
  const rest = (path: string, init: RestInit = {}) =>
    t.rest(path, { method: 'POST', token: null, ...init, clientIp: init.clientIp ?? uniqueClientIp() });

  const gql = <T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    options: { token?: string | null; ip?: string } = {},
  ) =>
    t.graphql<T>(query, variables, {
      token: options.token,
      headers: { 'x-forwarded-for': options.ip ?? uniqueClientIp() },
    });

  async function createTenant(): Promise<string> {
    const slug = uniqueSlug('auth');
    const created = await gql<{ createTenant: { id: string } }>(
      'mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }',
      { input: { name: slug, slug } },
    );
    expect(created.body.errors).toBeUndefined();
    return created.body.data!.createTenant.id;
  }

  const REGISTER = /* GraphQL */ `
    mutation ($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
      register(email: $email, password: $password, name: $name, tenantId: $tenantId) {
        accessToken
        refreshToken
        tokenType
        expiresIn
        user {
          id
          email
          tenantId
          roles
        }
      }
    }
  `;

  /** The operator may always register users into a tenant. */
  async function registerUser(tenantId: string, email = uniqueEmail()) {
    const answer = await gql<{
      register: { accessToken: string; refreshToken: string; user: { id: string; email: string } };
    }>(REGISTER, { email, password: PASSWORD, name: 'Test User', tenantId });
    expect(answer.body.errors).toBeUndefined();
    return { email, ...answer.body.data!.register };
  }

  async function me(token: string) {
    return gql<{ me: { id: string; email: string; tenantId: string | null } | null }>(
      '{ me { id email tenantId } }',
      {},
      { token },
    );
  }

  const login = (body: Record<string, unknown>, clientIp?: string) => rest('/api/v1/auth/login', { body, clientIp });

  it('platform-forge register, login and refresh in the documented shapes; the token works at /graphql', async () => {
    const tenantId = await createTenant();
    const opened = await gql(
      'mutation ($id: ID) { updateTenantAuthSettings(tenantId: $id, registrationOpen: true) { registrationOpen } }',
      { id: tenantId },
    );
    expect(opened.body.errors).toBeUndefined();
    const email = uniqueEmail();

    const registered = await rest('/api/v1/auth/register', {
      body: { email, password: PASSWORD, name: 'John Doe', tenant_id: tenantId },
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toEqual({
      status: 'success',
      data: {
        user: { id: expect.stringMatching(/^usr_/), email, name: 'John Doe', tenant_id: tenantId, created_at: iso },
        access_token: expect.stringMatching(/^eyJ/),
        refresh_token: expect.stringMatching(/^rt_[0-9a-f]{64}$/),
        token_type: 'Bearer',
        expires_in: 3600,
      },
      meta: { timestamp: iso, version: '1.0' },
    });
    expect(Number(registered.headers.get('x-ratelimit-limit'))).toBe(20);

    const loggedIn = await login({ email: email.toUpperCase(), password: PASSWORD });
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.body).toEqual({
      status: 'success',
      data: {
        access_token: expect.stringMatching(/^eyJ/),
        refresh_token: expect.stringMatching(/^rt_/),
        token_type: 'Bearer',
        expires_in: 3600,
        user: { id: registered.body.data.user.id, email, roles: ['user'] },
      },
      meta: { timestamp: iso, version: '1.0' },
    });

    const whoami = await me(loggedIn.body.data.access_token);
    expect(whoami.status).toBe(200);
    expect(whoami.body.data!.me).toEqual({ id: registered.body.data.user.id, email, tenantId });

    const refreshed = await rest('/api/v1/auth/refresh', { body: { refresh_token: loggedIn.body.data.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.data).toEqual({
      access_token: expect.stringMatching(/^eyJ/),
      refresh_token: expect.stringMatching(/^rt_/),
      token_type: 'Bearer',
      expires_in: 3600,
      user: { id: registered.body.data.user.id, email, roles: ['user'] },
    });
    expect(refreshed.body.data.refresh_token).not.toBe(loggedIn.body.data.refresh_token);
    expect((await me(refreshed.body.data.access_token)).body.data!.me!.id).toBe(registered.body.data.user.id);

    const stored = await t.platform.db.prisma.user.findUniqueOrThrow({ where: { id: registered.body.data.user.id } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(stored.lastLoginAt).not.toBeNull();
  });

  it('GraphQL login, refreshSession and logout; me is null for the operator', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const loggedIn = await gql<{ login: { accessToken: string; refreshToken: string; tokenType: string } }>(
      'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken tokenType } }',
      { e: user.email, p: PASSWORD },
      { token: null },
    );
    expect(loggedIn.body.errors).toBeUndefined();
    expect(loggedIn.body.data!.login.tokenType).toBe('Bearer');
    expect((await me(loggedIn.body.data!.login.accessToken)).body.data!.me!.email).toBe(user.email);
    expect((await gql('{ me { id } }')).body.data).toEqual({ me: null });

    const REFRESH = 'mutation ($r: String!) { refreshSession(refreshToken: $r) { refreshToken } }';
    const next = await gql<{ refreshSession: { refreshToken: string } }>(
      REFRESH,
      { r: loggedIn.body.data!.login.refreshToken },
      { token: null },
    );
    expect(next.body.errors).toBeUndefined();
    const loggedOut = await gql(
      'mutation ($r: String!) { logout(refreshToken: $r) }',
      { r: next.body.data!.refreshSession.refreshToken },
      { token: null },
    );
    expect(loggedOut.body.data).toEqual({ logout: true });
    const afterLogout = await gql(REFRESH, { r: next.body.data!.refreshSession.refreshToken }, { token: null });
    expect(afterLogout.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
  });

  it('cloudpioneer POST /auth/login and /v1/auth/login answer the bare token object', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    for (const path of ['/auth/login', '/v1/auth/login']) {
      const answer = await rest(path, { body: { email: user.email, password: PASSWORD } });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        access_token: expect.stringMatching(/^eyJ/),
        refresh_token: expect.stringMatching(/^rt_/),
        token_type: 'bearer',
        expires_in: 3600,
      });
    }
    const wrong = await rest('/auth/login', { body: { email: user.email, password: 'not the password!' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({
      error: { code: 'INVALID_CREDENTIALS', message: 'Invalid email or password', details: {} },
      request_id: expect.any(String),
    });
  });

  it('serves the JWKS publicly; it verifies the token, whose claims are the documented ones', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const response = await t.rest('/.well-known/jwks.json', { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toMatch(/public/);
    const jwks = response.body as { keys: JWK[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toEqual({
        kid: expect.any(String),
        kty: 'EC',
        crv: 'P-256',
        x: expect.any(String),
        y: expect.any(String),
        alg: 'ES256',
        use: 'sig',
      });
      expect(key).not.toHaveProperty('d');
    }
    const { payload, protectedHeader } = await jwtVerify(user.accessToken, createLocalJWKSet(jwks as never), {
      issuer: ACCESS_TOKEN_ISSUER,
      audience: ACCESS_TOKEN_AUDIENCE,
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    expect(payload).toEqual({
      sub: user.user.id,
      tenant_id: tenantId,
      roles: ['user'],
      scope: expect.stringContaining('read:tenants'),
      iss: ACCESS_TOKEN_ISSUER,
      aud: ACCESS_TOKEN_AUDIENCE,
      iat: expect.any(Number),
      // Private: the issue time in milliseconds, which orders a token against a revocation.
      [ISSUED_AT_MS_CLAIM]: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(Math.floor((payload[ISSUED_AT_MS_CLAIM] as number) / 1000)).toBe(payload.iat);

    const viaGraphql = await gql<{ jwks: { keys: Array<{ kid: string }> } }>(
      '{ jwks { keys { kid } } }',
      {},
      { token: null },
    );
    expect(viaGraphql.body.data!.jwks.keys.map((k) => k.kid)).toContain(protectedHeader.kid);
  });

  it('rotation: old tokens stay valid, new ones are signed with the new kid; keys also rotate by age', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const oldKid = decodeProtectedHeader(user.accessToken).kid;

    const tenantUserRotates = await gql(
      'mutation { rotateSigningKey { key { kid } } }',
      {},
      { token: user.accessToken },
    );
    expect(tenantUserRotates.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const rotated = await gql<{
      rotateSigningKey: { key: { kid: string }; retired: Array<{ kid: string; expiresAt: string }> };
    }>('mutation { rotateSigningKey { key { kid } retired { kid expiresAt } } }');
    expect(rotated.body.errors).toBeUndefined();
    const newKid = rotated.body.data!.rotateSigningKey.key.kid;
    expect(newKid).not.toBe(oldKid);
    expect(rotated.body.data!.rotateSigningKey.retired.map((k) => k.kid)).toContain(oldKid);

    expect((await me(user.accessToken)).body.data!.me!.id).toBe(user.user.id);
    const again = await login({ email: user.email, password: PASSWORD });
    expect(decodeProtectedHeader(again.body.data.access_token).kid).toBe(newKid);
    expect((await me(again.body.data.access_token)).body.data!.me!.id).toBe(user.user.id);
    const kids = (
      await gql<{ jwks: { keys: Array<{ kid: string }> } }>('{ jwks { keys { kid } } }')
    ).body.data!.jwks.keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));

    // Age: an active key older than 30 days is replaced on the next signature.
    await t.platform.db.prisma.signingKey.update({
      where: { kid: newKid },
      data: { createdAt: new Date(Date.now() - 31 * 24 * 3600_000) },
    });
    const aged = await login({ email: user.email, password: PASSWORD });
    const agedKid = decodeProtectedHeader(aged.body.data.access_token).kid;
    expect(agedKid).not.toBe(newKid);
    expect((await me(aged.body.data.access_token)).body.data!.me!.id).toBe(user.user.id);
    expect((await me(again.body.data.access_token)).body.data!.me!.id).toBe(user.user.id);
    const active = await t.platform.db.prisma.signingKey.findMany({ where: { retiredAt: null } });
    expect(active.map((k) => k.kid)).toEqual([agedKid]);

    // Concurrent rotations serialise on the advisory lock: one active key afterwards, never two.
    const ROTATE = 'mutation { rotateSigningKey { key { kid } } }';
    const both = await Promise.all([gql(ROTATE), gql(ROTATE), gql(ROTATE)]);
    for (const answer of both) expect(answer.body.errors).toBeUndefined();
    expect(await t.platform.db.prisma.signingKey.count({ where: { retiredAt: null } })).toBe(1);
  });

  it('refresh tokens rotate; reusing a spent one revokes the whole family, newest token included', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const first = await rest('/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } });
    expect(first.status).toBe(200);
    const newest = first.body.data.refresh_token as string;

    const reused = await rest('/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } });
    expect(reused.status).toBe(401);
    expect(reused.body.error.code).toBe('TOKEN_REUSED');

    const afterReuse = await rest('/api/v1/auth/refresh', { body: { refresh_token: newest } });
    expect(afterReuse.status).toBe(401);
    expect(afterReuse.body.error.code).toBe('UNAUTHORIZED');

    const unknown = await rest('/api/v1/auth/refresh', {
      body: { refresh_token: `rt_${randomBytes(32).toString('hex')}` },
    });
    expect(unknown.status).toBe(401);
  });

  it('an expired token is 401 TOKEN_EXPIRED; a tampered one 401 UNAUTHORIZED', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const key = await t.platform.db.prisma.signingKey.findFirstOrThrow({ where: { retiredAt: null } });
    const stored = key.privateJwk as { sealed?: string };
    const jwk = stored.sealed ? (JSON.parse(t.platform.secretBox.open(stored.sealed)) as JWK) : (stored as JWK);
    const privateKey = await importJWK(jwk, 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ tenant_id: tenantId, roles: ['user'], scope: 'read:tenants' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setSubject(user.user.id)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .setJti('expired-test')
      .sign(privateKey);
    const answer = await me(expired);
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');

    const restAnswer = await rest('/api/v1/auth/refresh', { body: { refresh_token: 'x' }, token: expired });
    expect(restAnswer.status).toBe(401);
    expect(restAnswer.body).toMatchObject({ status: 'error', error: { code: 'TOKEN_EXPIRED' } });

    // Escalate the roles in the payload, keep the signature.
    const [header, payload, signature] = user.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url');
    const tampered = await me(`${header}.${forged}.${signature}`);
    expect(tampered.status).toBe(401);
    expect(tampered.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');

    // Right key, wrong audience: not a token for this API.
    const wrongAudience = await new SignJWT({ tenant_id: tenantId, roles: ['user'] })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setSubject(user.user.id)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience('someone-else')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti('aud-test')
      .sign(privateKey);
    expect((await me(wrongAudience)).status).toBe(401);
  });

  it("revoking a user's sessions stops their access token at once, and their refresh token", async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    expect((await me(user.accessToken)).status).toBe(200);
    await revokeUserSessions({ deps, userId: user.user.id });
    // In the shared kv (Redis in production), which every gateway instance reads per request.
    const revokedAt = await t.platform.kv.cache.get(userRevokedKey(user.user.id));
    expect(Number(revokedAt)).toBeGreaterThanOrEqual(Date.now() - 5_000);
    const answer = await me(user.accessToken);
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    const refreshed = await rest('/api/v1/auth/refresh', { body: { refresh_token: user.refreshToken } });
    expect(refreshed.status).toBe(401);
    // A sign-in after the revocation works again.
    const again = await login({ email: user.email, password: PASSWORD });
    expect(again.status).toBe(200);
    expect((await me(again.body.data.access_token)).status).toBe(200);
  });

  it('a role change orders tokens to the millisecond: in the same second, the earlier token is refused and a sign-in after it works', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const issuedAtMs = (token: string) => decodeJwt(token)[ISSUED_AT_MS_CLAIM] as number;
    // A second boundary can fall between the steps; a later round then lands within one second.
    let rounds = 0;
    for (let sameSecond = false; !sameSecond; rounds += 1) {
      expect(rounds, 'no round fell within one second').toBeLessThan(5);
      const before = await login({ email: user.email, password: PASSWORD, tenant_id: tenantId });
      expect(before.status).toBe(200);
      const beforeToken: string = before.body.data.access_token;
      const changed = await t.rest(`/api/v1/admin/users/${user.user.id}`, {
        method: 'PUT',
        body: { roles: rounds % 2 === 0 ? ['admin'] : ['member'] },
      });
      expect(changed.status, JSON.stringify(changed.body)).toBe(200);
      const after = await login({ email: user.email, password: PASSWORD, tenant_id: tenantId });
      expect(after.status).toBe(200);
      const afterToken: string = after.body.data.access_token;

      const revokedAt = Number(await t.platform.kv.cache.get(userRevokedKey(user.user.id)));
      expect(issuedAtMs(beforeToken)).toBeLessThanOrEqual(revokedAt);
      expect(issuedAtMs(afterToken)).toBeGreaterThan(revokedAt);
      expect((await me(beforeToken)).status).toBe(401);
      const answer = await me(afterToken);
      expect(answer.status).toBe(200);
      expect(answer.body.data?.me?.id).toBe(user.user.id);
      const second = (ms: number) => Math.floor(ms / 1000);
      sameSecond =
        second(issuedAtMs(beforeToken)) === second(revokedAt) && second(issuedAtMs(afterToken)) === second(revokedAt);
    }
  });

  it('suspended and deleted users stay refused after the shared kv loses its revocations (Redis flushed)', async () => {
    const tenantId = await createTenant();
    const suspended = await registerUser(tenantId);
    const deleted = await registerUser(tenantId);
    const active = await registerUser(tenantId);
    for (const [mutation, user] of [
      ['suspendUser', suspended],
      ['deleteUser', deleted],
    ] as const) {
      const answer = await gql(`mutation ($id: ID!) { ${mutation}(id: $id) { id } }`, { id: user.user.id });
      expect(answer.body.errors).toBeUndefined();
      expect((await me(user.accessToken)).status).toBe(401);
    }

    // What a Redis restart or FLUSHALL does to this platform's keys (on the embedded default the
    // same clear of the in-memory store): every revocation key and the restored marker are gone.
    await t.platform.kv.cache.clear('*');
    expect(await t.platform.kv.cache.get(userRevokedKey(suspended.user.id))).toBeNull();
    expect(await t.platform.kv.cache.get(REVOCATIONS_RESTORED_KEY)).toBeNull();

    for (const user of [suspended, deleted]) {
      const answer = await me(user.accessToken);
      expect(answer.status).toBe(401);
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    }
    // Restored from users.tokens_valid_after, then marked complete.
    expect(Number(await t.platform.kv.cache.get(userRevokedKey(suspended.user.id)))).toBeGreaterThan(0);
    expect(await t.platform.kv.cache.get(REVOCATIONS_RESTORED_KEY)).not.toBeNull();

    // Everyone else is unaffected: an earlier token and a fresh sign-in both work.
    expect((await me(active.accessToken)).status).toBe(200);
    const again = await login({ email: active.email, password: PASSWORD });
    expect(again.status).toBe(200);
    expect((await me(again.body.data.access_token)).status).toBe(200);
  });

  it('only the gateway may restore revocations', async () => {
    const answer = await gql('mutation { restoreTokenRevocations }');
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('unknown email and wrong password get the same status, code and message', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const ip = uniqueClientIp();
    const unknown = await login({ email: uniqueEmail(), password: PASSWORD }, ip);
    const wrong = await login({ email: user.email, password: 'wrong password here' }, ip);
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body.error).toEqual(wrong.body.error);
    expect(wrong.body.error).toEqual({
      code: 'INVALID_CREDENTIALS',
      message: 'Invalid email or password',
      details: {},
    });
  });

  it('locks the account after 5 consecutive failures, even for the right password', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await login({ email: user.email, password: `wrong password ${i}` });
      codes.push(answer.body.error.code);
    }
    expect(codes).toEqual([
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'ACCOUNT_LOCKED',
    ]);
    const right = await login({ email: user.email, password: PASSWORD });
    expect(right.status).toBe(423);
    expect(right.body.error).toMatchObject({ code: 'ACCOUNT_LOCKED', details: { locked_until: iso } });

    // A success resets the count: four failures, a success, four more do not lock.
    const other = await registerUser(tenantId);
    for (let i = 0; i < 4; i++) await login({ email: other.email, password: `nope nope nope ${i}` });
    expect((await login({ email: other.email, password: PASSWORD })).status).toBe(200);
    const stored = await t.platform.db.prisma.user.findUniqueOrThrow({ where: { id: other.user.id } });
    expect(stored.failedLoginCount).toBe(0);
  });

  it('a suspended user with the right password is ACCOUNT_DISABLED; with a wrong one, INVALID_CREDENTIALS', async () => {
    const tenantId = await createTenant();
    const user = await registerUser(tenantId);
    await t.platform.db.prisma.user.update({ where: { id: user.user.id }, data: { status: 'suspended' } });
    expect((await login({ email: user.email, password: 'wrong password here' })).body.error.code).toBe(
      'INVALID_CREDENTIALS',
    );
    const right = await login({ email: user.email, password: PASSWORD });
    expect(right.status).toBe(403);
    expect(right.body.error.code).toBe('ACCOUNT_DISABLED');
  });

  it('registration is closed by default and opens with updateTenantAuthSettings (a tenant admin)', async () => {
    const tenantId = await createTenant();
    const email = uniqueEmail();
    const closed = await rest('/api/v1/auth/register', {
      body: { email, password: PASSWORD, name: 'Eve', tenant_id: tenantId },
    });
    expect(closed.status).toBe(403);
    expect(closed.body).toMatchObject({
      status: 'error',
      error: { code: 'REGISTRATION_CLOSED' },
      meta: { request_id: expect.any(String) },
    });
    expect(await t.platform.db.prisma.user.count({ where: { email } })).toBe(0);

    // A tenant admin (role admin: write:users for their own tenant) opens it.
    const admin = await registerUser(tenantId);
    await t.platform.db.prisma.user.update({ where: { id: admin.user.id }, data: { roles: ['admin'] } });
    const adminToken = (await login({ email: admin.email, password: PASSWORD })).body.data.access_token as string;
    const elsewhere = await gql(
      'mutation ($id: ID) { updateTenantAuthSettings(tenantId: $id, registrationOpen: true) { registrationOpen } }',
      { id: await createTenant() },
      { token: adminToken },
    );
    expect(elsewhere.body.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');
    const opened = await gql<{ updateTenantAuthSettings: { tenantId: string; registrationOpen: boolean } }>(
      'mutation { updateTenantAuthSettings(registrationOpen: true) { tenantId registrationOpen } }',
      {},
      { token: adminToken },
    );
    expect(opened.body.data).toEqual({ updateTenantAuthSettings: { tenantId, registrationOpen: true } });

    const open = await rest('/api/v1/auth/register', {
      body: { email, password: PASSWORD, name: 'Eve', tenant_id: tenantId },
    });
    expect(open.status).toBe(201);
    const duplicate = await rest('/api/v1/auth/register', {
      body: { email, password: PASSWORD, name: 'Eve', tenant_id: tenantId },
    });
    expect(duplicate.status).toBe(409);
  });

  it("a user of tenant A cannot read tenant B's users, nor register users there", async () => {
    const tenantA = await createTenant();
    const tenantB = await createTenant();
    const user = await registerUser(tenantA);
    const answer = await gql(
      'query ($id: ID!) { tenant(id: $id) { id users { id } } }',
      { id: tenantB },
      { token: user.accessToken },
    );
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');

    await t.platform.db.prisma.user.update({ where: { id: user.user.id }, data: { roles: ['admin'] } });
    const adminToken = (await login({ email: user.email, password: PASSWORD })).body.data.access_token as string;
    const planted = await rest('/api/v1/auth/register', {
      token: adminToken,
      body: { email: uniqueEmail(), password: PASSWORD, name: 'Mallory', tenant_id: tenantB },
    });
    expect(planted.status).toBe(403);
    expect(planted.body.error.code).toBe('TENANT_MISMATCH');
  });

  it('malformed bodies are 400 in the platform-forge shape and create no user', async () => {
    const tenantId = await createTenant();
    await gql(
      'mutation ($id: ID) { updateTenantAuthSettings(tenantId: $id, registrationOpen: true) { registrationOpen } }',
      { id: tenantId },
    );
    const email = uniqueEmail();
    const cases: Array<{ body?: unknown; raw?: string; code: string }> = [
      { body: { email: 'not-an-email', password: PASSWORD, name: 'X', tenant_id: tenantId }, code: 'VALIDATION_ERROR' },
      { body: { email, password: PASSWORD, tenant_id: tenantId }, code: 'VALIDATION_ERROR' },
      { body: { email, password: 'short', name: 'X', tenant_id: tenantId }, code: 'VALIDATION_ERROR' },
      { body: { email, password: 'password1234', name: 'X', tenant_id: tenantId }, code: 'VALIDATION_ERROR' },
      { body: { email, password: email, name: 'X', tenant_id: tenantId }, code: 'VALIDATION_ERROR' },
      { body: [email], code: 'VALIDATION_ERROR' },
      { raw: '{"email": ', code: 'MALFORMED_JSON' },
    ];
    for (const c of cases) {
      const answer = await rest('/api/v1/auth/register', { body: c.body, rawBody: c.raw });
      expect(answer.status, JSON.stringify(c)).toBe(400);
      expect(answer.body).toEqual({
        status: 'error',
        error: { code: c.code, message: expect.any(String), details: expect.any(Object) },
        meta: { timestamp: iso, request_id: expect.any(String) },
      });
    }
    expect(await t.platform.db.prisma.user.count({ where: { email } })).toBe(0);
    const badLogin = await rest('/api/v1/auth/login', { body: { email } });
    expect(badLogin.status).toBe(400);
    expect(badLogin.body.error.details.fields[0]).toMatchObject({ in: 'body', path: 'password' });
  });

  it('an email in several tenants needs tenant_id to sign in', async () => {
    const email = uniqueEmail();
    const tenantA = await createTenant();
    const tenantB = await createTenant();
    const a = await registerUser(tenantA, email);
    await registerUser(tenantB, email);
    const ambiguous = await login({ email, password: PASSWORD });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.error.code).toBe('VALIDATION_ERROR');
    expect(ambiguous.body.error.details.fields[0].path).toBe('tenant_id');
    const chosen = await login({ email, password: PASSWORD, tenant_id: tenantA });
    expect(chosen.status).toBe(200);
    expect(chosen.body.data.user.id).toBe(a.user.id);
  });

  it('the 21st auth request in a minute from one caller is 429', async () => {
    const ip = uniqueClientIp();
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      statuses.push((await rest('/api/v1/auth/refresh', { body: { refresh_token: `rt_${i}` }, clientIp: ip })).status);
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
    const limited = await rest('/api/v1/auth/login', {
      body: { email: uniqueEmail(), password: PASSWORD },
      clientIp: ip,
    });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('passwords', () => {
  it('applies the stated policy: 12-128 characters, not common, not the email', () => {
    const email = 'alice.smith@example.com';
    expect(() => assertPasswordPolicy('a fine long passphrase', { email })).not.toThrow();
    for (const bad of ['elevenchars', 'x'.repeat(129), 'Password1234', 'ALICE.SMITH@example.com', 'alice.smith']) {
      expect(() => assertPasswordPolicy(bad, { email }), bad).toThrow(
        expect.objectContaining({ code: 'VALIDATION_ERROR' }),
      );
    }
    // Length counts characters, not bytes: twelve emoji are twelve characters.
    expect(() => assertPasswordPolicy('🔑'.repeat(12), { email })).not.toThrow();
  });

  it('hashes with argon2id at the OWASP parameters; a missing hash never verifies', async () => {
    const stored = await hashPassword('a fine long passphrase');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(needsRehash(stored)).toBe(false);
    expect(needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA')).toBe(true);
    expect(await verifyPassword(stored, 'a fine long passphrase')).toBe(true);
    // NFKC: the compatibility form of the same text matches.
    expect(await verifyPassword(await hashPassword('ﬁne passphrase!'), 'fine passphrase!')).toBe(true);
    expect(await verifyPassword(stored, 'a fine long passphrasE')).toBe(false);
    expect(await verifyPassword(null, 'a fine long passphrase')).toBe(false);
    expect(await verifyPassword('not a hash', 'anything at all')).toBe(false);
  });

  it('an unknown user costs the same argon2 work as a wrong password', async () => {
    // argon2's cost is fixed by its parameters (m, t, p) and the hash length, not by the password:
    // a dummy hash made with the same parameters costs what a real verification costs. Checked
    // structurally rather than by a stopwatch, which a busy machine makes flaky.
    const params = (encoded: string) => encoded.split('$').slice(0, 4).join('$');
    const real = await hashPassword('a fine long passphrase');
    const dummy = await getDummyHash();
    expect(params(dummy)).toBe(params(real));
    expect(dummy.split('$')[5]!.length).toBe(real.split('$')[5]!.length);
    expect(dummy).not.toBe(real);
    expect(await verifyPassword(null, 'a fine long passphrase')).toBe(false);
  });
});
