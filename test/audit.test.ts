import type { GraphQLRequestContextWillSendResponse } from '@apollo/server';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildAuditEntries, createAuditPlugin, describeMutation } from '../gateway/plugins/audit.js';
import type { GatewayContext } from '../gateway/context.js';
import { createLogger } from '../lib/logger.js';
import { createJobQueue } from '../lib/runtime/jobs.js';
import { createKv } from '../lib/runtime/kv.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { createRecordAuditJob, enqueueAuditEntries } from '../subgraphs/identity/jobs/record-audit.js';
import type { AuditEntry } from '../subgraphs/identity/contract.js';
import { recordAuditEntries } from '../subgraphs/identity/services/audit.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { ISO_TIMESTAMP, waitFor } from './support/rest.js';

// The audit trail end to end: mutations through /graphql and REST leave entries written by the
// gateway plugin through identity's record-audit job; the audit log reads them back, scoped and
// paged. Focused cases cover naming, secrets and a failing sink.

const PASSWORD = 'Audit-Trail-Passphrase-42';
const iso = expect.stringMatching(ISO_TIMESTAMP);

interface AuditRow {
  id: string;
  tenantId: string | null;
  actorId: string | null;
  actorKind: string | null;
  action: string;
  resource: string;
  resourceId: string | null;
  outcome: string;
  errorCode: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

const AUDIT_QUERY = `query ($userId: ID, $action: String, $startDate: DateTime, $endDate: DateTime, $page: Int, $limit: Int) {
  auditLogs(userId: $userId, action: $action, startDate: $startDate, endDate: $endDate, page: $page, limit: $limit) {
    logs { id tenantId actorId actorKind action resource resourceId outcome errorCode ip userAgent requestId details createdAt }
    pagination { page limit total pages }
  }
}`;

/** Entries are written by a job after the response: poll until the expected one is there. */
async function waitForEntry(
  t: TestPlatform,
  match: (row: AuditRow) => boolean,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<AuditRow> {
  return waitFor(
    async () => {
      const { body } = await t.graphql<{ auditLogs: { logs: AuditRow[] } }>(
        AUDIT_QUERY,
        { limit: 100, ...variables },
        { token },
      );
      expect(body.errors).toBeUndefined();
      return body.data!.auditLogs.logs.find(match);
    },
    'a matching audit entry',
    { timeoutMs: 10_000 },
  );
}

const CREATE_TENANT = `mutation CreateTenant($input: CreateTenantInput!) { createTenant(input: $input) { id slug } }`;

describe('audit log through the real gateway', () => {
  let t: TestPlatform;
  let tenantA: string;
  let tenantB: string;
  let adminA: { id: string; token: string };

  const register = async (tenantId: string, email: string) => {
    const { body } = await t.graphql<{ register: { user: { id: string } } }>(
      `mutation ($email: String!, $password: String!, $name: String!, $tenantId: ID!) {
        register(email: $email, password: $password, name: $name, tenantId: $tenantId) { user { id } }
      }`,
      { email, password: PASSWORD, name: 'Audit Person', tenantId },
    );
    expect(body.errors).toBeUndefined();
    return body.data!.register.user.id;
  };

  const login = async (tenantId: string, email: string, password = PASSWORD) =>
    t.graphql<{ login: { accessToken: string; user: { id: string } } }>(
      `mutation Login($email: String!, $password: String!, $tenantId: ID) {
        login(email: $email, password: $password, tenantId: $tenantId) { accessToken user { id tenantId } }
      }`,
      { email, password, tenantId },
      { token: null, headers: { 'user-agent': 'audit-test-login/1.0' } },
    );

  beforeAll(async () => {
    t = await bootPlatform();
    const created = await Promise.all(
      ['a', 'b'].map((p) =>
        t.graphql<{ createTenant: { id: string } }>(CREATE_TENANT, {
          input: { name: `Audit ${p}`, slug: uniqueSlug(p) },
        }),
      ),
    );
    [tenantA, tenantB] = created.map(({ body }) => body.data!.createTenant.id) as [string, string];
    const email = `${uniqueSlug('admin')}@example.com`;
    const id = await register(tenantA, email);
    const promoted = await t.graphql(
      `mutation ($id: ID!) { updateUser(id: $id, input: { roles: ["admin"] }) { id } }`,
      {
        id,
      },
    );
    expect(promoted.body.errors).toBeUndefined();
    const signedIn = await login(tenantA, email);
    expect(signedIn.body.errors).toBeUndefined();
    adminA = { id, token: signedIn.body.data!.login.accessToken };
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the operator creating a tenant leaves tenant.create with actor, ip, user agent and request id', async () => {
    const slug = uniqueSlug('audited');
    const requestId = `req-audit-${uniqueSlug('r')}`;
    const { body } = await t.graphql<{ createTenant: { id: string } }>(
      CREATE_TENANT,
      { input: { name: 'Audited', slug } },
      { headers: { 'user-agent': 'audit-test/2.0 (vitest)', 'x-request-id': requestId } },
    );
    const tenantId = body.data!.createTenant.id;
    const entry = await waitForEntry(t, (row) => row.resourceId === tenantId, { action: 'tenant.create' });
    expect(entry).toMatchObject({
      actorId: 'operator',
      actorKind: 'operator',
      action: 'tenant.create',
      resource: 'tenant',
      outcome: 'success',
      errorCode: null,
      userAgent: 'audit-test/2.0 (vitest)',
      requestId,
      createdAt: iso,
    });
    expect(entry.ip).toBe(t.clientIp);
    expect(entry.details).toMatchObject({ field: 'createTenant', operation: 'CreateTenant' });
  });

  it('a failing mutation leaves an outcome=failure entry with its error code', async () => {
    const requestId = `req-fail-${uniqueSlug('r')}`;
    const { body } = await t.graphql(
      CREATE_TENANT,
      { input: { name: 'Bad', slug: 'Not A Slug!' } },
      { headers: { 'x-request-id': requestId } },
    );
    const code = body.errors?.[0]?.extensions?.code;
    expect(code).toBe('VALIDATION_ERROR');
    const entry = await waitForEntry(t, (row) => row.requestId === requestId, { action: 'tenant.create' });
    expect(entry).toMatchObject({ outcome: 'failure', errorCode: 'VALIDATION_ERROR', actorId: 'operator' });
  });

  it('sign-ins are audited: a failed one as failure, a successful one with the signed-in user as actor; no secret is kept', async () => {
    const email = `${uniqueSlug('signin')}@example.com`;
    const userId = await register(tenantA, email);

    const bad = await login(tenantA, email, 'Wrong-Password-Entirely-1');
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
    const good = await login(tenantA, email);
    const token = good.body.data!.login.accessToken;

    const success = await waitForEntry(t, (row) => row.actorId === userId && row.outcome === 'success', {
      action: 'user.login',
    });
    expect(success).toMatchObject({
      resource: 'auth',
      actorKind: 'user',
      tenantId: tenantA,
      userAgent: 'audit-test-login/1.0',
    });
    const failure = await waitForEntry(
      t,
      (row) =>
        row.outcome === 'failure' && (row.details.ids as Record<string, string> | undefined)?.tenantId === tenantA,
      { action: 'user.login' },
    );
    expect(failure).toMatchObject({ errorCode: 'INVALID_CREDENTIALS', actorId: null, resource: 'auth' });

    const everything = JSON.stringify(await t.graphql(AUDIT_QUERY, { limit: 100 }));
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain('Wrong-Password-Entirely-1');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(email);
  });

  it('REST GET /api/v1/admin/audit-logs answers in the documented shape, filtered and paged', async () => {
    // Three entries of one action by one actor, so paging has something to page through.
    for (let i = 0; i < 3; i += 1) {
      const { body } = await t.graphql<{ createTenant: { id: string } }>(CREATE_TENANT, {
        input: { name: 'Paged', slug: uniqueSlug('paged') },
      });
      const id = body.data!.createTenant.id;
      await waitForEntry(t, (row) => row.resourceId === id, { action: 'tenant.create' });
    }
    // A closed window: other suites share the database and keep adding tenant.create entries by
    // the operator, which would shift page 2 between the two requests.
    const since = new Date(Date.now() - 60_000).toISOString();
    const until = new Date().toISOString();

    const answer = await t.rest(
      `/api/v1/admin/audit-logs?action=tenant.create&user_id=operator&limit=2&start_date=${since}&end_date=${until}`,
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'success', meta: { timestamp: iso, version: '1.0' } });
    const { logs, pagination } = answer.body.data;
    expect(logs).toHaveLength(2);
    expect(logs[0]).toEqual({
      id: expect.stringMatching(/^aud_/),
      user_id: 'operator',
      action: 'tenant.create',
      resource: 'tenant',
      details: expect.objectContaining({
        ip: expect.any(String),
        user_agent: expect.any(String),
        outcome: expect.any(String),
      }),
      timestamp: iso,
    });
    expect(pagination).toMatchObject({ page: 1, limit: 2 });
    expect(pagination.total).toBeGreaterThanOrEqual(5);
    expect(pagination.pages).toBe(Math.ceil(pagination.total / 2));
    // Newest first, and pages do not overlap.
    expect(Date.parse(logs[0].timestamp)).toBeGreaterThanOrEqual(Date.parse(logs[1].timestamp));
    const second = await t.rest(
      `/api/v1/admin/audit-logs?action=tenant.create&user_id=operator&limit=2&page=2&start_date=${since}&end_date=${until}`,
    );
    expect(second.body.data.pagination.page).toBe(2);
    const firstIds = logs.map((l: { id: string }) => l.id);
    for (const log of second.body.data.logs) expect(firstIds).not.toContain(log.id);

    // A window in the past holds none of them; a whole calendar day as end_date includes today.
    const old = await t.rest('/api/v1/admin/audit-logs?action=tenant.create&end_date=2001-01-01');
    expect(old.body.data).toEqual({ logs: [], pagination: { page: 1, limit: 20, total: 0, pages: 0 } });
    const today = new Date().toISOString().slice(0, 10);
    const day = await t.rest(`/api/v1/admin/audit-logs?action=tenant.create&start_date=${today}&end_date=${today}`);
    expect(day.body.data.pagination.total).toBeGreaterThanOrEqual(1);
  });

  it('limit over 100 is refused with VALIDATION_ERROR; bad dates too', async () => {
    const over = await t.rest('/api/v1/admin/audit-logs?limit=101');
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({
      status: 'error',
      error: { code: 'VALIDATION_ERROR' },
      meta: { request_id: expect.any(String) },
    });
    expect((await t.rest('/api/v1/admin/audit-logs?limit=100')).status).toBe(200);
    expect((await t.rest('/api/v1/admin/audit-logs?start_date=yesterday')).status).toBe(400);
    const reversed = await t.rest('/api/v1/admin/audit-logs?start_date=2025-02-01&end_date=2025-01-01');
    expect(reversed.body.error.code).toBe('VALIDATION_ERROR');
  });

  it("a tenant admin reads only its own tenant's entries; anonymous callers and plain users not at all", async () => {
    // An action in tenant B, by the operator on a B user: it must stay invisible to A's admin.
    const bUser = await register(tenantB, `${uniqueSlug('b')}@example.com`);
    await t.graphql(`mutation ($id: ID!) { suspendUser(id: $id) { id } }`, { id: bUser });
    await waitForEntry(t, (row) => row.resourceId === bUser, { action: 'user.suspend' });

    // And one in tenant A by A's admin.
    const aUser = await register(tenantA, `${uniqueSlug('a')}@example.com`);
    const suspended = await t.graphql(
      `mutation ($id: ID!) { suspendUser(id: $id) { id } }`,
      { id: aUser },
      { token: adminA.token },
    );
    expect(suspended.body.errors).toBeUndefined();
    const mine = await waitForEntry(t, (row) => row.resourceId === aUser, { action: 'user.suspend' }, adminA.token);
    expect(mine).toMatchObject({ actorId: adminA.id, actorKind: 'user', tenantId: tenantA, outcome: 'success' });

    const seen = await t.rest('/api/v1/admin/audit-logs?limit=100', { token: adminA.token });
    expect(seen.status).toBe(200);
    expect(seen.body.data.logs.length).toBeGreaterThan(0);
    for (const log of seen.body.data.logs) expect(log.details.tenant_id).toBe(tenantA);
    expect(
      seen.body.data.logs.some((log: { details: { resource_id: string } }) => log.details.resource_id === bUser),
    ).toBe(false);

    expect((await t.rest('/api/v1/admin/audit-logs', { token: null })).body.error.code).toBe('UNAUTHORIZED');
    const plainEmail = `${uniqueSlug('plain')}@example.com`;
    await register(tenantA, plainEmail);
    const plain = (await login(tenantA, plainEmail)).body.data!.login.accessToken;
    const refused = await t.rest('/api/v1/admin/audit-logs', { token: plain });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
  });

  it('a NUL byte in one aliased mutation cannot erase the audit entry of the valid mutation beside it', async () => {
    // The attack: PostgreSQL refuses NUL in text and jsonb, so an entry carrying one used to fail
    // the whole batch, and the valid mutation ran unaudited.
    const victim = await register(tenantA, `${uniqueSlug('nul')}@example.com`);
    const requestId = `req-nul-${uniqueSlug('r')}`;
    const { body } = await t.graphql(
      `mutation Evade($id: ID!, $bad: ID!) {
        real: suspendUser(id: $id) { id }
        cover: suspendUser(id: $bad) { id }
      }`,
      { id: victim, bad: `usr_\u0000${'x'.repeat(300)}\ud800` },
      { headers: { 'x-request-id': requestId } },
    );
    expect(body.errors?.length).toBeGreaterThan(0);
    // The valid mutation took effect...
    const user = await t.platform.db.prisma.user.findUniqueOrThrow({ where: { id: victim } });
    expect(user.status).toBe('suspended');
    // ...so its entry must be there.
    const real = await waitForEntry(t, (row) => row.resourceId === victim && row.requestId === requestId, {
      action: 'user.suspend',
    });
    expect(real).toMatchObject({ outcome: 'success', actorId: 'operator' });
    // The sibling is kept too, its id cleaned and capped rather than dropped.
    const cover = await waitForEntry(t, (row) => row.requestId === requestId && row.resourceId !== victim, {
      action: 'user.suspend',
    });
    expect(cover.outcome).toBe('failure');
    expect(cover.resourceId).toMatch(/^usr_x+/);
    expect(cover.resourceId!.length).toBeLessThanOrEqual(200);
    expect(cover.resourceId).not.toContain('\u0000');
  });

  it('a batch the database refuses falls back to one insert per entry: only the bad one is lost, and logged', async () => {
    const base = (suffix: string): AuditEntry => ({
      id: `aud_${uniqueSlug(suffix).replace(/-/g, '')}`,
      tenantId: tenantA,
      projectId: null,
      actorId: 'operator',
      actorKind: 'operator',
      action: 'test.fallback',
      resource: 'test',
      resourceId: null,
      outcome: 'success',
      errorCode: null,
      ip: null,
      userAgent: null,
      requestId: null,
      details: {},
      createdAt: new Date().toISOString(),
    });
    const good = base('good');
    // Sanitising cannot fix an entry whose timestamp PostgreSQL refuses (year 0 does not exist as
    // a timestamp): the one kind of failure the per-entry fallback is for.
    const bad = { ...base('bad'), createdAt: '0000-01-01T00:00:00.000Z' };
    const nul = { ...base('nul'), resourceId: 'a\u0000b', details: { ids: { 'k\u0000': 'v\u0000' } } };
    const errors: unknown[] = [];
    const logger = createLogger({ level: 'silent' });
    logger.error = ((obj: unknown) => {
      errors.push(obj);
    }) as typeof logger.error;
    const deps = { db: t.platform.db };
    expect(await recordAuditEntries({ deps, entries: [good, bad, nul], logger })).toEqual({ recorded: 2 });
    const rows = await t.platform.db.prisma.auditLog.findMany({ where: { id: { in: [good.id, bad.id, nul.id] } } });
    expect(rows.map((r) => r.id).sort()).toEqual([good.id, nul.id].sort());
    expect(rows.find((r) => r.id === nul.id)).toMatchObject({ resourceId: 'ab', details: { ids: { k: 'v' } } });
    expect(JSON.stringify(errors)).toContain(bad.id);
  });

  it('recording is idempotent: a retried job does not duplicate its entries', async () => {
    const entry: AuditEntry = {
      id: `aud_${uniqueSlug('retry').replace('-', '')}`,
      tenantId: tenantA,
      projectId: null,
      actorId: 'operator',
      actorKind: 'operator',
      action: 'test.retry',
      resource: 'test',
      resourceId: null,
      outcome: 'success',
      errorCode: null,
      ip: null,
      userAgent: null,
      requestId: null,
      details: {},
      createdAt: new Date().toISOString(),
    };
    const deps = { db: t.platform.db };
    const logger = createLogger({ level: 'silent' });
    expect(await recordAuditEntries({ deps, entries: [entry], logger })).toEqual({ recorded: 1 });
    expect(await recordAuditEntries({ deps, entries: [entry], logger })).toEqual({ recorded: 0 });
    expect(await t.platform.db.prisma.auditLog.count({ where: { id: entry.id } })).toBe(1);
  });
});

describe('audit naming and delivery', () => {
  it('names actions from a small table, else from the field name and its return type', () => {
    expect(describeMutation('login', 'AuthSession')).toEqual({ action: 'user.login', resource: 'auth' });
    expect(describeMutation('register', 'AuthSession')).toEqual({ action: 'user.register', resource: 'auth' });
    expect(describeMutation('createTenant', 'Tenant')).toEqual({ action: 'tenant.create', resource: 'tenant' });
    expect(describeMutation('updateIncidentStatus', 'Incident')).toEqual({
      action: 'incident.update_status',
      resource: 'incident',
    });
    expect(describeMutation('createApiKey', 'ApiKey')).toEqual({ action: 'api_key.create', resource: 'api_key' });
    expect(describeMutation('deleteApiKey', null)).toEqual({ action: 'api_key.delete', resource: 'api_key' });
    expect(describeMutation('updateTenantSettings', null)).toEqual({
      action: 'tenant.update_settings',
      resource: 'tenant',
    });
    expect(describeMutation('suspendUser', 'User')).toEqual({ action: 'user.suspend', resource: 'user' });
  });

  const context = (overrides: Partial<GatewayContext> = {}): GatewayContext => ({
    requestId: 'req-unit-1',
    principal: null,
    client: { ip: '10.0.0.1', userAgent: 'unit' },
    logger: createLogger({ level: 'silent' }),
    ...overrides,
  });

  const PLAN_SCHEMA = buildSchema(`
    type Query { plans: [Plan] }
    type Plan { id: ID }
    type Mutation { createPlan(id: ID): Plan touch: Plan }
  `);

  function requestContext(query: string, data: unknown, errors?: unknown[], ctx = context()) {
    const document = parse(query);
    return {
      document,
      operation: document.definitions[0] as OperationDefinitionNode,
      request: { query, variables: {} },
      response: { body: { kind: 'single', singleResult: { data, errors } }, http: { headers: new Map(), status: 200 } },
      contextValue: ctx,
      schema: PLAN_SCHEMA,
    } as unknown as GraphQLRequestContextWillSendResponse<GatewayContext>;
  }

  it('one entry per root field, each with its own outcome; queries and the gateway’s own calls are not audited', () => {
    const entries = buildAuditEntries(
      requestContext(
        'mutation Two { a: createPlan(id: "p1") { id } b: createPlan(id: "p2") { id } }',
        { a: { id: 'p1' }, b: null },
        [{ message: 'nope', path: ['b'], extensions: { code: 'CONFLICT' } }],
      ),
    );
    expect(entries.map((e) => [e.resourceId, e.outcome, e.errorCode])).toEqual([
      ['p1', 'success', null],
      ['p2', 'failure', 'CONFLICT'],
    ]);
    expect(buildAuditEntries(requestContext('query { plans { id } }', { plans: [] }))).toEqual([]);
    const gateway = context({
      principal: { kind: 'service', id: 'gateway', projectId: null, tenantId: null, roles: [], scopes: [] },
    });
    expect(buildAuditEntries(requestContext('mutation { touch { id } }', { touch: { id: 'x' } }, [], gateway))).toEqual(
      [],
    );
  });

  it('an entry survives identity’s database being briefly away: the record-audit job retries', async () => {
    const logger = createLogger({ level: 'silent' });
    const kv = await createKv({ redisUrl: undefined, logger });
    const written: unknown[] = [];
    let failures = 1;
    const deps = {
      db: {
        prisma: {
          auditLog: {
            createMany: async ({ data }: { data: unknown[] }) => {
              if (failures-- > 0) throw new Error('connection refused');
              written.push(...data);
              return { count: data.length };
            },
          },
        },
      },
    } as unknown as SubgraphDeps;
    const jobs = createJobQueue({ kv, logger, definitions: [createRecordAuditJob(() => deps)] });
    try {
      await jobs.startWorker();
      const entry = buildAuditEntries(
        requestContext('mutation { createPlan { id } }', { createPlan: { id: 'p9' } }),
      )[0]!;
      await enqueueAuditEntries(jobs, [entry]);
      const jobId = `audit-${entry.id}`;
      await vi.waitFor(async () => expect((await jobs.getJob(jobId))?.state).toBe('completed'), { timeout: 5000 });
      expect((await jobs.getJob(jobId))?.attemptsMade).toBe(2);
      expect(written).toEqual([expect.objectContaining({ id: entry.id, resourceId: 'p9', outcome: 'success' })]);
    } finally {
      await jobs.close();
      await kv.close();
    }
  });

  it('a failing sink neither delays nor breaks the response, and is retried then logged', async () => {
    const logger = createLogger({ level: 'silent' });
    const error = vi.spyOn(logger, 'error');
    let calls = 0;
    const failing = createAuditPlugin({
      sink: async () => {
        calls += 1;
        throw new Error('redis is away');
      },
      logger,
      retryDelaysMs: [5, 5],
    });
    const ctx = requestContext('mutation { createPlan { id } }', { createPlan: { id: 'p' } });
    const hooks = await failing.requestDidStart!(ctx as never);
    await expect(hooks!.willSendResponse!(ctx as never)).resolves.toBeUndefined();
    await vi.waitFor(() =>
      expect(error).toHaveBeenCalledWith(
        expect.objectContaining({ auditEntries: [expect.objectContaining({ resourceId: 'p' })] }),
        'audit entries could not be queued',
      ),
    );
    expect(calls).toBe(3);

    // A sink that never answers does not hold the response either.
    const hanging = createAuditPlugin({ sink: () => new Promise(() => {}), logger });
    const hangingHooks = await hanging.requestDidStart!(ctx as never);
    // A bound, not an ordering wait: the response must go out although the sink never settles.
    const outcome = await Promise.race([
      hangingHooks!.willSendResponse!(ctx as never).then(() => 'sent'),
      new Promise((resolve) => setTimeout(() => resolve('held'), 1000)),
    ]);
    expect(outcome).toBe('sent');
  });
});
