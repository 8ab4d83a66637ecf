import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKeyResolver } from '../gateway/pipeline/api-key.js';
import { createGatewayAuthenticator, loadOperatorKeyHash } from '../gateway/pipeline/authenticate.js';
import { createGateway, type Gateway } from '../gateway/server.js';
import { composeSupergraph } from '../gateway/supergraph.js';
import { createLogger } from '../lib/logger.js';
import { createKv, type Kv } from '../lib/runtime/kv.js';
import { PROJECT_SCOPES } from '../lib/scopes.js';
import { sha256Hex } from '../lib/secrets.js';
import { SUBGRAPHS } from '../app/subgraphs.js';
import { API_KEY_REVOKED_CHANNEL, parseApiKeyRevoked } from '../subgraphs/identity/contract.js';
import { generateApiKey } from '../subgraphs/identity/services/api-keys.js';
import { listProjects } from '../subgraphs/identity/services/projects.js';
import type { Principal } from '../lib/principal.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import {
  bootPlatform,
  restAt,
  uniqueSlug,
  usingRealServices,
  type RestAnswer,
  type TestPlatform,
} from './support/platform.js';
import { expectRestError } from './support/rest.js';

// tenantsdb accounts, projects and API keys end to end: REST in the documented shape through the
// real gateway, identity's own checks (ownership, scopes), and the gateway's key cache with its
// cross-instance revocation.

const KEY = /^tenantsdb_sk_[0-9a-f]{64}$/;
const MASKED = /^tenantsdb_sk_[0-9a-f]{4}\u2026[0-9a-f]{4}$/;
const PROJECT_ID = /^tdb_[0-9a-f]{8}$/;
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const PASSWORD = 'correct horse battery 42';
const rateLimitPolicies = { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } };

const expectTenantsdbError = (answer: RestAnswer, status: number, code: string) =>
  expectRestError('tenantsdb', answer, status, code);

describe('tenantsdb accounts, projects and API keys', () => {
  let t: TestPlatform;
  const signupAs = async (email = `${uniqueSlug('acct')}@example.com`, projectName = uniqueSlug('Project')) => {
    const answer = await t.rest('/signup', {
      token: null,
      method: 'POST',
      body: { email, password: PASSWORD, project_name: projectName },
    });
    expect(answer.status).toBe(201);
    return { email, projectName, apiKey: answer.body.api_key as string, projectId: answer.body.project_id as string };
  };

  beforeAll(async () => {
    // Every signup and login of this file comes from one address: lift the 20/minute sign-in limit.
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1'],
      rateLimitPolicies,
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('signup answers exactly the documented body, and the key works as Bearer and as X-API-Key', async () => {
    const email = `${uniqueSlug('Owner')}@Example.com`;
    const signup = await t.rest('/signup', {
      token: null,
      method: 'POST',
      body: { email, password: PASSWORD, project_name: 'Healthcare SaaS' },
    });
    expect(signup.status).toBe(201);
    expect(signup.body).toEqual({
      success: true,
      api_key: expect.stringMatching(KEY),
      project_id: expect.stringMatching(PROJECT_ID),
    });

    // One transaction wrote all three: the owner (lower-cased, no tenant), the project, the key (hashed only).
    const { prisma } = t.platform.db;
    const user = await prisma.user.findUnique({
      where: { directory_email: { directory: 'accounts', email: email.toLowerCase() } },
    });
    expect(user).toMatchObject({ tenantId: null, roles: ['owner'], status: 'active' });
    expect(user!.passwordHash).toMatch(/^\$argon2id\$/);
    const project = await prisma.project.findUnique({
      where: { id: signup.body.project_id },
      include: { apiKeys: true },
    });
    expect(project).toMatchObject({ name: 'Healthcare SaaS', ownerId: user!.id, deletedAt: null });
    expect(project!.apiKeys).toHaveLength(1);
    expect(project!.apiKeys[0]).toMatchObject({
      keyHash: sha256Hex(signup.body.api_key),
      scopes: [...PROJECT_SCOPES],
      expiresAt: null,
    });
    expect(JSON.stringify(project!.apiKeys)).not.toContain(signup.body.api_key.slice('tenantsdb_sk_'.length));

    for (const via of ['bearer', 'x-api-key'] as const) {
      const key = signup.body.api_key as string;
      const projects = await t.rest(
        '/projects',
        via === 'bearer' ? { token: key } : { token: null, headers: { 'x-api-key': key } },
      );
      expect(projects.status).toBe(200);
      expect(projects.body).toEqual({
        success: true,
        count: 1,
        projects: [{ project_id: signup.body.project_id, name: 'Healthcare SaaS', api_key_count: 1, created_at: iso }],
      });
    }
  });

  it('login mints a fresh session key per project; old keys keep working; keys are listed masked', async () => {
    const account = await signupAs();
    const login = await t.rest('/login', {
      token: null,
      method: 'POST',
      body: { email: account.email.toUpperCase(), password: PASSWORD },
    });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({
      success: true,
      projects: [
        {
          project_id: account.projectId,
          name: account.projectName,
          api_key: expect.stringMatching(KEY),
          expires_at: iso,
        },
      ],
    });
    const sessionKey = login.body.projects[0].api_key as string;
    expect(sessionKey).not.toBe(account.apiKey);
    const expiresIn = Date.parse(login.body.projects[0].expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(23.9 * 3600_000);
    expect(expiresIn).toBeLessThanOrEqual(24 * 3600_000);

    const viaSession = await t.rest('/projects', { token: sessionKey });
    expect(viaSession.status).toBe(200);
    expect(viaSession.body.projects[0]).toMatchObject({ project_id: account.projectId, api_key_count: 2 });
    expect((await t.rest('/projects', { token: account.apiKey })).status).toBe(200);

    // A key made on purpose and never used: listed without last_used_at, as the document shows.
    const created = await t.rest('/apikeys', {
      method: 'POST',
      token: sessionKey,
      body: { project_name: 'CI Pipeline' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      success: true,
      id: expect.any(Number),
      key: expect.stringMatching(KEY),
      project_id: account.projectId,
      project_name: 'CI Pipeline',
      tier: 'free',
      is_active: true,
      scopes: [...PROJECT_SCOPES],
      created_at: iso,
    });

    const list = await t.rest('/apikeys', { token: null, headers: { 'x-api-key': sessionKey } });
    expect(list.status).toBe(200);
    expect(list.body.success).toBe(true);
    expect(list.body.count).toBe(3);
    const fullKeys = [account.apiKey, sessionKey, created.body.key as string];
    for (const full of fullKeys) {
      expect(list.text).not.toContain(full);
      expect(list.text).not.toContain(full.slice(-20));
    }
    const byName = new Map(list.body.api_keys.map((k: { project_name: string }) => [k.project_name, k]));
    const masked = (full: string) => `${full.slice(0, 17)}\u2026${full.slice(-4)}`;
    expect(byName.get('Default')).toEqual({
      id: expect.any(Number),
      key: masked(account.apiKey),
      project_id: account.projectId,
      project_name: 'Default',
      tier: 'free',
      is_active: true,
      scopes: [...PROJECT_SCOPES],
      created_at: iso,
      last_used_at: iso,
    });
    expect(byName.get('login session')).toMatchObject({
      key: masked(sessionKey),
      is_active: true,
      last_used_at: iso,
      expires_at: iso,
    });
    expect(byName.get('CI Pipeline')).toMatchObject({ key: masked(created.body.key), is_active: true });
    expect(byName.get('CI Pipeline')).not.toHaveProperty('last_used_at');
    for (const k of list.body.api_keys) expect(k.key).toMatch(MASKED);
    // Newest first.
    expect(list.body.api_keys.map((k: { id: number }) => k.id)).toEqual(
      [...list.body.api_keys.map((k: { id: number }) => k.id)].sort((a, b) => b - a),
    );

    // The new key works, then is deleted and refused at once, in the tenantsdb error shape.
    expect((await t.rest('/projects', { token: created.body.key })).status).toBe(200);
    const deleted = await t.rest(`/apikeys/${created.body.id}`, { method: 'DELETE', token: sessionKey });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true, id: created.body.id, message: expect.any(String) });
    expectTenantsdbError(await t.rest('/projects', { token: created.body.key }), 401, 'UNAUTHORIZED');
    const after = await t.rest('/apikeys', { token: sessionKey });
    expect(after.body.count).toBe(2);
    expectTenantsdbError(
      await t.rest(`/apikeys/${created.body.id}`, { method: 'DELETE', token: sessionKey }),
      404,
      'NOT_FOUND',
    );
  });

  it('login: unknown email and wrong password get the same INVALID_CREDENTIALS', async () => {
    const account = await signupAs();
    const wrong = await t.rest('/login', {
      token: null,
      method: 'POST',
      body: { email: account.email, password: 'not the password at all' },
    });
    const unknown = await t.rest('/login', {
      token: null,
      method: 'POST',
      body: { email: `${uniqueSlug('nobody')}@example.com`, password: PASSWORD },
    });
    expectTenantsdbError(wrong, 401, 'INVALID_CREDENTIALS');
    expectTenantsdbError(unknown, 401, 'INVALID_CREDENTIALS');
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
    // Both attempts were recorded for threat detection.
    const attempts = await t.platform.db.prisma.loginAttempt.count({
      where: { directory: 'accounts', email: account.email, success: false, ip: t.clientIp },
    });
    expect(attempts).toBe(1);
  });

  it('a duplicate signup is a CONFLICT and writes nothing', async () => {
    const account = await signupAs();
    const { prisma } = t.platform.db;
    const keysBefore = await prisma.apiKey.count();
    const projectName = uniqueSlug('Orphan');
    const dup = await t.rest('/signup', {
      token: null,
      method: 'POST',
      body: { email: account.email.toUpperCase(), password: PASSWORD, project_name: projectName },
    });
    expectTenantsdbError(dup, 409, 'CONFLICT');
    expect(await prisma.project.count({ where: { name: projectName } })).toBe(0);
    expect(await prisma.user.count({ where: { email: account.email } })).toBe(1);
    // Other suites may add keys meanwhile on a shared database; none of them is ours.
    const orphanKeys = await prisma.apiKey.count({ where: { project: { name: projectName } } });
    expect(orphanKeys).toBe(0);
    expect(await prisma.apiKey.count()).toBeGreaterThanOrEqual(keysBefore);
    const projects = await t.rest('/projects', { token: account.apiKey });
    expect(projects.body.count).toBe(1);
  });

  it("another account's project and keys are NOT_FOUND, never revealed", async () => {
    const alice = await signupAs();
    const bob = await signupAs();
    const aliceKeys = await t.rest('/apikeys', { token: alice.apiKey });
    const aliceKeyId = aliceKeys.body.api_keys[0].id as number;

    expectTenantsdbError(
      await t.rest(`/projects/${alice.projectId}`, { method: 'DELETE', token: bob.apiKey }),
      404,
      'NOT_FOUND',
    );
    expectTenantsdbError(
      await t.rest(`/projects/tdb_00000000`, { method: 'DELETE', token: bob.apiKey }),
      404,
      'NOT_FOUND',
    );
    expectTenantsdbError(
      await t.rest('/apikeys', {
        method: 'POST',
        token: bob.apiKey,
        body: { project_name: 'sneaky', project_id: alice.projectId },
      }),
      404,
      'NOT_FOUND',
    );
    expectTenantsdbError(
      await t.rest(`/apikeys/${aliceKeyId}`, { method: 'DELETE', token: bob.apiKey }),
      404,
      'NOT_FOUND',
    );
    const bobProjects = await t.rest('/projects', { token: bob.apiKey });
    expect(bobProjects.body.projects.map((p: { project_id: string }) => p.project_id)).toEqual([bob.projectId]);
    // Alice is untouched.
    const aliceProjects = await t.rest('/projects', { token: alice.apiKey });
    expect(aliceProjects.body).toMatchObject({
      count: 1,
      projects: [{ project_id: alice.projectId, api_key_count: 1 }],
    });
  });

  it('projects: create with a first key, delete revokes its keys, the last one stays', async () => {
    const account = await signupAs();
    const created = await t.rest('/projects', {
      method: 'POST',
      token: account.apiKey,
      body: { name: 'E-commerce Platform' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      success: true,
      project_id: expect.stringMatching(PROJECT_ID),
      name: 'E-commerce Platform',
      api_key_count: 1,
      created_at: iso,
      api_key: expect.stringMatching(KEY),
    });
    const secondKey = created.body.api_key as string;
    // A key of either project speaks for the whole account.
    const listed = await t.rest('/projects', { token: secondKey });
    expect(listed.body.count).toBe(2);
    expect(listed.body.projects.map((p: { name: string }) => p.name)).toEqual([
      account.projectName,
      'E-commerce Platform',
    ]);

    const deleted = await t.rest(`/projects/${created.body.project_id}`, {
      method: 'DELETE',
      token: account.apiKey,
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true, project_id: created.body.project_id, message: expect.any(String) });
    // Its key was cached by this gateway a moment ago: evicted on revocation (and identity refuses a
    // deleted project's key anyway), so it is refused at once.
    expectTenantsdbError(await t.rest('/projects', { token: secondKey }), 401, 'UNAUTHORIZED');
    const row = await t.platform.db.prisma.project.findUnique({
      where: { id: created.body.project_id },
      include: { apiKeys: true },
    });
    expect(row!.deletedAt).toBeInstanceOf(Date);
    expect(row!.apiKeys.every((k) => k.revokedAt instanceof Date)).toBe(true);
    expect((await t.rest('/projects', { token: account.apiKey })).body.count).toBe(1);
    expectTenantsdbError(
      await t.rest(`/projects/${created.body.project_id}`, { method: 'DELETE', token: account.apiKey }),
      404,
      'NOT_FOUND',
    );
    expectTenantsdbError(
      await t.rest(`/projects/${account.projectId}`, { method: 'DELETE', token: account.apiKey }),
      409,
      'CONFLICT',
    );
  });

  it('bad bodies and bad credentials answer 400/401 in the tenantsdb error shape', async () => {
    const account = await signupAs();
    expectTenantsdbError(await t.rest('/signup', { token: null, method: 'POST', body: {} }), 400, 'VALIDATION_ERROR');
    expectTenantsdbError(
      await t.rest('/signup', {
        token: null,
        method: 'POST',
        body: { email: 'not-an-email', password: PASSWORD, project_name: 'x' },
      }),
      400,
      'VALIDATION_ERROR',
    );
    const weak = await t.rest('/signup', {
      token: null,
      method: 'POST',
      body: { email: `${uniqueSlug('weak')}@example.com`, password: 'short', project_name: 'x' },
    });
    expectTenantsdbError(weak, 400, 'VALIDATION_ERROR');
    expect(weak.body.error.details.fields[0].path).toBe('password');
    expectTenantsdbError(
      await t.rest('/login', { token: null, method: 'POST', body: { email: 1 } }),
      400,
      'VALIDATION_ERROR',
    );
    expectTenantsdbError(
      await t.rest('/projects', { method: 'POST', token: account.apiKey, body: { name: '' } }),
      400,
      'VALIDATION_ERROR',
    );
    expectTenantsdbError(
      await t.rest('/projects', { method: 'POST', token: account.apiKey, body: { name: '   ' } }),
      400,
      'VALIDATION_ERROR',
    );
    expectTenantsdbError(
      await t.rest('/apikeys', { method: 'POST', token: account.apiKey, body: { name: 'wrong field' } }),
      400,
      'VALIDATION_ERROR',
    );
    expectTenantsdbError(
      await t.rest('/apikeys/not-a-number', { method: 'DELETE', token: account.apiKey }),
      400,
      'VALIDATION_ERROR',
    );
    expectTenantsdbError(
      await t.rest('/apikeys', {
        method: 'POST',
        token: account.apiKey,
        body: { project_name: 'k', scopes: ['root:everything'] },
      }),
      400,
      'VALIDATION_ERROR',
    );

    // No key, a malformed key, an unknown well-formed key.
    expectTenantsdbError(await t.rest('/projects', { token: null }), 401, 'UNAUTHORIZED');
    expectTenantsdbError(await t.rest('/projects', { token: 'tenantsdb_sk_nothex' }), 401, 'UNAUTHORIZED');
    const unknown = `tenantsdb_sk_${'ab'.repeat(32)}`;
    expectTenantsdbError(await t.rest('/projects', { token: unknown }), 401, 'UNAUTHORIZED');
    // Cached as a miss: the same answer again.
    expectTenantsdbError(
      await t.rest('/projects', { token: null, headers: { 'x-api-key': unknown } }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('expired keys are refused', async () => {
    const account = await signupAs();
    const created = await t.rest('/apikeys', {
      method: 'POST',
      token: account.apiKey,
      body: { project_name: 'short-lived' },
    });
    await t.platform.db.prisma.apiKey.update({
      where: { id: created.body.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expectTenantsdbError(await t.rest('/projects', { token: created.body.key }), 401, 'UNAUTHORIZED');
    const list = await t.rest('/apikeys', { token: account.apiKey });
    const expired = list.body.api_keys.find((k: { id: number }) => k.id === created.body.id);
    expect(expired).toMatchObject({ is_active: false, expires_at: iso });
  });

  it("the owner's own token (a user principal without tenant) speaks for the account; others do not", async () => {
    const account = await signupAs();
    const { prisma } = t.platform.db;
    const owner = await prisma.user.findUniqueOrThrow({
      where: { directory_email: { directory: 'accounts', email: account.email } },
    });
    const deps = {
      db: t.platform.db,
      kv: t.platform.kv,
      jobs: t.platform.jobs,
      startedAt: new Date(),
      version: 'test',
      environment: 'test',
    } as SubgraphDeps;
    const asUser = (id: string, tenantId: string | null): Principal => ({
      kind: 'user',
      id,
      projectId: null,
      tenantId,
      roles: ['owner'],
      scopes: [...PROJECT_SCOPES],
    });
    const projects = await listProjects({ deps, principal: asUser(owner.id, null) });
    expect(projects.map((p) => p.id)).toEqual([account.projectId]);
    await expect(listProjects({ deps, principal: asUser(owner.id, 'ten_other') })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(listProjects({ deps, principal: asUser('usr_nobody', null) })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    // The operator has no account: its GET /projects is refused, not answered with everyone's.
    expectTenantsdbError(await t.rest('/projects', { token: t.operatorKey }), 403, 'FORBIDDEN');
  });

  describe('scopes', () => {
    const CREATE_KEY = /* GraphQL */ `
      mutation ($projectId: ID, $name: String!, $scopes: [String!]) {
        createApiKey(projectId: $projectId, name: $name, scopes: $scopes) {
          key
          apiKey {
            id
            scopes
            maskedKey
          }
        }
      }
    `;

    it('nexus-core GET /api/v1/status: a project key is FORBIDDEN, an operator-made read:system key is served', async () => {
      const account = await signupAs();
      const forbidden = await t.rest('/api/v1/status', { token: null, headers: { 'x-api-key': account.apiKey } });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({
        success: false,
        error: { code: 'FORBIDDEN', message: expect.any(String), details: { required_scope: 'read:system' } },
      });

      // A project key cannot grant itself a system scope...
      const refused = await t.graphql(
        CREATE_KEY,
        { name: 'monitor', scopes: ['read:system'] },
        { token: account.apiKey },
      );
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // ...the operator can.
      const granted = await t.graphql<{
        createApiKey: { key: string; apiKey: { scopes: string[]; maskedKey: string } };
      }>(CREATE_KEY, { projectId: account.projectId, name: 'monitor', scopes: ['read:system'] });
      expect(granted.body.errors).toBeUndefined();
      const monitor = granted.body.data!.createApiKey;
      expect(monitor.key).toMatch(KEY);
      expect(monitor.apiKey.scopes).toEqual(['read:system']);
      expect(monitor.apiKey.maskedKey).toMatch(MASKED);

      const served = await t.rest('/api/v1/status', { token: null, headers: { 'x-api-key': monitor.key } });
      expect(served.status).toBe(200);
      expect(served.body.success).toBe(true);
      expect(served.body.data.status).toBe('healthy');
      // The monitoring key is narrow: it does not manage the account.
      expectTenantsdbError(
        await t.rest('/projects', { method: 'POST', token: monitor.key, body: { name: 'nope' } }),
        403,
        'FORBIDDEN',
      );
    });

    it('a caller narrows scopes but never widens them; a narrowed key cannot manage the account', async () => {
      const account = await signupAs();
      const narrowed = await t.graphql<{ createApiKey: { key: string; apiKey: { scopes: string[] } } }>(
        CREATE_KEY,
        { name: 'ci', scopes: ['read:tenants', 'read:telemetry'] },
        { token: account.apiKey },
      );
      expect(narrowed.body.errors).toBeUndefined();
      const ci = narrowed.body.data!.createApiKey;
      expect(ci.apiKey.scopes).toEqual(['read:tenants', 'read:telemetry']);

      // Reads of the account work with any of its keys...
      expect((await t.rest('/projects', { token: ci.key })).status).toBe(200);
      // ...changes need every project scope, so the narrowed key cannot mint a wider one.
      const wider = await t.graphql(CREATE_KEY, { name: 'wider', scopes: ['write:tenants'] }, { token: ci.key });
      expect(wider.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expectTenantsdbError(
        await t.rest('/apikeys', { method: 'POST', token: ci.key, body: { project_name: 'x' } }),
        403,
        'FORBIDDEN',
      );
      expectTenantsdbError(
        await t.rest(`/projects/${account.projectId}`, { method: 'DELETE', token: ci.key }),
        403,
        'FORBIDDEN',
      );
    });

    it('resolveApiKey answers only the gateway', async () => {
      const account = await signupAs();
      const query = 'query ($h: String!) { resolveApiKey(keyHash: $h) { keyId projectId } }';
      const variables = { h: sha256Hex(account.apiKey) };
      const asOperator = await t.graphql(query, variables);
      expect(asOperator.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const asKey = await t.graphql(query, variables, { token: account.apiKey });
      expect(asKey.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const anonymous = await t.graphql(query, variables, { token: null });
      expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    });

    it("the gateway's and telemetry's internal questions (standing keys, tenant ownership) answer no caller", async () => {
      const account = await signupAs();
      const questions = [
        { query: 'query ($ids: [ID!]!) { standingApiKeys(keyIds: $ids) }', variables: { ids: ['1'] } },
        { query: 'query ($t: ID!) { tenantOwnership(tenant: $t) { id projectId } }', variables: { t: 'acme' } },
      ];
      for (const { query, variables } of questions) {
        for (const token of [t.operatorKey, account.apiKey]) {
          const answer = await t.graphql(query, variables, { token });
          expect(answer.body.errors?.[0]?.extensions?.code, query).toBe('FORBIDDEN');
          expect(answer.body.data?.standingApiKeys ?? answer.body.data?.tenantOwnership ?? null).toBeNull();
        }
      }
    });
  });

  describe('revocation across gateway instances', () => {
    const logger = createLogger({ level: 'silent' });
    const extra: Array<{ gateway: Gateway; kv: Kv | null }> = [];

    /**
     * Another gateway over the same subgraphs. With real Redis it gets its own Redis connections
     * on the same keyPrefix, as a second gateway process would, so revocations reach it through
     * Redis pub/sub. On the embedded default the in-memory pub/sub is per process, so it shares the
     * platform's kv. `isolated` gives it a pub/sub nobody publishes to: the control case.
     */
    async function startGateway(mode: 'shared' | 'isolated'): Promise<string> {
      let kv: Kv;
      let owned: Kv | null = null;
      if (mode === 'isolated') {
        owned = await createKv({ logger, keyPrefix: 'isolated:' });
        kv = owned;
      } else if (usingRealServices) {
        owned = await createKv({ redisUrl: process.env.TEST_REDIS_URL, logger, keyPrefix: t.platform.kv.keyPrefix });
        kv = owned;
      } else {
        kv = t.platform.kv;
      }
      const operatorKeyHash = await loadOperatorKeyHash({
        adminApiKey: t.operatorKey,
        dataDir: '/nonexistent',
        logger,
      });
      const gateway = await createGateway({
        supergraphSdl: composeSupergraph(Object.values(SUBGRAPHS)),
        inProcess: t.platform.subgraphs,
        urls: {},
        signingSecret: t.platform.signingSecret,
        authenticate: (execute) => createGatewayAuthenticator({ operatorKeyHash, execute, kv, logger }),
        kv,
        logger,
        requestTimeoutMs: 10_000,
        rateLimitEnabled: false,
        // Same names and limits as the first gateway: on a shared kv a policy has one definition.
        rateLimitPolicies,
        trustedProxies: ['127.0.0.1'],
      });
      extra.push({ gateway, kv: owned });
      return (await gateway.listen(0, '127.0.0.1')).url;
    }

    afterAll(async () => {
      for (const { gateway, kv } of extra) {
        await gateway.stop();
        await kv?.close();
      }
    });

    it('a deleted key is refused at once by every gateway that had it cached', async () => {
      const account = await signupAs();
      const created = await t.rest('/apikeys', {
        method: 'POST',
        token: account.apiKey,
        body: { project_name: 'to be revoked' },
      });
      const doomed = created.body.key as string;
      const second = await startGateway('shared');
      const control = await startGateway('isolated');

      // Every gateway resolves (and caches) the key.
      for (const url of [t.url, second, control]) {
        expect((await restAt(url, '/projects', { token: doomed })).status).toBe(200);
      }
      // The cache is real: with the row revoked behind identity's back (no publish), the gateways
      // still answer from cache...
      await t.platform.db.prisma.apiKey.update({ where: { id: created.body.id }, data: { revokedAt: new Date() } });
      for (const url of [t.url, second, control]) {
        expect((await restAt(url, '/projects', { token: doomed })).status).toBe(200);
      }
      await t.platform.db.prisma.apiKey.update({ where: { id: created.body.id }, data: { revokedAt: null } });

      // ...and a real delete, through the first gateway, reaches the second at once.
      const deleted = await t.rest(`/apikeys/${created.body.id}`, { method: 'DELETE', token: account.apiKey });
      expect(deleted.status).toBe(200);
      // Pub/sub delivery is asynchronous: "at once" means within its latency (milliseconds), so
      // each gateway gets a short grace instead of a race with the message; the TTL is 60 s.
      for (const gateway of [t.url, second]) {
        await vi.waitFor(
          async () => expectTenantsdbError(await restAt(gateway, '/projects', { token: doomed }), 401, 'UNAUTHORIZED'),
          { timeout: 2_000, interval: 25 },
        );
      }
      // The control gateway hears no revocations, so only its cache TTL (60 s) would end it: this
      // is what the pub/sub eviction buys.
      expect((await restAt(control, '/projects', { token: doomed })).status).toBe(200);
      // The account's other key is unaffected everywhere.
      expect((await restAt(second, '/projects', { token: account.apiKey })).status).toBe(200);
    });
  });
});

describe('the gateway API key resolver (unit, stubbed identity)', () => {
  const logger = createLogger({ level: 'silent' });
  let kv: Kv;
  beforeAll(async () => {
    kv = await createKv({ logger, keyPrefix: 'unit:' });
  });
  afterAll(async () => {
    await kv?.close();
  });

  type Row = { keyId: string; projectId: string; scopes: string[]; expiresAt: string | null };
  function stubIdentity(rows: Map<string, Row>) {
    const execute = vi.fn(async ({ variables }: { variables: Record<string, unknown> }) => ({
      data: { resolveApiKey: rows.get(variables.keyHash as string) ?? null },
    }));
    return execute;
  }

  it('builds the documented principal and asks identity once per key per TTL', async () => {
    const { key, keyHash } = generateApiKey();
    const execute = stubIdentity(
      new Map([[keyHash, { keyId: '7', projectId: 'tdb_0000abcd', scopes: ['read:tenants'], expiresAt: null }]]),
    );
    const resolve = createApiKeyResolver({ execute: execute as never, kv, logger });
    const principals = await Promise.all([resolve(key), resolve(key), resolve(key)]);
    await resolve(key);
    expect(principals[0]).toEqual({
      kind: 'api_key',
      id: '7',
      projectId: 'tdb_0000abcd',
      tenantId: null,
      roles: ['project'],
      scopes: ['read:tenants'],
    });
    expect(execute).toHaveBeenCalledTimes(1);
    expect(execute.mock.calls[0]![0]).toMatchObject({
      variables: { keyHash },
      principal: { kind: 'service', id: 'gateway' },
    });
    // Not this resolver's credential: left to the others.
    expect(await resolve('op_something')).toBeNull();
  });

  it('remembers a wrong key briefly, so a flood of it costs one lookup', async () => {
    const execute = stubIdentity(new Map());
    const resolve = createApiKeyResolver({ execute: execute as never, kv, logger });
    const wrong = generateApiKey().key;
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => resolve(wrong)));
    expect(
      results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'UNAUTHORIZED'),
    ).toBe(true);
    expect(execute).toHaveBeenCalledTimes(1);
    // Malformed keys never reach identity at all.
    await expect(resolve('tenantsdb_sk_short')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('caches a key no longer than it lives, and not at all when identity fails', async () => {
    const { key, keyHash } = generateApiKey();
    // The resolver's cache reads Date.now(): a fake clock lets the key expire without waiting.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const expiresAt = new Date(Date.now() + 150).toISOString();
      const rows = new Map([[keyHash, { keyId: '8', projectId: 'tdb_0000abcd', scopes: [], expiresAt }]]);
      const execute = stubIdentity(rows);
      const resolve = createApiKeyResolver({ execute: execute as never, kv, logger });
      await resolve(key);
      await resolve(key);
      expect(execute).toHaveBeenCalledTimes(1);
      vi.setSystemTime(Date.now() + 200);
      rows.delete(keyHash); // identity now says expired
      await expect(resolve(key)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      expect(execute).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }

    const failing = vi.fn(async () => ({
      errors: [{ message: 'identity down', extensions: { code: 'INTERNAL_ERROR' } }],
    }));
    const resolveFailing = createApiKeyResolver({ execute: failing as never, kv, logger });
    await expect(resolveFailing(key)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await expect(resolveFailing(key)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(failing).toHaveBeenCalledTimes(2);
  });

  it('a revocation that arrives while the lookup is in flight wins over the stale answer', async () => {
    const { key, keyHash } = generateApiKey();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let lookupStarted!: () => void;
    const started = new Promise<void>((r) => (lookupStarted = r));
    const execute = vi.fn(async () => {
      lookupStarted();
      await gate;
      return { data: { resolveApiKey: { keyId: '9', projectId: 'tdb_0000abcd', scopes: [], expiresAt: null } } };
    });
    const resolve = createApiKeyResolver({ execute: execute as never, kv, logger });
    const pending = resolve(key);
    await started;
    // Handlers of a channel run in the order they subscribed: once this one has the message, the
    // resolver's (subscribed when it was created) has handled it too.
    let revocationHandled!: () => void;
    const handled = new Promise<void>((r) => (revocationHandled = r));
    const unsubscribe = await kv.pubsub.subscribe(API_KEY_REVOKED_CHANNEL, (message) => {
      if (parseApiKeyRevoked(message)?.keyHash === keyHash) revocationHandled();
    });
    await kv.pubsub.publish(API_KEY_REVOKED_CHANNEL, JSON.stringify({ keyHash, keyId: '9' }));
    await handled;
    await unsubscribe();
    release();
    await expect(pending).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(resolve(key)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(execute).toHaveBeenCalledTimes(1);
  });
});
