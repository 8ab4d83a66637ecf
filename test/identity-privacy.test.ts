import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CLIENT } from '../lib/principal.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { erasedEmail } from '../subgraphs/identity/privacy.js';
import { issueSession } from '../subgraphs/identity/services/sessions.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { waitFor } from './support/rest.js';

// The platform-forge Privacy Module end to end: real gateway, identity and telemetry subgraphs,
// real job queue (in-process on the embedded default, BullMQ with TEST_REDIS_URL).

const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  tenantId: string;
}

async function createTenant(t: TestPlatform): Promise<string> {
  const slug = uniqueSlug('priv');
  const created = await t.graphql<{ createTenant: { id: string } }>(
    `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }`,
    { input: { name: `Privacy ${slug}`, slug } },
  );
  expect(created.body.errors).toBeUndefined();
  return created.body.data!.createTenant.id;
}

/** The operator registers the user (write:users), which also signs them in: H1's real session. */
async function registerUser(t: TestPlatform, tenantId: string, email?: string): Promise<TestUser> {
  const address = email ?? `${uniqueSlug('user')}@example.com`;
  const password = `Privacy-${randomBytes(8).toString('hex')}-Pw9!`;
  const answer = await t.graphql<{ register: { accessToken: string; user: { id: string } } }>(
    `mutation ($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
      register(email: $email, password: $password, name: $name, tenantId: $tenantId) { accessToken user { id } }
    }`,
    { email: address, password, name: 'Pat Privacy', tenantId },
  );
  expect(answer.body.errors).toBeUndefined();
  const { accessToken, user } = answer.body.data!.register;
  return { id: user.id, email: address, password, token: accessToken, tenantId };
}

async function recordEvent(t: TestPlatform, user: TestUser, payload: Record<string, unknown>): Promise<string> {
  const answer = await t.graphql<{ recordEvent: { id: string } }>(
    `mutation ($input: RecordEventInput!) { recordEvent(input: $input) { id } }`,
    { input: { type: 'page.viewed', source: 'web', payload } },
    { token: user.token },
  );
  expect(answer.body.errors).toBeUndefined();
  return answer.body.data!.recordEvent.id;
}

const DATA_REQUEST = `query ($id: ID!) {
  dataRequest(id: $id) {
    id kind status error result requestedAt completedAt expiresAt estimatedCompletion
    archive { filename contentType sizeBytes contentBase64 expiresAt }
  }
}`;

interface DataRequestView {
  id: string;
  kind: string;
  status: string;
  error: string | null;
  result: Record<string, unknown>;
  expiresAt: string | null;
  archive: {
    filename: string;
    contentType: string;
    sizeBytes: number;
    contentBase64: string;
    expiresAt: string;
  } | null;
}

/** Polls through GraphQL until the job has finished, as a client would. */
async function waitForRequest(t: TestPlatform, id: string, token: string): Promise<DataRequestView> {
  return waitFor(
    async () => {
      const answer = await t.graphql<{ dataRequest: DataRequestView | null }>(DATA_REQUEST, { id }, { token });
      expect(answer.body.errors).toBeUndefined();
      const request = answer.body.data!.dataRequest;
      expect(request).not.toBeNull();
      return request!.status === 'processing' ? undefined : request!;
    },
    `data request ${id} to finish`,
    { timeoutMs: 20_000 },
  );
}

function platformDeps(t: TestPlatform): SubgraphDeps {
  return t.platform.deps;
}

async function isTokenAccepted(t: TestPlatform, token: string): Promise<boolean> {
  const answer = await t.graphql<{ me: { id: string } }>('{ me { id } }', {}, { token });
  return answer.status === 200 && !answer.body.errors && Boolean(answer.body.data?.me?.id);
}

describe('platform-forge privacy module', () => {
  let t: TestPlatform;
  let tenantId: string;
  beforeAll(async () => {
    t = await bootPlatform();
    tenantId = await createTenant(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('consent: status, update, versioned history', async () => {
    const user = await registerUser(t, tenantId);

    const initial = await t.rest('/api/v1/privacy/consent/status', { token: user.token });
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ status: 'success', meta: { timestamp: iso } });
    // Opt-in: nothing granted until the user says so; necessary is not a choice.
    expect(initial.body.data).toEqual({
      consents: { analytics: false, marketing: false, necessary: true, preferences: false },
      updated_at: null,
    });

    const updated = await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: user.token,
      body: {
        consents: { analytics: true, marketing: false },
        consent_version: '2.0',
      },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toEqual({
      consents: { analytics: true, marketing: false, necessary: true, preferences: false },
      updated_at: iso,
    });
    const status = await t.rest('/api/v1/privacy/consent/status', { token: user.token });
    expect(status.body.data).toEqual(updated.body.data);

    // The same choices under the same version are not a change; under a new version they are.
    await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: user.token,
      body: {
        consents: { analytics: true, marketing: false },
        consent_version: '2.0',
      },
    });
    const reconfirmed = await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: user.token,
      body: {
        consents: { analytics: true, preferences: true },
        consent_version: '2.1',
      },
    });
    expect(reconfirmed.body.data.consents).toEqual({
      analytics: true,
      marketing: false,
      necessary: true,
      preferences: true,
    });

    const history = await t.graphql<{
      consentHistory: Array<{ category: string; granted: boolean; version: string; createdAt: string }>;
    }>('{ consentHistory { id category granted version ip createdAt } }', {}, { token: user.token });
    expect(history.body.errors).toBeUndefined();
    const rows = history.body.data!.consentHistory;
    expect(rows).toHaveLength(4);
    expect(
      rows
        .slice(0, 2)
        .map((r) => [r.category, r.granted, r.version])
        .sort(),
    ).toEqual([
      ['analytics', true, '2.1'],
      ['preferences', true, '2.1'],
    ]);
    expect(
      rows
        .slice(2)
        .map((r) => [r.category, r.granted, r.version])
        .sort(),
    ).toEqual([
      ['analytics', true, '2.0'],
      ['marketing', false, '2.0'],
    ]);
    for (const row of rows) expect(row).toMatchObject({ id: expect.any(String), createdAt: iso });

    const viaGraphql = await t.graphql<{ updateConsent: Record<string, unknown> }>(
      `mutation { updateConsent(input: { consents: { marketing: true }, consentVersion: "2.1" }) {
        analytics marketing necessary preferences updatedAt version
      } }`,
      {},
      { token: user.token },
    );
    expect(viaGraphql.body.data!.updateConsent).toEqual({
      analytics: true,
      marketing: true,
      necessary: true,
      preferences: true,
      updatedAt: iso,
      version: '2.1',
    });
    const afterGraphql = await t.graphql<{ consentStatus: { marketing: boolean } }>(
      '{ consentStatus { marketing } }',
      {},
      { token: user.token },
    );
    expect(afterGraphql.body.data!.consentStatus.marketing).toBe(true);
  });

  it('consent: unknown categories, withdrawing necessary, and non-users are refused', async () => {
    const user = await registerUser(t, tenantId);
    const unknown = await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: user.token,
      body: {
        consents: { analytics: true, telepathy: true },
        consent_version: '2.0',
      },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('VALIDATION_ERROR');
    expect(JSON.stringify(unknown.body.error.details)).toContain('telepathy');

    const necessary = await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: user.token,
      body: {
        consents: { necessary: false },
        consent_version: '2.0',
      },
    });
    expect(necessary.status).toBe(400);
    expect(necessary.body.error.code).toBe('VALIDATION_ERROR');

    const noVersion = await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: user.token,
      body: {
        consents: { analytics: true },
      },
    });
    expect(noVersion.status).toBe(400);

    // Nothing of the refused updates was recorded.
    const status = await t.rest('/api/v1/privacy/consent/status', { token: user.token });
    expect(status.body.data.updated_at).toBeNull();

    expect((await t.rest('/api/v1/privacy/consent/status', { token: null })).status).toBe(401);
    const operator = await t.rest('/api/v1/privacy/consent/status', { token: t.operatorKey });
    expect(operator.status).toBe(403);
    expect(operator.body.error.code).toBe('FORBIDDEN');
  });

  it('export: the archive holds the user’s identity and telemetry data and nobody else’s', async () => {
    const alice = await registerUser(t, tenantId);
    const bob = await registerUser(t, tenantId);
    await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: alice.token,
      body: {
        consents: { analytics: true },
        consent_version: '3.0',
      },
    });
    const aliceEvent = await recordEvent(t, alice, { user_id: alice.id, page: '/pricing' });
    const bobEvent = await recordEvent(t, bob, { user_id: bob.id, page: '/secret-bob-page' });
    // Recorded by Alice herself, naming nobody: hers through its actor.
    const ownEvent = await recordEvent(t, alice, { page: '/no-user-reference' });
    // Recorded by the operator in Alice's tenant, naming nobody: no one's.
    const operatorEvent = await t.graphql<{ recordEvent: { id: string } }>(
      `mutation ($input: RecordEventInput!) { recordEvent(input: $input) { id } }`,
      { input: { tenantId: alice.tenantId, type: 'page.viewed', source: 'batch', payload: { page: '/x' } } },
    );
    expect(operatorEvent.body.errors).toBeUndefined();
    const anonymousEvent = operatorEvent.body.data!.recordEvent.id;

    const started = await t.rest('/api/v1/privacy/data-requests/export', { method: 'POST', token: alice.token });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'success' });
    expect(started.body.data).toEqual({
      request_id: expect.stringMatching(/^req_/),
      status: 'processing',
      estimated_completion: iso,
    });
    const requestId: string = started.body.data.request_id;

    const done = await waitForRequest(t, requestId, alice.token);
    expect(done).toMatchObject({ kind: 'export', status: 'completed', error: null, expiresAt: iso });
    // Downloadable for a week, then refused.
    const ttlDays = (Date.parse(done.expiresAt!) - Date.now()) / 86_400_000;
    expect(ttlDays).toBeGreaterThan(6.9);
    expect(ttlDays).toBeLessThanOrEqual(7);
    expect(done.archive).toMatchObject({
      filename: expect.stringMatching(/\.json\.gz$/),
      contentType: 'application/gzip',
    });
    const bytes = Buffer.from(done.archive!.contentBase64, 'base64');
    expect(bytes.length).toBe(done.archive!.sizeBytes);
    const text = gunzipSync(bytes).toString('utf8');
    const archive = JSON.parse(text);
    expect(archive).toMatchObject({ request_id: requestId, user_id: alice.id, tenant_id: tenantId, generated_at: iso });
    expect(Object.keys(archive.subgraphs).sort()).toEqual(['identity', 'telemetry']);

    const identity = archive.subgraphs.identity;
    expect(identity.profile).toMatchObject({ id: alice.id, email: alice.email, name: 'Pat Privacy', status: 'active' });
    expect(identity.consents).toContainEqual(
      expect.objectContaining({ category: 'analytics', granted: true, version: '3.0' }),
    );
    expect(identity.sessions.length).toBeGreaterThan(0);
    expect(identity.data_requests).toContainEqual(expect.objectContaining({ id: requestId, kind: 'export' }));
    // Credentials are not personal information to hand out: no hashes in the archive.
    expect(text).not.toMatch(/password_?hash|token_?hash|code_?hash/i);

    const eventIds = archive.subgraphs.telemetry.events.map((e: { id: string }) => e.id);
    expect(eventIds).toContain(aliceEvent);
    expect(eventIds).toContain(ownEvent);
    expect(eventIds).not.toContain(bobEvent);
    // Not attributable to anyone: telemetry says so instead of guessing.
    expect(eventIds).not.toContain(anonymousEvent);
    expect(archive.subgraphs.telemetry.limitations.join(' ')).toContain('events the user recorded');
    expect(text).not.toContain(bob.id);
    expect(text).not.toContain(bob.email);
    expect(text).not.toContain('secret-bob-page');

    // Only the owner (or a tenant admin, or the operator) can see the request or its archive.
    const asBob = await t.graphql<{ dataRequest: unknown }>(DATA_REQUEST, { id: requestId }, { token: bob.token });
    expect(asBob.body.errors).toBeUndefined();
    expect(asBob.body.data!.dataRequest).toBeNull();
    const bobsList = await t.graphql<{ dataRequests: Array<{ id: string }> }>(
      '{ dataRequests { id } }',
      {},
      { token: bob.token },
    );
    expect(bobsList.body.data!.dataRequests).toEqual([]);
    const alicesList = await t.graphql<{ dataRequests: Array<{ id: string; status: string }> }>(
      '{ dataRequests { id status } }',
      {},
      { token: alice.token },
    );
    expect(alicesList.body.data!.dataRequests).toEqual([{ id: requestId, status: 'completed' }]);
    const otherUsersList = await t.graphql(
      '{ dataRequests(userId: "' + alice.id + '") { id } }',
      {},
      { token: bob.token },
    );
    expect(otherUsersList.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // A tenant admin answers subject requests for the tenant's users; another tenant's admin cannot.
    // Signed in through identity's own session service rather than the login mutation: sign-in
    // attempts from 127.0.0.1 are shared with every other suite on the database, and threat
    // detection may block that address for a while.
    const adminOf = async (tenant: string) => {
      const admin = await registerUser(t, tenant);
      const user = await t.platform.db.prisma.user.update({ where: { id: admin.id }, data: { roles: ['admin'] } });
      const session = await issueSession({ deps: platformDeps(t), user, client: NO_CLIENT });
      return session.accessToken;
    };
    const tenantAdmin = await adminOf(tenantId);
    const asAdmin = await waitForRequest(t, requestId, tenantAdmin);
    expect(asAdmin.archive?.contentBase64).toBe(done.archive!.contentBase64);
    const adminList = await t.graphql<{ dataRequests: Array<{ id: string }> }>(
      'query ($u: ID) { dataRequests(userId: $u) { id } }',
      { u: alice.id },
      { token: tenantAdmin },
    );
    expect(adminList.body.data!.dataRequests).toEqual([{ id: requestId }]);
    const foreignAdmin = await adminOf(await createTenant(t));
    const asForeign = await t.graphql<{ dataRequest: unknown }>(
      DATA_REQUEST,
      { id: requestId },
      { token: foreignAdmin },
    );
    expect(asForeign.body.data!.dataRequest).toBeNull();

    // An expired archive is refused even though the row still holds it.
    await t.platform.db.prisma.dataRequest.update({
      where: { id: requestId },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await waitForRequest(t, requestId, alice.token);
    expect(expired.status).toBe('completed');
    expect(expired.archive).toBeNull();
  });

  it('deletion: confirm must be literally true, and nothing is recorded otherwise', async () => {
    const user = await registerUser(t, tenantId);
    for (const body of [{ reason: 'User request', confirm: false }, { reason: 'User request', confirm: 'true' }, {}]) {
      const refused = await t.rest('/api/v1/privacy/data-requests/delete', { method: 'POST', token: user.token, body });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ status: 'error', error: { code: 'VALIDATION_ERROR' } });
    }
    const viaGraphql = await t.graphql(
      'mutation { requestDataDeletion(input: { reason: "x", confirm: false }) { id } }',
      {},
      { token: user.token },
    );
    expect(viaGraphql.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_ERROR');

    expect(await t.platform.db.prisma.dataRequest.count({ where: { userId: user.id } })).toBe(0);
    const row = await t.platform.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row).toMatchObject({ status: 'active', email: user.email, deletedAt: null });
    expect(await isTokenAccepted(t, user.token)).toBe(true);
  });

  it('deletion: access ends at once; every subgraph erases or anonymizes; the request stays as the record', async () => {
    const carol = await registerUser(t, tenantId);
    const dave = await registerUser(t, tenantId);
    const prisma = t.platform.db.prisma;
    await t.rest('/api/v1/privacy/consent/update', {
      method: 'POST',
      token: carol.token,
      body: {
        consents: { analytics: true, marketing: true },
        consent_version: '1.0',
      },
    });
    const carolEvent = await recordEvent(t, carol, { user_id: carol.id, page: '/account' });
    const daveEvent = await recordEvent(t, dave, { userId: dave.id, page: '/home' });
    // An earlier export: its archive is personal data too and must go with the account.
    const exported = await t.rest('/api/v1/privacy/data-requests/export', { method: 'POST', token: carol.token });
    expect((await waitForRequest(t, exported.body.data.request_id, carol.token)).status).toBe('completed');
    // Audit entries are written by a job after each mutation; wait for Carol's to land.
    await expect
      .poll(() => prisma.auditLog.count({ where: { actorId: carol.id } }), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(3);
    const auditBefore = await prisma.auditLog.findMany({ where: { actorId: carol.id }, select: { id: true } });

    const answer = await t.rest('/api/v1/privacy/data-requests/delete', {
      method: 'POST',
      token: carol.token,
      body: {
        reason: 'User request',
        confirm: true,
      },
    });
    expect(answer.status).toBe(202);
    expect(answer.body.data).toEqual({
      request_id: expect.stringMatching(/^req_/),
      status: 'processing',
      estimated_completion: iso,
    });
    const requestId: string = answer.body.data.request_id;
    // Cut at once, before the job has necessarily run.
    expect(await isTokenAccepted(t, carol.token)).toBe(false);

    const done = await waitForRequest(t, requestId, t.operatorKey);
    expect(done.status).toBe('completed');
    expect(Object.keys(done.result).sort()).toEqual(['identity', 'telemetry']);
    expect(done.result.identity).toMatchObject({ erased: expect.any(Number), anonymized: expect.any(Number) });
    expect(done.result.telemetry).toMatchObject({ erased: 1, anonymized: 0 });
    expect((done.result.identity as { erased: number }).erased).toBeGreaterThanOrEqual(3);
    expect((done.result.identity as { anonymized: number }).anonymized).toBeGreaterThanOrEqual(auditBefore.length + 1);

    // identity: the account is anonymized, its personal rows are gone, the audit trail is kept without the person.
    const account = await prisma.user.findUniqueOrThrow({ where: { id: carol.id } });
    expect(account).toMatchObject({
      status: 'deleted',
      email: erasedEmail(carol.id),
      name: 'Deleted user',
      passwordHash: null,
      roles: [],
    });
    expect(await prisma.consentRecord.count({ where: { userId: carol.id } })).toBe(0);
    expect(await prisma.refreshToken.count({ where: { userId: carol.id } })).toBe(0);
    expect(await prisma.dataRequest.count({ where: { userId: carol.id, archive: { not: null } } })).toBe(0);
    const auditAfter = await prisma.auditLog.findMany({ where: { id: { in: auditBefore.map((a) => a.id) } } });
    expect(auditAfter).toHaveLength(auditBefore.length);
    for (const entry of auditAfter) {
      expect(entry.actorId).toMatch(/^anon_/);
      expect(entry.ip).toBeNull();
      expect(entry.userAgent).toBeNull();
      expect(JSON.stringify(entry.details)).not.toContain(carol.email);
    }
    expect(new Set(auditAfter.map((a) => a.actorId)).size).toBe(1);

    // telemetry: Carol's event is gone, Dave's is untouched.
    expect(await prisma.event.count({ where: { id: carolEvent } })).toBe(0);
    expect(await prisma.event.count({ where: { id: daveEvent } })).toBe(1);
    expect(await isTokenAccepted(t, dave.token)).toBe(true);

    // The request survives as the record; the credentials are gone and the freed email can sign up again.
    const record = await prisma.dataRequest.findUniqueOrThrow({ where: { id: requestId } });
    expect(record).toMatchObject({ kind: 'delete', status: 'completed', reason: 'User request', userId: carol.id });
    const again = await registerUser(t, tenantId, carol.email);
    expect(again.id).not.toBe(carol.id);
  });
});
