import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitWebhookEvent } from '../lib/webhooks.js';
import { startFakeStripe, type FakeStripe } from './support/fake-stripe.js';
import { bootPlatform, uniqueSlug, type RestAnswer, type RestInit, type TestPlatform } from './support/platform.js';
import { uniqueClientIp, waitFor } from './support/rest.js';
import { createTenant, signInTenantAdmin } from './support/tenants.js';

// Outbound webhooks end to end: endpoints managed through GraphQL by a tenant admin, events
// emitted by the platform-wide API, by billing (a signed Stripe event) and by tenancy (a
// blueprint deployment), delivered to real HTTP servers started here: one that answers 2xx, one
// that fails, one that is slow. Signatures are checked with an implementation written here from
// the Standard Webhooks spec, not with the library the platform signs with.

const PASSWORD = 'Webhook-Admin-Passphrase-7';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  received: Received[];
  /** What the next requests get: a status, or a delay before a 200. */
  behave: (req: number) => { status: number; delayMs?: number };
  close(): Promise<void>;
}

async function startReceiver(behave: Receiver['behave']): Promise<Receiver> {
  const receiver: Receiver = { url: '', received: [], behave, close: async () => undefined };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = receiver.received.length;
      receiver.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const { status, delayMs = 0 } = receiver.behave(n);
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'receiver failure');
      }, delayMs);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return receiver;
}

/** Standard Webhooks, from the spec: HMAC-SHA256 over `id.timestamp.body`, keyed with the base64 after `whsec_`. */
function standardSignatureValid(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`)
    .digest();
  return String(headers['webhook-signature'])
    .split(' ')
    .some((part) => {
      const [version, signature] = part.split(',');
      const given = Buffer.from(signature ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** platform-forge's documented check: hex HMAC-SHA256 of the body with the secret string. */
function forgeSignatureValid(secret: string, signature: string, body: string): boolean {
  const expected = createHmac('sha256', Buffer.from(secret)).update(body).digest('hex');
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

const ENDPOINT_FIELDS = 'id tenantId url eventTypes enabled disabledReason failureStreak previousSecretExpiresAt';
const DELIVERY_FIELDS = `deliveries { id eventId eventType status attemptCount lastError
  attempts { number trigger statusCode error responseBody durationMs } } page limit total pages`;

describe('outbound webhooks through the gateway', () => {
  let t: TestPlatform;
  let stripe: FakeStripe;
  const stripeWebhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const sdk = new Stripe('sk_test_webhooks');
  const headers = { 'x-forwarded-for': uniqueClientIp() };
  let tenantId: string;
  let adminToken: string;
  let otherToken: string;
  let ok: Receiver;
  let failing: Receiver;
  let slow: Receiver;
  let okSecret: string;

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}, token: string | null = adminToken) => {
    const { body } = await t.graphql<T>(query, variables, { token, headers });
    return body;
  };
  const must = async <T>(query: string, variables: Record<string, unknown> = {}, token: string | null = adminToken) => {
    const body = await gql<T>(query, variables, token);
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data!;
  };
  const createEndpoint = (input: Record<string, unknown>, token = adminToken) =>
    gql<{
      createWebhookEndpoint: { secret: string; endpoint: { id: string; tenantId: string; eventTypes: string[] } };
    }>(
      `mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { ${ENDPOINT_FIELDS} } } }`,
      { input },
      token,
    );
  const deliveries = async (endpointId: string) =>
    (
      await must<{ webhookDeliveries: { deliveries: Delivery[]; total: number } }>(
        `query ($id: ID!) { webhookDeliveries(endpointId: $id) { ${DELIVERY_FIELDS} } }`,
        { id: endpointId },
      )
    ).webhookDeliveries;
  const emit = (type: string, data: Record<string, unknown> = {}) =>
    emitWebhookEvent(t.platform.jobs, { tenantId, type, data });
  const eventsOf = (r: Receiver) => r.received.map((x) => JSON.parse(x.body) as { id: string; type: string });

  interface Delivery {
    id: string;
    eventId: string;
    eventType: string;
    status: string;
    attemptCount: number;
    lastError: string | null;
    attempts: { number: number; trigger: string; statusCode: number | null; error: string | null }[];
  }

  beforeAll(async () => {
    ok = await startReceiver(() => ({ status: 204 }));
    // Fails twice, then accepts.
    failing = await startReceiver((n) => ({ status: n < 2 ? 500 : 200 }));
    // Slower than the platform's timeout until told otherwise.
    slow = await startReceiver(() => ({ status: 200, delayMs: 3_000 }));
    stripe = await startFakeStripe();
    stripe.addPaymentMethod('pm_card_visa');
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1', '::1'],
      outbound: {
        // The operator's exception: the receivers run on loopback.
        allowedHosts: ['127.0.0.1'],
        timeoutMs: 1_000,
        webhookRetryScheduleMs: [100, 200, 300],
        webhookDisableAfterFailures: 6,
      },
      stripe: {
        secretKey: stripe.secretKey,
        webhookSecret: stripeWebhookSecret,
        apiUrl: stripe.url,
        usageMeterEvent: 'api_calls',
      },
    });
    const tenant = await createTenant(t, t.operatorKey, headers, 'wh');
    tenantId = tenant.id;
    adminToken = await signInTenantAdmin(t, tenantId, { password: PASSWORD, headers });
    const other = await createTenant(t, t.operatorKey, headers, 'wo');
    otherToken = await signInTenantAdmin(t, other.id, { password: PASSWORD, headers });
  });

  afterAll(async () => {
    await t?.close();
    await Promise.all([ok?.close(), failing?.close(), slow?.close(), stripe?.close()]);
  });

  it('creates an endpoint with a whsec_ secret for the caller’s own tenant, and refuses private targets', async () => {
    const created = await createEndpoint({ url: ok.url, eventTypes: ['test.*', 'webhook.*'], description: 'main' });
    expect(created.errors).toBeUndefined();
    const { secret, endpoint } = created.data!.createWebhookEndpoint;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(endpoint).toMatchObject({ tenantId, eventTypes: ['test.*', 'webhook.*'], enabled: true, failureStreak: 0 });
    okSecret = secret;
    // Stored sealed, never as given.
    const row = await t.platform.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(row.secret).not.toContain(secret.slice(6));

    for (const url of [
      'http://169.254.169.254/latest',
      'http://10.1.2.3/hook',
      'http://[::1]:8080/x',
      'http://0x0a.1:9/',
      'http://2130706434:9/' /* 127.0.0.2: loopback, not the listed address */,
    ]) {
      const refused = await createEndpoint({ url });
      expect(refused.errors?.[0]?.extensions?.code, url).toBe('SOURCE_NOT_ALLOWED');
    }
    expect((await createEndpoint({ url: 'ftp://example.com/x' })).errors?.[0]?.extensions?.code).toBe(
      'VALIDATION_ERROR',
    );
    expect((await createEndpoint({ url: ok.url, eventTypes: ['Bad Type'] })).errors?.[0]?.extensions?.code).toBe(
      'VALIDATION_ERROR',
    );
    // A tenant admin cannot name another tenant.
    expect((await createEndpoint({ url: ok.url, tenantId: 'ten_other' })).errors?.[0]?.extensions?.code).toBe(
      'TENANT_MISMATCH',
    );
    const listed = await must<{ webhookEndpoints: { id: string }[] }>(`{ webhookEndpoints { ${ENDPOINT_FIELDS} } }`);
    expect(listed.webhookEndpoints.map((e) => e.id)).toEqual([endpoint.id]);
    // Another tenant sees none of them and cannot read its deliveries.
    expect(
      (await must<{ webhookEndpoints: unknown[] }>(`{ webhookEndpoints { id } }`, {}, otherToken)).webhookEndpoints,
    ).toEqual([]);
    const foreign = await gql(
      `query ($id: ID!) { webhookDeliveries(endpointId: $id) { total } }`,
      { id: endpoint.id },
      otherToken,
    );
    expect(foreign.errors?.[0]?.extensions?.code).toBe('TENANT_MISMATCH');
  });

  it('delivers a matching event signed with every documented header, verified independently; filters others out', async () => {
    await emit('other.thing', { n: 0 });
    const { eventId } = await emit('test.ping', { hello: 'world' });
    const got = await waitFor(async () => ok.received.find((r) => JSON.parse(r.body).id === eventId), 'the ping');
    expect(JSON.parse(got.body)).toEqual({
      id: eventId,
      type: 'test.ping',
      data: { hello: 'world' },
      created_at: expect.stringMatching(/Z$/),
      tenant_id: tenantId,
    });
    expect(got.headers['webhook-id']).toBe(eventId);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(got.headers['x-event-type']).toBe('test.ping');
    expect(standardSignatureValid(okSecret, got.headers, got.body)).toBe(true);
    expect(standardSignatureValid(`whsec_${randomBytes(32).toString('base64')}`, got.headers, got.body)).toBe(false);
    expect(forgeSignatureValid(okSecret, String(got.headers['x-webhook-signature']), got.body)).toBe(true);
    expect(got.headers['x-signature']).toBe(got.headers['x-webhook-signature']);
    // Emitting the same event id again delivers nothing new.
    await emitWebhookEvent(t.platform.jobs, { id: eventId, tenantId, type: 'test.ping', data: { hello: 'again' } });
    const endpointId = (await must<{ webhookEndpoints: { id: string }[] }>(`{ webhookEndpoints { id } }`))
      .webhookEndpoints[0]!.id;
    const listed = await waitFor(async () => {
      const page = await deliveries(endpointId);
      return page.deliveries.find((d) => d.eventId === eventId && d.status === 'succeeded') ? page : undefined;
    }, 'the delivery recorded');
    expect(listed.deliveries.map((d) => d.eventType)).not.toContain('other.thing');
    expect(listed.deliveries.find((d) => d.eventId === eventId)).toMatchObject({
      status: 'succeeded',
      attemptCount: 1,
      attempts: [{ number: 1, trigger: 'initial', statusCode: 204, error: null }],
    });
    expect(eventsOf(ok).filter((e) => e.id === eventId)).toHaveLength(1);
  });

  it('signs with both secrets while a rotation is in its grace period', async () => {
    const endpointId = (await must<{ webhookEndpoints: { id: string }[] }>(`{ webhookEndpoints { id } }`))
      .webhookEndpoints[0]!.id;
    const rotated = await must<{
      rotateWebhookEndpointSecret: { secret: string; endpoint: { previousSecretExpiresAt: string } };
    }>(`mutation ($id: ID!) { rotateWebhookEndpointSecret(id: $id) { secret endpoint { ${ENDPOINT_FIELDS} } } }`, {
      id: endpointId,
    });
    const fresh = rotated.rotateWebhookEndpointSecret.secret;
    expect(fresh).not.toBe(okSecret);
    expect(new Date(rotated.rotateWebhookEndpointSecret.endpoint.previousSecretExpiresAt).getTime()).toBeGreaterThan(
      Date.now() + 23 * 3600_000,
    );
    const { eventId } = await emit('test.rotated');
    const got = await waitFor(
      async () => ok.received.find((r) => JSON.parse(r.body).id === eventId),
      'the rotated delivery',
    );
    expect(String(got.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(standardSignatureValid(fresh, got.headers, got.body)).toBe(true);
    expect(standardSignatureValid(okSecret, got.headers, got.body)).toBe(true);
    expect(forgeSignatureValid(fresh, String(got.headers['x-webhook-signature']), got.body)).toBe(true);
    okSecret = fresh;
  });

  it('retries a failing receiver on the schedule, with jitter, listing every attempt', async () => {
    const created = await createEndpoint({ url: failing.url, eventTypes: ['test.retry'] });
    const endpointId = created.data!.createWebhookEndpoint.endpoint.id;
    const { eventId } = await emit('test.retry', { n: 1 });
    const done = await waitFor(async () => {
      const d = (await deliveries(endpointId)).deliveries.find((x) => x.eventId === eventId);
      return d?.status === 'succeeded' ? d : undefined;
    }, 'the retried delivery');
    expect(done.attempts).toEqual([
      expect.objectContaining({ number: 1, trigger: 'initial', statusCode: 500, error: 'receiver answered 500' }),
      expect.objectContaining({ number: 2, trigger: 'retry', statusCode: 500 }),
      expect.objectContaining({ number: 3, trigger: 'retry', statusCode: 200, error: null }),
    ]);
    const times = failing.received.map((r) => r.at);
    // Schedule 100 ms then 200 ms, each ±20 %.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(80);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(160);
    // The streak ended with the success.
    const endpoint = await t.platform.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
    expect(endpoint.failureStreak).toBe(0);
  });

  it('gives up on a slow receiver after the schedule, and a manual replay delivers it', async () => {
    const created = await createEndpoint({ url: slow.url, eventTypes: ['test.slow'] });
    const endpointId = created.data!.createWebhookEndpoint.endpoint.id;
    const { eventId } = await emit('test.slow');
    const failed = await waitFor(
      async () => {
        const d = (await deliveries(endpointId)).deliveries.find((x) => x.eventId === eventId);
        return d?.status === 'failed' ? d : undefined;
      },
      'the slow delivery to fail',
      { timeoutMs: 20_000 },
    );
    expect(failed.attempts).toHaveLength(4);
    for (const attempt of failed.attempts) {
      expect(attempt).toMatchObject({ statusCode: null, error: 'timed out after 1000 ms' });
    }
    slow.behave = () => ({ status: 202 });
    const replayed = await must<{ replayWebhookDelivery: { status: string } }>(
      `mutation ($id: ID!) { replayWebhookDelivery(id: $id) { status } }`,
      { id: failed.id },
    );
    expect(replayed.replayWebhookDelivery.status).toBe('pending');
    const done = await waitFor(async () => {
      const d = (await deliveries(endpointId)).deliveries.find((x) => x.eventId === eventId);
      return d?.status === 'succeeded' ? d : undefined;
    }, 'the replay');
    expect(done.attempts.at(-1)).toMatchObject({ number: 5, trigger: 'replay', statusCode: 202 });
    // Replaying a delivery in flight or done twice at once is refused, not doubled.
    const other = await gql(`mutation ($id: ID!) { replayWebhookDelivery(id: $id) { status } }`, { id: 'whd_missing' });
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('disables an endpoint after a long failure streak and notifies the tenant’s other endpoints', async () => {
    const broken = await startReceiver(() => ({ status: 503 }));
    try {
      const created = await createEndpoint({ url: broken.url, eventTypes: ['test.broken'] });
      const endpointId = created.data!.createWebhookEndpoint.endpoint.id;
      await emit('test.broken', { n: 1 });
      await emit('test.broken', { n: 2 });
      const notice = await waitFor(
        async () => ok.received.find((r) => JSON.parse(r.body).type === 'webhook.endpoint_disabled'),
        'the disabled notice',
        { timeoutMs: 20_000 },
      );
      expect(JSON.parse(notice.body).data).toMatchObject({
        endpoint_id: endpointId,
        url: broken.url,
        failure_streak: 6,
        reason: 'disabled after 6 failed delivery attempts in a row',
      });
      expect(standardSignatureValid(okSecret, notice.headers, notice.body)).toBe(true);
      const listed = await must<{ webhookEndpoints: { id: string; enabled: boolean; disabledReason: string }[] }>(
        `{ webhookEndpoints { ${ENDPOINT_FIELDS} } }`,
      );
      expect(listed.webhookEndpoints.find((e) => e.id === endpointId)).toMatchObject({
        enabled: false,
        disabledReason: 'disabled after 6 failed delivery attempts in a row',
      });
      // Stops trying: no more attempts after the remaining deliveries settle.
      await waitFor(async () => {
        const page = await deliveries(endpointId);
        return page.deliveries.every((d) => d.status !== 'pending') ? page : undefined;
      }, 'deliveries settled');
      const count = broken.received.length;
      // "Nothing else arrives" is under test: no signal marks an attempt that was never made.
      await new Promise((r) => setTimeout(r, 600));
      expect(broken.received.length).toBe(count);
      expect(count).toBeLessThanOrEqual(7);
      // Re-enabling starts a fresh streak.
      const enabled = await must<{ updateWebhookEndpoint: { enabled: boolean; failureStreak: number } }>(
        `mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { enabled failureStreak } }`,
        { id: endpointId },
      );
      expect(enabled.updateWebhookEndpoint).toEqual({ enabled: true, failureStreak: 0 });
      expect(
        (
          await must<{ deleteWebhookEndpoint: boolean }>(`mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) }`, {
            id: endpointId,
          })
        ).deleteWebhookEndpoint,
      ).toBe(true);
    } finally {
      await broken.close();
    }
  });

  it('billing events reach the tenant’s webhooks (a signed Stripe event)', async () => {
    const billing = await createEndpoint({ url: ok.url, eventTypes: ['payment_method.*', 'subscription.*'] });
    expect(billing.errors).toBeUndefined();
    const customer = await t.rest('/api/v1/billing/customers', {
      method: 'POST',
      token: adminToken,
      headers,
      body: { email: 'billing@example.com', name: 'Hook Co', payment_method: 'pm_card_visa' },
    });
    expect(customer.status, JSON.stringify(customer.body)).toBe(201);
    const customerId = customer.body.data.id as string;
    const stripeEventId = `evt_${randomBytes(12).toString('hex')}`;
    const payload = JSON.stringify({
      id: stripeEventId,
      object: 'event',
      type: 'payment_method.attached',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object: { id: 'pm_card_visa', object: 'payment_method', customer: customerId } },
    });
    const response = await fetch(`${t.url}/api/v1/billing/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...headers,
        'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload, secret: stripeWebhookSecret }),
      },
      body: payload,
    });
    expect(response.status).toBe(200);
    const got = await waitFor(
      async () => ok.received.find((r) => JSON.parse(r.body).id === stripeEventId),
      'billing event',
    );
    expect(JSON.parse(got.body)).toMatchObject({
      type: 'payment_method.attached',
      tenant_id: tenantId,
      data: { payment_method_id: 'pm_card_visa', customer_id: customerId },
    });
    expect(standardSignatureValid(billing.data!.createWebhookEndpoint.secret, got.headers, got.body)).toBe(true);
  });

  it('tenancy deployments emit deployment.completed to each target tenant', async () => {
    const signup = await t.rest('/signup', {
      method: 'POST',
      token: null,
      headers,
      body: { email: `owner-${uniqueSlug()}@example.com`, password: PASSWORD, project_name: 'Hooks' },
    });
    expect(signup.status).toBe(201);
    const key = signup.body.api_key as string;
    const rest = (path: string, init: RestInit = {}): Promise<RestAnswer> =>
      t.rest(path, { ...init, token: key, headers });
    const name = uniqueSlug('hk');
    expect((await rest('/workspaces', { method: 'POST', body: { name, database: 'PostgreSQL' } })).status).toBe(201);
    const ddl = async (query: string) =>
      expect((await rest(`/workspaces/${name}/queries`, { method: 'POST', body: { query } })).status).toBe(200);
    const publish = async () => {
      const { body } = await t.graphql(
        `mutation ($id: ID!) { publishBlueprint(workspaceId: $id) { blueprint } }`,
        { id: name },
        { token: key },
      );
      expect(body.errors).toBeUndefined();
    };
    await ddl('CREATE TABLE items (id serial PRIMARY KEY)');
    await publish();
    const slug = uniqueSlug('hkt');
    expect(
      (await rest('/tenants', { method: 'POST', body: { tenant_id: slug, databases: [{ blueprint: name }] } })).status,
    ).toBe(201);
    const rows = await t.platform.db.prisma.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM tenancy.tenants WHERE slug = $1`,
      slug,
    );
    const deployTenant = rows[0]!.id;
    // The operator manages webhooks for a tenant it names.
    const created = await createEndpoint(
      { url: ok.url, tenantId: deployTenant, eventTypes: ['deployment.*'] },
      t.operatorKey,
    );
    expect(created.errors).toBeUndefined();
    await ddl('ALTER TABLE items ADD COLUMN name text');
    await publish();
    const queued = await rest('/deployments', {
      method: 'POST',
      body: { blueprint_name: name, version: '1.1', deploy_all: true },
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    const got = await waitFor(
      async () => ok.received.find((r) => JSON.parse(r.body).tenant_id === deployTenant),
      'deployment event',
    );
    expect(JSON.parse(got.body)).toMatchObject({
      type: 'deployment.completed',
      data: { version: '1.1', status: 'completed', tenant_status: 'completed', error: null },
    });
    expect(standardSignatureValid(created.data!.createWebhookEndpoint.secret, got.headers, got.body)).toBe(true);
  });
});
