import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, deleteRedisKeys, usingRealServices, type TestPlatform } from './support/platform.js';
import { connectWs, subscribeSse, untilListening, waitForSubscribers } from './support/realtime.js';
import { createTenant, type TenantInfo } from './support/tenants.js';

const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};

const EVENTS = /* GraphQL */ `
  subscription ($tenantId: ID) {
    telemetryEvents(tenantId: $tenantId) {
      type
      tenant {
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

interface Received {
  telemetryEvents: { type: string; tenant: { slug: string } };
}

describe('subscriptions with subgraphs in other processes (graphql-ws between gateway and subgraph)', () => {
  let t: TestPlatform;
  let tenant: TenantInfo;
  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'], transport: 'http' });
    tenant = await createTenant(t, t.operatorKey, FORWARDED, 'rth');
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('resolves the event and its entity fields across subgraphs over the network', async () => {
    const ws = connectWs(t.url, { token: t.operatorKey });
    await ws.connected;
    const sub = await untilListening('telemetry.events', () => ws.subscribe<Received>(EVENTS, { tenantId: tenant.id }));
    const recorded = await t.graphql(
      RECORD,
      { input: { tenantId: tenant.id, type: 'remote.event' } },
      {
        headers: FORWARDED,
      },
    );
    expect(recorded.body.errors).toBeUndefined();
    const [event] = await sub.waitFor(1);
    expect(event!.data!.telemetryEvents).toEqual({ type: 'remote.event', tenant: { slug: tenant.slug } });
    await ws.dispose();
  });

  it('refuses a subgraph connection that is not the gateway', async () => {
    const direct = connectWs(t.platform.subgraphUrls.telemetry!.replace(/\/graphql$/, ''), {});
    expect((await direct.closed).code).toBe(4403);
  });
});

describe.runIf(usingRealServices)('two gateway instances on one Redis', () => {
  let a: TestPlatform;
  let b: TestPlatform;
  let tenant: TenantInfo;
  const keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  beforeAll(async () => {
    // Two complete deployments sharing PostgreSQL and Redis (one key prefix), as two replicas would.
    a = await bootPlatform({ trustedProxies: ['127.0.0.1'], keyPrefix });
    b = await bootPlatform({ trustedProxies: ['127.0.0.1'], keyPrefix, adminApiKey: a.operatorKey });
    tenant = await createTenant(a, a.operatorKey, FORWARDED, 'rtc');
  }, 180_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await deleteRedisKeys(process.env.TEST_REDIS_URL!, keyPrefix);
  });

  it('an event recorded through one gateway reaches subscribers of the other (ws and SSE)', async () => {
    const ws = connectWs(b.url, { token: a.operatorKey });
    await ws.connected;
    const viaWs = await untilListening('telemetry.events', () =>
      ws.subscribe<Received>(EVENTS, { tenantId: tenant.id }),
    );
    const viaSse = subscribeSse<Received>(b.url, a.operatorKey, EVENTS, { tenantId: tenant.id });
    // Identical subscriptions share one group and its listener, so the SSE one is live once it has
    // joined the group the ws one opened: two members in one group on gateway b.
    await waitForSubscribers(b.platform.gateway, 2);
    expect(b.platform.gateway.realtime.federated.stats()).toMatchObject({ groups: 1, members: 2 });
    const recorded = await a.graphql(
      RECORD,
      { input: { tenantId: tenant.id, type: 'cluster.event' } },
      {
        headers: FORWARDED,
      },
    );
    expect(recorded.body.errors).toBeUndefined();
    for (const sub of [viaWs, viaSse]) {
      const [event] = await sub.waitFor(1);
      expect(event!.data!.telemetryEvents).toEqual({ type: 'cluster.event', tenant: { slug: tenant.slug } });
    }
    viaSse.stop();
    await ws.dispose();
  });
});
