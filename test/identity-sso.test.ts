import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { pino } from 'pino';
import * as samlify from 'samlify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resolveRequestId } from '../gateway/pipeline/request-id.js';
import { createRequestPipeline } from '../gateway/pipeline/index.js';
import { createRestHandler } from '../gateway/rest/handler.js';
import { buildOpenApi } from '../gateway/rest/openapi.js';
import type { RateLimiter } from '../gateway/pipeline/rate-limit.js';
import { defineRoute } from '../gateway/rest/route.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { testOperation } from './support/rest.js';

// Enterprise SSO end to end: the real gateway and identity subgraph against real identity
// providers started here: an oidc-provider instance (OIDC) and a samlify IdentityProvider with its
// own key and certificate (SAML). The browser is played by fetch with a small cookie jar.

// ---------------------------------------------------------------------------------------------
// The generic redirect field of the REST route table

describe('REST routes with a redirect', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  const route = defineRoute({
    dialect: 'platform-forge',
    method: 'GET',
    path: '/api/v1/test/go/{target}',
    summary: 'Redirect test',
    operation: testOperation<{ go: string }>('query { go }'),
    input: { params: z.object({ target: z.string() }) },
    variables: ({ params }) => ({ target: params.target }),
    respond: (data) => ({ url: data.go }),
    redirect: (payload) => payload.url,
    response: z.object({ url: z.string() }),
  });

  async function serve() {
    const unlimited: RateLimiter = {
      consume: async () => ({ allowed: true, limit: 10, remaining: 9, resetAt: new Date(Date.now() + 1000) }),
    } as RateLimiter;
    const handler = createRestHandler({
      routes: [route],
      execute: async ({ variables }) => ({
        data: { go: `https://idp.example/authorize?to=${String(variables.target)}` },
      }),
      pipeline: createRequestPipeline({
        authenticate: async () => null,
        rateLimiter: () => unlimited,
        logger: pino({ level: 'silent' }),
      }),
    });
    const server = createServer((req, res) => void handler(req, res, resolveRequestId(req)));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('answers 302 with Location, and the enveloped payload to a caller asking for JSON', async () => {
    const url = await serve();
    const redirect = await fetch(`${url}/api/v1/test/go/abc`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://idp.example/authorize?to=abc');
    expect(redirect.headers.get('cache-control')).toBe('no-store');
    expect(await redirect.text()).toBe('');

    const json = await fetch(`${url}/api/v1/test/go/abc`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({
      status: 'success',
      data: { url: 'https://idp.example/authorize?to=abc' },
    });
  });

  it('documents the 302 and its Location in OpenAPI', () => {
    const doc = buildOpenApi('platform-forge', [route]);
    const op = doc.paths['/api/v1/test/go/{target}']!.get as { responses: Record<string, { headers?: object }> };
    expect(op.responses['302']!.headers).toHaveProperty('Location');
    expect(op.responses['200']).toBeDefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Browser stand-in

/** Enough of a browser for IdP login pages: cookies per host, manual redirects, HTML forms. */
class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  private cookieHeader(url: URL): string {
    return [...(this.jar.get(url.host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private store(url: URL, response: Response): void {
    const cookies = this.jar.get(url.host) ?? new Map<string, string>();
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    this.jar.set(url.host, cookies);
  }

  async request(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Response> {
    const target = new URL(url);
    const response = await fetch(target, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: this.cookieHeader(target),
        accept: 'text/html',
        ...(init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.body,
    });
    this.store(target, response);
    return response;
  }

  /**
   * Follows redirects and submits each login or consent form (filling `login` with the account
   * id) until a redirect leaves for `stopAt`; answers that redirect's URL.
   */
  async driveTo(start: string, stopAt: string, login: string): Promise<string> {
    let next: { url: string; method?: string; body?: URLSearchParams } = { url: start };
    for (let step = 0; step < 20; step += 1) {
      const response = await this.request(next.url, next);
      const location = response.headers.get('location');
      if (location) {
        const absolute = new URL(location, next.url).href;
        if (absolute.startsWith(stopAt)) return absolute;
        next = { url: absolute };
        continue;
      }
      const html = await response.text();
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
      if (!form)
        throw new Error(`No redirect and no form at ${next.url} (HTTP ${response.status}): ${html.slice(0, 300)}`);
      const body = new URLSearchParams();
      for (const input of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*>/gi)) {
        const value = /value="([^"]*)"/.exec(input[0])?.[1];
        body.set(input[1]!, value ?? (input[1] === 'login' ? login : 'irrelevant'));
      }
      next = { url: new URL(form[1]!.replace(/&amp;/g, '&'), next.url).href, method: 'POST', body };
    }
    throw new Error('Too many steps driving the IdP');
  }
}

function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

// Response bodies are checked by the assertions; typing each one would only restate them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CLIENT_APP = 'https://app.example.test/auth/done';

function fragmentOf(location: string): URLSearchParams {
  return new URLSearchParams(new URL(location).hash.slice(1));
}

// ---------------------------------------------------------------------------------------------
// OIDC against oidc-provider

describe('OIDC SSO through the gateway against a real OpenID provider', () => {
  let t: TestPlatform;
  let idp: { server: Server; url: string };
  const clientSecret = `secret-${uniqueSlug()}`;
  const clientId = uniqueSlug('client');
  const tenantId = uniqueSlug('ten');

  beforeAll(async () => {
    t = await bootPlatform({ rateLimitPolicies: { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } } });
    // The issuer URL needs the port, and the server needs the provider: bind it once both exist.
    const app: { handle?: (req: IncomingMessage, res: ServerResponse) => void } = {};
    idp = await listen((req, res) => app.handle!(req, res));
    const provider = new Provider(idp.url, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [`${t.url}/api/v1/sso/callback/oidc`],
          response_types: ['code'],
          grant_types: ['authorization_code'],
        },
      ],
      pkce: { required: () => true },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({ sub: id, email: `${id}@corp.example.test`, email_verified: true, name: `User ${id}` }),
      }),
      // The test's users consent to everything: skip the consent prompt with an existing grant.
      loadExistingGrant: async (ctx) => {
        const grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client!.clientId,
          accountId: ctx.oidc.session!.accountId!,
        });
        grant.addOIDCScope('openid email profile');
        await grant.save();
        return grant;
      },
    });
    app.handle = provider.callback();
  });

  afterAll(async () => {
    await new Promise((r) => idp?.server.close(r));
    await t?.close();
  });

  async function configure(overrides: Record<string, unknown> = {}, key: string | null = t.operatorKey) {
    const response = await fetch(`${t.url}/api/v1/sso/oidc/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({
        tenant_id: tenantId,
        issuer: idp.url,
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uri: `${t.url}/api/v1/sso/callback/oidc`,
        allowed_redirect_uris: [CLIENT_APP],
        ...overrides,
      }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  async function startLogin(provider: string, query: Record<string, string>) {
    const params = new URLSearchParams({ tenant_id: tenantId, ...query });
    return fetch(`${t.url}/api/v1/sso/login/${provider}?${params}`, { redirect: 'manual' });
  }

  it('configures a connection after checking discovery; the secret never comes back', async () => {
    const answer = await configure();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'success',
      data: {
        name: 'oidc',
        protocol: 'oidc',
        tenant_id: tenantId,
        jit_provisioning: true,
        default_roles: ['user'],
        client_secret_set: true,
        login_url: `/api/v1/sso/login/oidc?tenant_id=${tenantId}`,
        settings: { issuer: idp.url, client_id: clientId, allowed_redirect_uris: [CLIENT_APP] },
      },
      meta: { timestamp: expect.any(String) },
    });
    expect(JSON.stringify(answer.body)).not.toContain(clientSecret);
  });

  it("probes the connection's OIDC issuer in the health external_apis block", async () => {
    // Identity lists the enabled connections' issuers to the platform's service principal only.
    const direct = await t.graphql(`{ oidcIssuers { issuer } }`);
    expect(direct.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const answer = await fetch(`${t.url}/api/health/detailed`, {
      headers: { authorization: `Bearer ${t.operatorKey}` },
    });
    const block = ((await answer.json()) as Json).data.components.external_apis;
    expect(block.services[`oidc:${idp.url}`]).toMatchObject({
      status: 'healthy',
      role: 'identity_provider',
      response_time_ms: expect.any(Number),
    });
  });

  it('refuses an issuer whose discovery fails, and callers without admin:security', async () => {
    const dead = await listen((_req, res) => res.writeHead(404).end());
    await new Promise((r) => dead.server.close(r));
    const unreachable = await configure({ name: 'broken', issuer: dead.url });
    expect(unreachable.status).toBe(400);
    expect(unreachable.body.error).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('OIDC discovery failed'),
    });

    const notOidc = await listen((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer":"elsewhere"}'),
    );
    const wrongMetadata = await configure({ name: 'broken', issuer: notOidc.url });
    await new Promise((r) => notOidc.server.close(r));
    expect(wrongMetadata.status).toBe(400);
    expect(wrongMetadata.body.error.code).toBe('VALIDATION_ERROR');

    const anonymous = await configure({}, null);
    expect(anonymous.status).toBe(401);
  });

  it('logs in: 302 to the IdP with PKCE, state and nonce; callback creates the user; tokens work', async () => {
    const login = uniqueSlug('alice');
    const start = await startLogin('oidc', { redirect_uri: CLIENT_APP, state: 'client-csrf-1' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin + authorize.pathname).toBe(`${idp.url}/auth`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(authorize.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(authorize.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(authorize.searchParams.get('client_id')).toBe(clientId);
    // The client's own state is not sent to the IdP: ours is, and theirs comes back at the end.
    expect(authorize.searchParams.get('state')).not.toBe('client-csrf-1');

    const browser = new Browser();
    const callback = await browser.driveTo(authorize.href, `${t.url}/api/v1/sso/callback/oidc`, login);
    const done = await fetch(callback, { redirect: 'manual' });
    expect(done.status).toBe(302);
    expect(done.headers.get('cache-control')).toBe('no-store');
    const location = done.headers.get('location')!;
    expect(location.startsWith(`${CLIENT_APP}#`)).toBe(true);
    const fragment = fragmentOf(location);
    expect(fragment.get('state')).toBe('client-csrf-1');
    expect(fragment.get('token_type')).toBe('Bearer');
    expect(Number(fragment.get('expires_in'))).toBeGreaterThan(0);
    expect(fragment.get('refresh_token')).toEqual(expect.any(String));

    const me = await t.graphql<{ me: { email: string; tenantId: string; roles: string[] } }>(
      '{ me { email tenantId roles } }',
      {},
      { token: fragment.get('access_token') },
    );
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data!.me).toEqual({ email: `${login}@corp.example.test`, tenantId, roles: ['user'] });
    // A plain user of the tenant holds no admin:security: configuring SSO is not theirs to do.
    const forbidden = await configure({ tenant_id: undefined }, fragment.get('access_token'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');

    // The same IdP user again: the linked account, not a second one.
    const again = await startLogin('oidc', {});
    const secondCallback = await new Browser().driveTo(
      again.headers.get('location')!,
      `${t.url}/api/v1/sso/callback/oidc`,
      login,
    );
    const json = await fetch(secondCallback);
    expect(json.status).toBe(200);
    const body = (await json.json()) as Json;
    expect(body).toMatchObject({
      status: 'success',
      data: {
        token_type: 'Bearer',
        provisioned: false,
        user: { email: `${login}@corp.example.test`, tenant_id: tenantId },
      },
    });
    const first = await t.graphql<{ me: { id: string } }>('{ me { id } }', {}, { token: fragment.get('access_token') });
    expect(body.data.user.id).toBe(first.body.data!.me.id);
  });

  it('refuses a tampered state and a replayed one', async () => {
    const login = uniqueSlug('bob');
    const start = await startLogin('oidc', {});
    const callback = new URL(
      await new Browser().driveTo(start.headers.get('location')!, `${t.url}/api/v1/sso/callback/oidc`, login),
    );

    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${callback.searchParams.get('state')!.slice(0, -2)}xx`);
    const refused = await fetch(tampered);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as Json).error).toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringContaining('state'),
    });

    const first = await fetch(callback);
    expect(first.status).toBe(200);
    const replay = await fetch(callback);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as Json).error.message).toMatch(/already used/);
  });

  it('refuses a redirect_uri the connection does not allow, and an unknown provider', async () => {
    const open = await startLogin('oidc', { redirect_uri: 'https://attacker.example/steal' });
    expect(open.status).toBe(400);
    expect(((await open.json()) as Json).error.code).toBe('VALIDATION_ERROR');
    const unknown = await startLogin('nope', {});
    expect(unknown.status).toBe(404);
  });

  it('without JIT provisioning, an unknown user is refused', async () => {
    expect((await configure({ name: 'nojit', jit_provisioning: false })).status).toBe(200);
    const start = await startLogin('nojit', {});
    const callback = await new Browser().driveTo(
      start.headers.get('location')!,
      `${t.url}/api/v1/sso/callback/oidc`,
      uniqueSlug('carol'),
    );
    const answer = await fetch(callback);
    expect(answer.status).toBe(403);
    expect(((await answer.json()) as Json).error.code).toBe('REGISTRATION_CLOSED');
  });
});

// ---------------------------------------------------------------------------------------------
// SAML against a samlify identity provider

/** A key and a self-signed certificate for a test IdP (openssl: no certificate library is installed). */
function selfSignedCert(commonName: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        `/CN=${commonName}`,
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SAML SSO through the gateway against a samlify identity provider', () => {
  let t: TestPlatform;
  const tenantId = uniqueSlug('ten');
  const idpEntityId = 'https://idp.example.test/metadata';
  const ssoUrl = 'https://idp.example.test/sso';
  const spEntityId = 'https://app.example.test';
  const credentials = selfSignedCert('idp.example.test');
  const impostor = selfSignedCert('impostor.example.test');

  function identityProvider(keys: { key: string; cert: string }) {
    return samlify.IdentityProvider({
      entityID: idpEntityId,
      privateKey: keys.key,
      signingCert: keys.cert,
      singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: ssoUrl }],
      nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      wantAuthnRequestsSigned: false,
    });
  }

  let configured: { status: number; body: Json };
  beforeAll(async () => {
    t = await bootPlatform({ rateLimitPolicies: { 'platform-forge.auth': { points: 1000, durationSeconds: 60 } } });
    configured = await configure();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The IdP's view of our service provider, as an admin would register it there. */
  function serviceProviderAtIdp() {
    return samlify.ServiceProvider({
      entityID: spEntityId,
      assertionConsumerService: [
        { Binding: samlify.Constants.namespace.binding.post, Location: `${t.url}/api/v1/sso/callback/saml` },
      ],
      wantAssertionsSigned: true,
    });
  }

  async function configure() {
    const response = await fetch(`${t.url}/api/v1/sso/saml/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.operatorKey}` },
      body: JSON.stringify({
        tenant_id: tenantId,
        idp_metadata: identityProvider(credentials).getMetadata(),
        sp_entity_id: spEntityId,
        acs_url: `${t.url}/api/v1/sso/callback/saml`,
        attribute_mapping: {},
        allowed_redirect_uris: [CLIENT_APP],
      }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  /** Starts a login at the gateway and lets the IdP answer it for `email`, signed with `keys`. */
  async function loginAtIdp(email: string, keys = credentials) {
    const start = await fetch(
      `${t.url}/api/v1/sso/login/saml?${new URLSearchParams({ tenant_id: tenantId, redirect_uri: CLIENT_APP, state: 'client-csrf-saml' })}`,
      { redirect: 'manual' },
    );
    expect(start.status).toBe(302);
    const location = new URL(start.headers.get('location')!);
    const idp = identityProvider(keys);
    const sp = serviceProviderAtIdp();
    const request = await idp.parseLoginRequest(sp, 'redirect', { query: Object.fromEntries(location.searchParams) });
    const response = await idp.createLoginResponse(
      sp,
      request as unknown as Parameters<typeof idp.createLoginResponse>[1],
      'post',
      { email },
    );
    return {
      location,
      samlResponse: (response as { context: string }).context,
      relayState: location.searchParams.get('RelayState')!,
    };
  }

  function postToAcs(samlResponse: string, relayState: string) {
    return fetch(`${t.url}/api/v1/sso/callback/saml`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: relayState }),
    });
  }

  it('configures from IdP metadata; refuses metadata without a signing certificate', async () => {
    const answer = configured;
    expect(answer.status).toBe(200);
    expect(answer.body.data).toMatchObject({
      name: 'saml',
      protocol: 'saml',
      client_secret_set: false,
      settings: { idp_entity_id: idpEntityId, sp_entity_id: spEntityId, acs_url: `${t.url}/api/v1/sso/callback/saml` },
    });

    // The same metadata by URL: fetched once at configure time and kept.
    const metadataHost = await listen((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/xml' }).end(identityProvider(credentials).getMetadata()),
    );
    const byUrl = await fetch(`${t.url}/api/v1/sso/saml/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.operatorKey}` },
      body: JSON.stringify({
        tenant_id: tenantId,
        name: 'saml-by-url',
        idp_metadata_url: `${metadataHost.url}/metadata`,
        sp_entity_id: spEntityId,
      }),
    });
    await new Promise((r) => metadataHost.server.close(r));
    expect(byUrl.status).toBe(200);
    expect(((await byUrl.json()) as Json).data).toMatchObject({
      name: 'saml-by-url',
      settings: {
        idp_entity_id: idpEntityId,
        idp_metadata_url: `${metadataHost.url}/metadata`,
        acs_url: 'https://app.example.test/api/v1/sso/callback/saml',
      },
    });

    const bad = await fetch(`${t.url}/api/v1/sso/saml/configure`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.operatorKey}` },
      body: JSON.stringify({ tenant_id: tenantId, name: 'bad', idp_metadata: '<nope/>', sp_entity_id: spEntityId }),
    });
    expect(bad.status).toBe(400);
  });

  it('logs in: AuthnRequest by redirect with RelayState, signed response POSTed back, user signed in', async () => {
    const email = `${uniqueSlug('dana')}@corp.example.test`;
    const { location, samlResponse, relayState } = await loginAtIdp(email);
    expect(location.origin + location.pathname).toBe(ssoUrl);
    expect(location.searchParams.get('SAMLRequest')).toEqual(expect.any(String));
    expect(relayState).toMatch(/^[\w-]{43}$/);

    const done = await postToAcs(samlResponse, relayState);
    expect(done.status).toBe(302);
    const fragment = fragmentOf(done.headers.get('location')!);
    expect(fragment.get('state')).toBe('client-csrf-saml');
    const me = await t.graphql<{ me: { email: string; tenantId: string } }>(
      '{ me { email tenantId } }',
      {},
      {
        token: fragment.get('access_token'),
      },
    );
    expect(me.body.data!.me).toEqual({ email, tenantId });

    // The same response again: its RelayState was spent.
    const replay = await postToAcs(samlResponse, relayState);
    expect(replay.status).toBe(401);
  });

  it('refuses an unsigned response and one signed by another key', async () => {
    const unsigned = await loginAtIdp(`${uniqueSlug('eve')}@corp.example.test`);
    const stripped = Buffer.from(
      Buffer.from(unsigned.samlResponse, 'base64')
        .toString('utf8')
        .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, ''),
    ).toString('base64');
    expect(Buffer.from(stripped, 'base64').toString('utf8')).not.toContain('Signature');
    const refusedUnsigned = await postToAcs(stripped, unsigned.relayState);
    expect(refusedUnsigned.status).toBe(401);
    expect(((await refusedUnsigned.json()) as Json).error).toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/SAML response refused: .*SIGNATURE/),
    });

    const forged = await loginAtIdp(`${uniqueSlug('eve')}@corp.example.test`, impostor);
    const refusedForged = await postToAcs(forged.samlResponse, forged.relayState);
    expect(refusedForged.status).toBe(401);
    expect(((await refusedForged.json()) as Json).error.message).toMatch(
      /SAML response refused: .*(SIGNATURE|CERTIFICATE)/,
    );

    const tampered = await loginAtIdp(`${uniqueSlug('eve')}@corp.example.test`);
    const xml = Buffer.from(tampered.samlResponse, 'base64').toString('utf8');
    const changed = xml.replace(/(<saml:NameID[^>]*>)[^<]+/, '$1admin@corp.example.test');
    expect(changed).not.toBe(xml);
    const refusedTampered = await postToAcs(Buffer.from(changed).toString('base64'), tampered.relayState);
    expect(refusedTampered.status).toBe(401);
    expect(((await refusedTampered.json()) as Json).error.message).toMatch(/SAML response refused: .*SIGNATURE/);
  });
});
