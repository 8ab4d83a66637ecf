import { MessageType, stringifyMessage } from 'graphql-ws';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SUBGRAPHS } from '../app/subgraphs.js';
import { composeSupergraph } from '../gateway/supergraph.js';
import { ACCESS_TOKEN_TTL_SECONDS, userRevokedKey } from '../lib/access-token.js';
import { signAccessToken } from '../subgraphs/identity/services/tokens.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { connectWs, subscribeSse, untilAdmitted, untilListening, waitForSubscribers } from './support/realtime.js';
import { waitFor } from './support/rest.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const PASSWORD = 'Realtime-Test-Password-1';

const EVENTS = /* GraphQL */ `
  subscription ($tenantId: ID, $types: [String!]) {
    telemetryEvents(tenantId: $tenantId, types: $types) {
      id
      type
      payload
      tenant {
        id
        slug
      }
    }
  }
`;

const RECORD = /* GraphQL */ `
  mutation ($input: RecordEventInput!) {
    recordEvent(input: $input) {
      id
    }
  }
`;

describe('federated subscriptions through the gateway', () => {
  let t: TestPlatform;
  let a: TenantInfo;
  let b: TenantInfo;

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
    a = await createTenant(t, t.operatorKey, FORWARDED, 'rta');
    b = await createTenant(t, t.operatorKey, FORWARDED, 'rtb');
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  const record = async (tenantId: string, type: string, payload: Record<string, unknown> = {}) => {
    const { body } = await t.graphql(RECORD, { input: { tenantId, type, payload } }, { headers: FORWARDED });
    expect(body.errors).toBeUndefined();
  };

  it('delivers an event over graphql-ws with entity fields from another subgraph', async () => {
    const ws = connectWs(t.url, { authorization: `Bearer ${t.operatorKey}` });
    await ws.connected;
    const sub = await untilListening('telemetry.events', () =>
      ws.subscribe<{ telemetryEvents: { type: string; tenant: { id: string; slug: string } } }>(EVENTS, {
        tenantId: a.id,
      }),
    );
    await record(a.id, 'order.created', { n: 1 });
    const [event] = await sub.waitFor(1);
    expect(event!.errors).toBeUndefined();
    expect(event!.data!.telemetryEvents).toMatchObject({
      type: 'order.created',
      payload: { n: 1 },
      tenant: { id: a.id, slug: a.slug },
    });
    await ws.dispose();
  });

  it('delivers over SSE (distinct connections) with the same selection', async () => {
    const sub = await untilListening('telemetry.events', () =>
      subscribeSse<{ telemetryEvents: { type: string; tenant: { slug: string } } }>(t.url, t.operatorKey, EVENTS, {
        tenantId: b.id,
        types: ['page.viewed'],
      }),
    );
    await record(b.id, 'ignored.type');
    await record(b.id, 'page.viewed', { path: '/x' });
    const [event] = await sub.waitFor(1);
    expect(event!.data!.telemetryEvents).toMatchObject({ type: 'page.viewed', tenant: { slug: b.slug } });
    sub.stop();
  });

  it('writes one shared result to each subscriber in its own frame: its id over graphql-ws, SSE alike', async () => {
    // Raw frames, to see the bytes: a graphql-ws client would route a frame with a wrong id away.
    const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const frames: string[] = [];
    socket.on('message', (data) => frames.push(String(data)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { token: t.operatorKey } }));
    await waitFor(async () => (frames.some((f) => JSON.parse(f).type === 'connection_ack') ? true : undefined), 'ack');
    const groupsBefore = t.platform.gateway.realtime.federated.stats().groups;
    const subscribe = (id: string) =>
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: EVENTS, variables: { tenantId: a.id } } }));
    await untilListening('telemetry.events', () => subscribe('first'));
    subscribe('second "quoted"');
    const sse = subscribeSse<{ telemetryEvents: { type: string } }>(t.url, t.operatorKey, EVENTS, { tenantId: a.id });
    await waitForSubscribers(t.platform.gateway, 3);
    // Same document, variables and principal: one shared group for all three.
    expect(t.platform.gateway.realtime.federated.stats().groups).toBe(groupsBefore + 1);

    await record(a.id, 'shared.once', { n: 1 });
    const nexts = () => frames.map((f) => JSON.parse(f) as { id: string; type: string; payload: unknown });
    await waitFor(async () => (nexts().filter((m) => m.type === 'next').length >= 2 ? true : undefined), 'two frames');
    const [sseEvent] = await sse.waitFor(1);
    const delivered = frames.filter((f) => JSON.parse(f).type === 'next');
    expect(delivered.map((f) => JSON.parse(f).id).sort()).toEqual(['first', 'second "quoted"']);
    for (const frame of delivered) {
      const message = JSON.parse(frame) as { id: string; payload: unknown };
      // Byte for byte what graphql-ws itself would send (JSON.stringify of {id, type, payload}).
      expect(frame).toBe(
        stringifyMessage({ id: message.id, type: MessageType.Next, payload: message.payload as never }),
      );
      expect(message.payload).toEqual(sseEvent);
    }
    expect((sseEvent!.data as { telemetryEvents: { type: string } }).telemetryEvents.type).toBe('shared.once');

    // A completed id gets nothing more; the other still does.
    socket.send(JSON.stringify({ id: 'first', type: 'complete' }));
    await waitForSubscribers(t.platform.gateway, 2);
    frames.length = 0;
    await record(a.id, 'shared.twice', { n: 2 });
    await sse.waitFor(2);
    await waitFor(async () => (nexts().some((m) => m.type === 'next') ? true : undefined), 'the next frame');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(nexts().map((m) => [m.id, m.type])).toEqual([['second "quoted"', 'next']]);
    sse.stop();
    socket.close();
  }, 180_000);

  it("never delivers another tenant's events to a tenant-bound subscriber", async () => {
    const token = await signInTenantAdmin(t, a.id, { password: PASSWORD, headers: FORWARDED });
    const ws = connectWs(t.url, { token });
    await ws.connected;

    const own = await untilListening('telemetry.events', () =>
      ws.subscribe<{ telemetryEvents: { type: string; tenant: { id: string } } }>(EVENTS, {}),
    );
    const foreign = ws.subscribe(EVENTS, { tenantId: b.id });
    await foreign.waitForEnd();
    expect(JSON.stringify([foreign.error, foreign.events])).toContain('TENANT_MISMATCH');
    // B's event is published first on the same topic: had it leaked, it would arrive before A's.
    await record(b.id, 'secret.of_b');
    await record(a.id, 'visible.to_a');
    const events = await own.waitFor(1);
    expect(events.map((e) => e.data!.telemetryEvents.type)).toEqual(['visible.to_a']);
    await ws.dispose();
  }, 180_000);

  it('refuses a connection without valid credentials (4401)', async () => {
    const ws = connectWs(t.url, { token: 'not-a-valid-token' });
    const closed = await ws.closed;
    expect(closed.code).toBe(4401);
    const anonymous = connectWs(t.url, {});
    expect((await anonymous.closed).code).toBe(4401);
  });
});

describe('subscription limits and lifecycle', () => {
  let t: TestPlatform;
  let tenant: TenantInfo;

  beforeAll(async () => {
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1'],
      subscriptionLimits: { maxPerConnection: 2, maxPerPrincipal: 3, keepAliveMs: 300 },
    });
    tenant = await createTenant(t, t.operatorKey, FORWARDED, 'rtl');
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('caps subscriptions per connection and per principal with LIMIT_EXCEEDED', async () => {
    const gateway = t.platform.gateway;
    const first = connectWs(t.url, { token: t.operatorKey });
    const second = connectWs(t.url, { token: t.operatorKey });
    await Promise.all([first.connected, second.connected]);
    const held = [first.subscribe(EVENTS, {}), first.subscribe(EVENTS, {})];
    const overConnection = first.subscribe(EVENTS, {});
    await overConnection.waitForEnd();
    expect(JSON.stringify(overConnection.error)).toContain('subscriptions_per_connection');
    await untilAdmitted(gateway, 2);
    held.push(second.subscribe(EVENTS, {}));
    await untilAdmitted(gateway, 3);
    const overPrincipal = second.subscribe(EVENTS, {});
    await overPrincipal.waitForEnd();
    expect(JSON.stringify(overPrincipal.error)).toContain('subscriptions_per_principal');
    // A finished subscription gives its slot back, and the next one is admitted.
    held[0]!.stop();
    await untilAdmitted(gateway, 2);
    const again = second.subscribe(EVENTS, {});
    await untilAdmitted(gateway, 3);
    expect(again.completed).toBe(false);
    await Promise.all([first.dispose(), second.dispose()]);
    await untilAdmitted(gateway, 0);
  });

  it('drops a socket that stops answering pings', async () => {
    const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', {
      autoPong: false,
    });
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.on('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { token: t.operatorKey } }));
    const started = Date.now();
    // ws terminates the socket (1006 on this side) after a ping went unanswered for one interval.
    expect(await closed).toBe(1006);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('closes with 4403 "API key revoked" when the key is deleted', async () => {
    const signup = await t.rest('/signup', {
      method: 'POST',
      token: null,
      headers: FORWARDED,
      body: { email: `${uniqueSlug('rt')}@example.com`, password: PASSWORD, project_name: uniqueSlug('Project') },
    });
    expect(signup.status).toBe(201);
    const owner = signup.body.api_key as string;
    const created = await t.graphql<{ createApiKey: { key: string; apiKey: { id: number } } }>(
      `mutation ($name: String!) { createApiKey(name: $name) { key apiKey { id } } }`,
      { name: 'realtime' },
      { token: owner, headers: FORWARDED },
    );
    expect(created.body.errors).toBeUndefined();
    const { key, apiKey } = created.body.data!.createApiKey;
    const ws = connectWs(t.url, { apiKey: key });
    await ws.connected;
    const deleted = await t.graphql(
      `mutation ($id: Int!) { deleteApiKey(id: $id) { id } }`,
      { id: apiKey.id },
      {
        token: owner,
        headers: FORWARDED,
      },
    );
    expect(deleted.body.errors).toBeUndefined();
    expect(await ws.closed).toEqual({ code: 4403, reason: 'API key revoked' });
  }, 180_000);

  it('closes with 4403 "Tenant suspended" when the tenant is suspended', async () => {
    const token = await signInTenantAdmin(t, tenant.id, { password: PASSWORD, headers: FORWARDED });
    const ws = connectWs(t.url, { token });
    await ws.connected;
    const sub = ws.subscribe(EVENTS, {});
    const suspended = await t.graphql(
      `mutation ($id: ID!) { suspendTenant(id: $id) { id } }`,
      { id: tenant.id },
      {
        headers: FORWARDED,
      },
    );
    expect(suspended.body.errors).toBeUndefined();
    expect(await ws.closed).toEqual({ code: 4403, reason: 'Tenant suspended' });
    await sub.waitForEnd();
    // A new connection for that tenant is refused the same way.
    const again = connectWs(t.url, { token });
    expect(await again.closed).toEqual({ code: 4403, reason: 'Tenant suspended' });
  }, 180_000);

  it('closes with 4401 "Token expired" when the access token expires', async () => {
    const other = await createTenant(t, t.operatorKey, FORWARDED, 'rte');
    const token = await signInTenantAdmin(t, other.id, { password: PASSWORD, headers: FORWARDED });
    const claims = decodeJwt(token);
    // The same user's token, issued so that it expires two seconds from now.
    const almostExpired = await signAccessToken({
      deps: t.platform.deps,
      subject: claims.sub!,
      claims: { tenant_id: claims.tenant_id, roles: claims.roles, scope: claims.scope } as never,
      now: new Date(Date.now() - ACCESS_TOKEN_TTL_SECONDS * 1000 + 2_000),
    });
    // The admin promotion revoked the user's earlier tokens; this one stands for a token issued
    // after it, so the revocation mark (kept in kv for one token lifetime) is moved before it.
    const issuedAtMs = decodeJwt(almostExpired.token).iat_ms as number;
    await t.platform.kv.cache.set(userRevokedKey(claims.sub!), String(issuedAtMs - 1), 3600);
    const ws = connectWs(t.url, { token: almostExpired.token });
    await ws.connected;
    const started = Date.now();
    expect(await ws.closed).toEqual({ code: 4401, reason: 'Token expired' });
    expect(Date.now() - started).toBeLessThan(4_000);
  }, 180_000);

  it('closes with 1012 "Schema reloaded" when the gateway loads a new supergraph', async () => {
    const ws = connectWs(t.url, { token: t.operatorKey });
    await ws.connected;
    const admitted = t.platform.gateway.realtime.sessions.stats().subscriptions;
    const sse = subscribeSse(t.url, t.operatorKey, EVENTS, {});
    // The reload must find the SSE subscription open, so that it is ended with SCHEMA_RELOADED.
    await untilAdmitted(t.platform.gateway, admitted + 1);
    // A composition that differs (the gateway ignores a reload of the same supergraph).
    t.platform.gateway.reloadSupergraph(`${composeSupergraph(Object.values(SUBGRAPHS))}\n# ${uniqueSlug('reload')}\n`);
    expect(await ws.closed).toEqual({ code: 1012, reason: 'Schema reloaded' });
    await sse.waitFor(1);
    expect(sse.events[0]!.errors?.[0]).toMatchObject({
      message: 'Schema reloaded',
      extensions: { code: 'SCHEMA_RELOADED' },
    });
    await sse.waitForEnd();
    // Subscriptions work again on the new schema.
    const fresh = connectWs(t.url, { token: t.operatorKey });
    await fresh.connected;
    const sub = await untilListening('telemetry.events', () =>
      fresh.subscribe<{ telemetryEvents: { type: string } }>(EVENTS, { tenantId: tenant.id }),
    );
    await t.graphql(RECORD, { input: { tenantId: tenant.id, type: 'after.reload' } }, { headers: FORWARDED });
    expect((await sub.waitFor(1))[0]!.data!.telemetryEvents.type).toBe('after.reload');
    await fresh.dispose();
  });
});
