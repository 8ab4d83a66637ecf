import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../lib/errors.js';
import { createLogger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import {
  assertNotBlocked,
  listThreats,
  recordLoginAttempt,
  severityFor,
  type LoginAttemptInput,
} from '../subgraphs/identity/services/threats.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { uniqueClientIp } from './support/rest.js';

const PASSWORD = 'Correct-Horse-Battery-9';

let t: TestPlatform;
let deps: SubgraphDeps;

const operator: Principal = {
  kind: 'operator',
  id: 'operator',
  projectId: null,
  tenantId: null,
  roles: ['operator'],
  scopes: ['admin:security'],
};

beforeAll(async () => {
  // The gateway believes X-Forwarded-For from the test's own loopback address: each request can
  // then come "from" any ip, as behind a real load balancer.
  t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
  deps = t.platform.deps;
});

afterAll(async () => {
  await t?.close();
});

async function registerUser(tenantId: string): Promise<{ email: string; id: string }> {
  const email = `${uniqueSlug('u')}@example.com`;
  const res = await t.graphql<{ register: { user: { id: string } } }>(
    `mutation ($email: String!, $password: String!, $tenantId: ID!) {
      register(email: $email, password: $password, name: "Threat Test", tenantId: $tenantId) { user { id } }
    }`,
    { email, password: PASSWORD, tenantId },
  );
  expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
  return { email, id: res.body.data!.register.user.id };
}

/**
 * Signs in through the documented REST route from `ip`; returns the error code, or 'OK'. Checks
 * the HTTP status against the code, since REST clients read the status first.
 */
async function login(input: { email: string; password: string; tenantId: string; ip: string }): Promise<string> {
  const res = await t.rest('/api/v1/auth/login', {
    method: 'POST',
    token: null,
    clientIp: input.ip,
    body: { email: input.email, password: input.password, tenant_id: input.tenantId },
  });
  const body = res.body as { status: string; data?: { access_token: string }; error?: { code: string } };
  if (body.status === 'error') {
    const expected = { ACCESS_BLOCKED: 403, INVALID_CREDENTIALS: 401, ACCOUNT_LOCKED: 423 }[body.error!.code];
    if (expected) expect(res.status).toBe(expected);
    return body.error!.code;
  }
  expect(res.status).toBe(200);
  expect(body.data?.access_token).toMatch(/^ey/);
  return 'OK';
}

interface RestThreat {
  id: string;
  tenant_id: string | null;
  kind: string;
  severity: string;
  status: string;
  ip: string | null;
  email: string | null;
  user_id: string | null;
  attempts: number;
  blocked_until: string | null;
  detected_at: string;
}

async function getThreats(
  query: Record<string, string>,
  token: string = t.operatorKey,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await t.rest(`/api/v1/security/threats?${new URLSearchParams(query).toString()}`, { token });
  return { status: res.status, body: res.body };
}

async function threatList(query: Record<string, string>): Promise<RestThreat[]> {
  const res = await getThreats({ limit: '100', ...query });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.data as { threats: RestThreat[] }).threats;
}

describe('login threat detection, end to end', () => {
  it('turns one ip failing against 5 accounts into credential stuffing and blocks that ip, right password or not', async () => {
    const tenantId = uniqueSlug('ten');
    const victim = await registerUser(tenantId);
    const attacker = uniqueClientIp();
    for (let i = 0; i < 5; i++) {
      const code = await login({
        email: `${uniqueSlug('x')}@example.com`,
        password: 'wrong-guess-1',
        tenantId,
        ip: attacker,
      });
      expect(code).toBe('INVALID_CREDENTIALS');
    }
    // The attacker now holds a valid password: still refused, before the password is checked.
    expect(await login({ email: victim.email, password: PASSWORD, tenantId, ip: attacker })).toBe('ACCESS_BLOCKED');
    // The block is on the ip, not on the account.
    expect(await login({ email: victim.email, password: PASSWORD, tenantId, ip: uniqueClientIp() })).toBe('OK');

    const threats = (await threatList({ status: 'active' })).filter((th) => th.ip === attacker);
    expect(threats).toHaveLength(1);
    const [stuffing] = threats;
    // The refused attempt on a 6th account adds to the attack's size, without a second row.
    expect(stuffing).toMatchObject({
      kind: 'credential_stuffing',
      severity: 'high',
      status: 'active',
      tenant_id: tenantId,
      attempts: 6,
    });
    // Stuffing blocks for an hour.
    const blockedUntil = new Date(stuffing!.blocked_until!).getTime();
    expect(blockedUntil - new Date(stuffing!.detected_at).getTime()).toBeGreaterThanOrEqual(59 * 60_000);

    // The attacker keeps going while blocked: the threat escalates, the block is not extended
    // by refusals (only by failures that reached a password check).
    for (let i = 0; i < 4; i++) {
      const code = await login({
        email: `${uniqueSlug('x')}@example.com`,
        password: 'wrong-guess-1',
        tenantId,
        ip: attacker,
      });
      expect(code).toBe('ACCESS_BLOCKED');
    }
    const after = (await threatList({})).filter((th) => th.ip === attacker);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: stuffing!.id, attempts: 10, severity: 'critical' });
    expect(new Date(after[0]!.blocked_until!).getTime()).toBe(blockedUntil);
  });

  it('blocks an account after a burst of failures from many ips, and records the user', async () => {
    const tenantId = uniqueSlug('ten');
    const unknownEmail = `${uniqueSlug('ghost')}@example.com`;
    const ghostCodes: string[] = [];
    for (let i = 0; i < 5; i++) {
      ghostCodes.push(await login({ email: unknownEmail, password: 'nope-nope-1', tenantId, ip: uniqueClientIp() }));
    }
    // Exactly what a real account answers (below): no way to tell which emails exist.
    expect(ghostCodes).toEqual([...Array(4).fill('INVALID_CREDENTIALS'), 'ACCOUNT_LOCKED']);
    // Any ip: the block is on the account.
    expect(await login({ email: unknownEmail, password: 'nope-nope-1', tenantId, ip: uniqueClientIp() })).toBe(
      'ACCOUNT_LOCKED',
    );
    const [ghost] = (await threatList({})).filter((th) => th.email === unknownEmail);
    expect(ghost).toMatchObject({
      kind: 'failed_login_burst_account',
      severity: 'medium',
      tenant_id: tenantId,
      // The five failures, and the refused sixth.
      attempts: 6,
      user_id: null,
    });

    // A real account: its own lockout answers first, and the threat names the user.
    const user = await registerUser(tenantId);
    const codes: string[] = [];
    for (let i = 0; i < 5; i++)
      codes.push(await login({ email: user.email, password: 'bad-pass-1', tenantId, ip: uniqueClientIp() }));
    expect(codes.slice(0, 4)).toEqual(Array(4).fill('INVALID_CREDENTIALS'));
    expect(codes[4]).toBe('ACCOUNT_LOCKED');
    const [burst] = (await threatList({})).filter((th) => th.email === user.email);
    expect(burst).toMatchObject({ kind: 'failed_login_burst_account', user_id: user.id, status: 'active' });
  });

  it('filters GET /api/v1/security/threats by severity, status and start_date, and pages', async () => {
    const tenantId = uniqueSlug('ten');
    const ip = uniqueClientIp();
    const directory = `tenant:${tenantId}`;
    // Seeded through the service (no argon2): a stuffing (high) and an account burst (medium).
    for (let i = 0; i < 5; i++) {
      await recordLoginAttempt({
        deps,
        attempt: { directory, email: `${uniqueSlug('s')}@example.com`, ip, success: false, reason: 'unknown_user' },
      });
    }
    const email = `${uniqueSlug('b')}@example.com`;
    for (let i = 0; i < 5; i++) {
      await recordLoginAttempt({
        deps,
        attempt: { directory, email, ip: uniqueClientIp(), success: false, reason: 'bad_password' },
      });
    }
    const mine = (list: RestThreat[]) => list.filter((th) => th.tenant_id === tenantId);

    const high = await threatList({ severity: 'high' });
    expect(high.every((th) => th.severity === 'high')).toBe(true);
    expect(mine(high).map((th) => th.kind)).toEqual(['credential_stuffing']);

    const medium = await threatList({ severity: 'medium', status: 'active' });
    expect(medium.every((th) => th.severity === 'medium' && th.status === 'active')).toBe(true);
    expect(mine(medium).map((th) => th.kind)).toEqual(['failed_login_burst_account']);

    expect(mine(await threatList({ status: 'false_positive' }))).toEqual([]);
    expect(mine(await threatList({ start_date: new Date(Date.now() + 60_000).toISOString() }))).toEqual([]);
    const since = await threatList({ start_date: new Date(Date.now() - 60_000).toISOString() });
    expect(mine(since)).toHaveLength(2);
    expect(since.every((th) => new Date(th.detected_at).getTime() >= Date.now() - 120_000)).toBe(true);

    const page = await getThreats({ limit: '1', page: '1' });
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ status: 'success', meta: { version: '1.0' } });
    const data = page.body.data as { threats: RestThreat[]; pagination: Record<string, number> };
    expect(data.threats).toHaveLength(1);
    expect(data.pagination.limit).toBe(1);
    expect(data.pagination.total).toBeGreaterThanOrEqual(2);
    expect(data.pagination.pages).toBe(data.pagination.total);

    const bad = await getThreats({ severity: 'apocalyptic' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 'error', error: { code: 'VALIDATION_ERROR' } });
  });

  it('requires admin:security: a signed-in ordinary user is refused', async () => {
    const tenantId = uniqueSlug('ten');
    const user = await registerUser(tenantId);
    const res = await t.rest('/api/v1/auth/login', {
      method: 'POST',
      token: null,
      clientIp: uniqueClientIp(),
      body: { email: user.email, password: PASSWORD, tenant_id: tenantId },
    });
    const token = res.body.data.access_token as string;
    const denied = await getThreats({}, token);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ status: 'error', error: { code: 'FORBIDDEN' } });
    const anonymous = await t.rest('/api/v1/security/threats', { token: null });
    expect(anonymous.status).toBe(401);
  });

  it("shows a tenant admin only the tenant's own threats, and lets them clear only those", async () => {
    const seedStuffing = async (tenantId: string): Promise<string> => {
      const ip = uniqueClientIp();
      for (let i = 0; i < 5; i++) {
        await recordLoginAttempt({
          deps,
          attempt: {
            directory: `tenant:${tenantId}`,
            email: `${uniqueSlug('s')}@example.com`,
            ip,
            success: false,
            reason: 'unknown_user',
          },
        });
      }
      return (await deps.db.prisma.threat.findFirstOrThrow({ where: { ip } })).id;
    };
    const tenantA = uniqueSlug('ten');
    const tenantB = uniqueSlug('ten');
    const threatA = await seedStuffing(tenantA);
    const threatB = await seedStuffing(tenantB);

    const admin = await registerUser(tenantA);
    const promoted = await t.graphql(
      `mutation ($id: ID!) { updateUser(id: $id, input: { roles: ["admin"] }) { roles } }`,
      { id: admin.id },
    );
    expect(promoted.body.errors, JSON.stringify(promoted.body.errors)).toBeUndefined();
    const signIn = await t.rest('/api/v1/auth/login', {
      method: 'POST',
      token: null,
      clientIp: uniqueClientIp(),
      body: { email: admin.email, password: PASSWORD, tenant_id: tenantA },
    });
    const token = signIn.body.data.access_token as string;

    const seen = await getThreats({ limit: '100' }, token);
    expect(seen.status, JSON.stringify(seen.body)).toBe(200);
    const list = (seen.body.data as { threats: RestThreat[] }).threats;
    expect(list.map((th) => th.id)).toEqual([threatA]);

    const clear = (id: string) =>
      t.graphql(
        `mutation ($id: ID!) { updateThreatStatus(id: $id, status: "false_positive") { id status } }`,
        { id },
        {
          token,
        },
      );
    expect((await clear(threatB)).body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await clear(threatA)).body.data).toEqual({ updateThreatStatus: { id: threatA, status: 'false_positive' } });
  });

  it('lifts the block when an admin marks the threat a false positive', async () => {
    const tenantId = uniqueSlug('ten');
    const user = await registerUser(tenantId);
    const ip = uniqueClientIp();
    for (let i = 0; i < 5; i++) {
      await recordLoginAttempt({
        deps,
        attempt: {
          directory: `tenant:${tenantId}`,
          email: `${uniqueSlug('s')}@example.com`,
          ip,
          success: false,
          reason: 'unknown_user',
        },
      });
    }
    expect(await login({ email: user.email, password: PASSWORD, tenantId, ip })).toBe('ACCESS_BLOCKED');
    const [threat] = (await threatList({ status: 'active' })).filter((th) => th.ip === ip);

    const res = await t.graphql<{ updateThreatStatus: { status: string; blockedUntil: string } }>(
      `mutation ($id: ID!) { updateThreatStatus(id: $id, status: "false_positive") { status blockedUntil } }`,
      { id: threat!.id },
    );
    expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
    expect(res.body.data!.updateThreatStatus.status).toBe('false_positive');
    expect(new Date(res.body.data!.updateThreatStatus.blockedUntil).getTime()).toBeLessThanOrEqual(Date.now());

    expect(await login({ email: user.email, password: PASSWORD, tenantId, ip })).toBe('OK');
    // The failures the admin just cleared do not re-open the block at the next typo.
    expect(await login({ email: user.email, password: 'typo-typo-1', tenantId, ip })).toBe('INVALID_CREDENTIALS');
    expect(await login({ email: user.email, password: PASSWORD, tenantId, ip })).toBe('OK');

    const unknown = await t.graphql(`mutation { updateThreatStatus(id: "thr_missing", status: "mitigated") { id } }`);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('detection rules (services on the real database)', () => {
  const attemptFor = (overrides: Partial<LoginAttemptInput>): LoginAttemptInput => ({
    directory: `tenant:${uniqueSlug('ten')}`,
    email: `${uniqueSlug('d')}@example.com`,
    success: false,
    reason: 'bad_password',
    ...overrides,
  });

  it('states its severity thresholds', () => {
    expect(severityFor('failed_login_burst_account', 5)).toBe('medium');
    expect(severityFor('failed_login_burst_account', 10)).toBe('high');
    expect(severityFor('failed_login_burst_account', 25)).toBe('critical');
    expect(severityFor('failed_login_burst_ip', 10)).toBe('medium');
    expect(severityFor('failed_login_burst_ip', 50)).toBe('critical');
    expect(severityFor('credential_stuffing', 5)).toBe('high');
    expect(severityFor('credential_stuffing', 10)).toBe('critical');
  });

  it('opens one ip burst at 10 failures from one ip over few accounts, and updates it afterwards', async () => {
    const ip = uniqueClientIp();
    const directory = `tenant:${uniqueSlug('ten')}`;
    const emails = Array.from({ length: 4 }, () => `${uniqueSlug('e')}@example.com`);
    // 3+3+2+2: no account reaches 5 and only 4 accounts: neither account burst nor stuffing.
    const sequence = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3];
    for (const [n, i] of sequence.entries()) {
      if (n === 9) {
        await expect(assertNotBlocked({ deps, ip, directory, email: emails[0]! })).resolves.toBeUndefined();
      }
      await recordLoginAttempt({ deps, attempt: attemptFor({ directory, email: emails[i], ip }) });
    }
    const rows = await deps.db.prisma.threat.findMany({ where: { ip } });
    expect(rows.map((r) => [r.kind, r.severity, r.attempts])).toEqual([['failed_login_burst_ip', 'medium', 10]]);
    await expect(assertNotBlocked({ deps, ip, directory, email: 'someone@else.example' })).rejects.toMatchObject({
      code: 'ACCESS_BLOCKED',
      details: expect.objectContaining({ reason: 'failed_login_burst_ip' }),
    });

    await recordLoginAttempt({ deps, attempt: attemptFor({ directory, email: emails[3], ip }) });
    const updated = await deps.db.prisma.threat.findMany({ where: { ip } });
    expect(updated).toHaveLength(1);
    expect(updated[0]!.attempts).toBe(11);
  });

  it('opens nothing on refusals (block, lockout) or on passwords awaiting MFA', async () => {
    const directory = `tenant:${uniqueSlug('ten')}`;
    const email = `${uniqueSlug('m')}@example.com`;
    const reasons = ['blocked', 'locked', 'mfa_required', 'blocked', 'locked', 'mfa_required', 'bad_password'];
    for (const reason of [...reasons, 'bad_password']) {
      await recordLoginAttempt({ deps, attempt: { directory, email, ip: uniqueClientIp(), success: false, reason } });
    }
    expect(await deps.db.prisma.loginAttempt.count({ where: { directory, email } })).toBe(8);
    expect(await deps.db.prisma.threat.count({ where: { email } })).toBe(0);
  });

  it('lets the block run out: the threat is then mitigated', async () => {
    const directory = `tenant:${uniqueSlug('ten')}`;
    const tenantId = directory.slice('tenant:'.length);
    const email = `${uniqueSlug('x')}@example.com`;
    for (let i = 0; i < 5; i++) {
      await recordLoginAttempt({
        deps,
        attempt: { directory, email, ip: uniqueClientIp(), success: false, reason: 'bad_password' },
      });
    }
    await expect(assertNotBlocked({ deps, directory, email })).rejects.toBeInstanceOf(AppError);
    // The same email in another directory is another account.
    await expect(assertNotBlocked({ deps, directory: 'accounts', email })).resolves.toBeUndefined();

    const later = new Date(Date.now() + 16 * 60_000);
    await expect(assertNotBlocked({ deps, directory, email, now: later })).resolves.toBeUndefined();
    const tenantAdmin: Principal = { ...operator, kind: 'user', id: 'usr_admin', tenantId, roles: ['admin'] };
    const page = await listThreats({ deps, principal: tenantAdmin, input: {}, now: later });
    expect(page.threats.map((th) => [th.email, th.status])).toEqual([[email, 'mitigated']]);
    // Tenant-scoped: another tenant's admin sees none of it.
    const otherAdmin: Principal = { ...tenantAdmin, tenantId: uniqueSlug('ten') };
    expect((await listThreats({ deps, principal: otherAdmin, input: {} })).threats).toEqual([]);
  });

  it('never lets a failing detection break the login that called it', async () => {
    const errors: unknown[] = [];
    const logger = createLogger({ level: 'silent' });
    logger.error = ((obj: unknown) => {
      errors.push(obj);
    }) as typeof logger.error;
    const broken = {
      ...deps,
      db: {
        ...deps.db,
        prisma: {
          loginAttempt: {
            create: () => Promise.reject(new Error('database is gone')),
          },
        },
      },
    } as unknown as SubgraphDeps;
    await expect(
      recordLoginAttempt({ deps: broken, logger, attempt: attemptFor({ ip: uniqueClientIp() }) }),
    ).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
