import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, type TestPlatform } from './support/platform.js';
import { connectWs, subscribeSse } from './support/realtime.js';
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
  });
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
    const sub = ws.subscribe<{ telemetryEvents: { type: string; tenant: { id: string; slug: string } } }>(EVENTS, {
      tenantId: a.id,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
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
    const sub = subscribeSse<{ telemetryEvents: { type: string; tenant: { slug: string } } }>(
      t.url,
      t.operatorKey,
      EVENTS,
      { tenantId: b.id, types: ['page.viewed'] },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await record(b.id, 'ignored.type');
    await record(b.id, 'page.viewed', { path: '/x' });
    const [event] = await sub.waitFor(1);
    expect(event!.data!.telemetryEvents).toMatchObject({ type: 'page.viewed', tenant: { slug: b.slug } });
    sub.stop();
  });

  it("never delivers another tenant's events to a tenant-bound subscriber", async () => {
    const token = await signInTenantAdmin(t, a.id, { password: PASSWORD, headers: FORWARDED });
    const ws = connectWs(t.url, { token });
    await ws.connected;

    const own = ws.subscribe<{ telemetryEvents: { type: string; tenant: { id: string } } }>(EVENTS, {});
    const foreign = ws.subscribe(EVENTS, { tenantId: b.id });
    await foreign.waitForEnd();
    expect(JSON.stringify([foreign.error, foreign.events])).toContain('TENANT_MISMATCH');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await record(b.id, 'secret.of_b');
    await record(a.id, 'visible.to_a');
    const events = await own.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events.map((e) => e.data!.telemetryEvents.type)).toEqual(['visible.to_a']);
    await ws.dispose();
  }, 60_000);

  it('refuses a connection without valid credentials (4401)', async () => {
    const ws = connectWs(t.url, { token: 'not-a-valid-token' });
    const closed = await ws.closed;
    expect(closed.code).toBe(4401);
    const anonymous = connectWs(t.url, {});
    expect((await anonymous.closed).code).toBe(4401);
  });
});
