import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_EVENTS_CHANNEL, type BillingEventMessage } from '../subgraphs/billing/contract.js';
import { reportApiUsage } from '../subgraphs/billing/services/usage.js';
import { utcDay } from '../lib/plan-limits.js';
import { startFakeStripe, type FakeStripe } from './support/fake-stripe.js';
import { bootPlatform, uniqueSlug, type RestAnswer, type TestPlatform } from './support/platform.js';

// Billing end to end: the official Stripe SDK inside the platform talks to a Stripe-speaking
// server started here (test/support/fake-stripe.ts); the REST routes are platform-forge's; the
// webhook is signed as Stripe signs it; limits are enforced where the work happens.

const PASSWORD = 'Billing-Admin-Passphrase-9';
const FORWARDED = {
  'x-forwarded-for': `198.19.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const sdk = new Stripe('sk_test_signing_only');

function ok(answer: RestAnswer, status = 200) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.status).toBe('success');
  return answer.body.data;
}

function forgeError(answer: RestAnswer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ status: 'error', error: { code } });
}

describe('billing without Stripe configured', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers NOT_CONFIGURED on every billing route, never made-up data', async () => {
    forgeError(
      await t.rest('/api/v1/billing/customers', {
        method: 'POST',
        body: { email: 'a@example.com', tenant_id: 'ten_x' },
      }),
      501,
      'NOT_CONFIGURED',
    );
    forgeError(await t.rest('/api/v1/billing/invoices'), 501, 'NOT_CONFIGURED');
    forgeError(
      await t.rest('/api/v1/billing/webhooks/stripe', { method: 'POST', token: null, body: { id: 'evt_1' } }),
      501,
      'NOT_CONFIGURED',
    );
  });
});

describe('billing through the Stripe SDK', () => {
  let t: TestPlatform;
  let stripe: FakeStripe;
  const webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const suffix = randomBytes(4).toString('hex');
  const prices = { basic: `price_basic_${suffix}`, pro: `price_pro_${suffix}`, tiny: `price_tiny_${suffix}` };
  let tenantId: string;
  let adminToken: string;
  let customerId: string;
  let trialId: string;
  let activeId: string;

  const admin = (path: string, init: Parameters<TestPlatform['rest']>[1] = {}) =>
    t.rest(path, { ...init, token: adminToken, headers: { ...FORWARDED, ...init.headers } });

  const createPlan = async (code: string, priceId: string, limits: Record<string, number>) => {
    const { body } = await t.graphql(
      `mutation ($input: CreatePlanInput!) { createPlan(input: $input) { id code stripePriceId } }`,
      { input: { code, name: code, priceCents: 1000, limits, stripePriceId: priceId } },
    );
    expect(body.errors).toBeUndefined();
  };

  const deliver = async (payload: string, header?: string) => {
    const response = await fetch(`${t.url}/api/v1/billing/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...FORWARDED,
        ...(header === undefined ? {} : { 'stripe-signature': header }),
      },
      body: payload,
    });
    return { status: response.status, headers: response.headers, body: await response.json() } as RestAnswer;
  };
  const sign = (payload: string, timestamp = Math.floor(Date.now() / 1000)) =>
    sdk.webhooks.generateTestHeaderString({ payload, secret: webhookSecret, timestamp });

  beforeAll(async () => {
    stripe = await startFakeStripe();
    stripe.addPrice({ id: prices.basic, unitAmount: 1000 });
    stripe.addPrice({ id: prices.pro, unitAmount: 4900 });
    stripe.addPrice({ id: prices.tiny, unitAmount: 100 });
    stripe.addPaymentMethod('pm_card_visa');
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1', '::1'],
      stripe: { secretKey: stripe.secretKey, webhookSecret, apiUrl: stripe.url, usageMeterEvent: 'api_calls' },
    });
    await createPlan(`basic-${suffix}`, prices.basic, { users: 50, api_calls_per_day: 100_000 });
    await createPlan(`pro-${suffix}`, prices.pro, { users: 500, api_calls_per_day: 1_000_000, storage_gb: 100 });

    const slug = uniqueSlug('bill');
    const email = `admin-${slug}@example.com`;
    const created = await t.rest('/api/tenants', {
      method: 'POST',
      headers: FORWARDED,
      body: {
        tenant: {
          name: `Billing ${slug}`,
          schema_name: slug.replaceAll('-', '_'),
          admin_user: { email, name: 'Bill Admin', password: PASSWORD },
        },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    tenantId = created.body.data.tenant.id;
    const { body } = await t.graphql<{ login: { accessToken: string } }>(
      `mutation ($email: String!, $password: String!, $tenantId: ID) {
        login(email: $email, password: $password, tenantId: $tenantId) { accessToken }
      }`,
      { email, password: PASSWORD, tenantId },
      { token: null, headers: FORWARDED },
    );
    expect(body.errors).toBeUndefined();
    adminToken = body.data!.login.accessToken;
  });

  afterAll(async () => {
    await t?.close();
    await stripe?.close();
  });

  it('creates the tenant’s customer in Stripe with its payment method, form-encoded', async () => {
    const data = ok(
      await admin('/api/v1/billing/customers', {
        method: 'POST',
        body: { email: 'billing@example.com', name: 'John Doe', payment_method: 'pm_card_visa' },
      }),
      201,
    );
    expect(data).toEqual({
      id: expect.stringMatching(/^cus_/),
      tenant_id: tenantId,
      email: 'billing@example.com',
      name: 'John Doe',
      payment_method: 'pm_card_visa',
      created_at: iso,
    });
    customerId = data.id;
    const request = stripe.requests.find((r) => r.method === 'POST' && r.path === '/v1/customers')!;
    expect(request.params).toMatchObject({
      email: 'billing@example.com',
      payment_method: 'pm_card_visa',
      invoice_settings: { default_payment_method: 'pm_card_visa' },
      metadata: { tenant_id: tenantId },
    });
    // The SDK sends its own Idempotency-Key on every POST, so its retries never create twice.
    expect(request.idempotencyKey).toBeTruthy();
  });

  it('passes Stripe’s own errors on in the dialect’s shape: an unknown payment method is NOT_FOUND', async () => {
    const answer = await admin('/api/v1/billing/customers', {
      method: 'POST',
      body: { email: 'x@example.com', payment_method: 'pm_no_such_method' },
    });
    forgeError(answer, 404, 'NOT_FOUND');
    expect(answer.body.error.details).toMatchObject({ stripe_code: 'resource_missing', param: 'payment_method' });
  });

  it('subscribes with a trial: trialing until the trial ends, plan limits follow', async () => {
    const data = ok(
      await admin('/api/v1/billing/subscriptions', {
        method: 'POST',
        body: { customer_id: customerId, price_id: prices.basic, trial_days: 14, metadata: { tenant_id: tenantId } },
      }),
      201,
    );
    expect(data).toMatchObject({
      id: expect.stringMatching(/^sub_/),
      customer_id: customerId,
      tenant_id: tenantId,
      price_id: prices.basic,
      plan: `basic-${suffix}`,
      status: 'trialing',
      quantity: 1,
      cancel_at_period_end: false,
      canceled_at: null,
    });
    const trialDays = (Date.parse(data.trial_end) - Date.now()) / 86_400_000;
    expect(trialDays).toBeGreaterThan(13.9);
    expect(trialDays).toBeLessThanOrEqual(14);
    expect(data.current_period_end).toBe(data.trial_end);
    trialId = data.id;
    expect(stripe.requests.find((r) => r.path === '/v1/subscriptions')!.params).toMatchObject({
      customer: customerId,
      items: [{ price: prices.basic }],
      trial_period_days: '14',
      metadata: { tenant_id: tenantId },
    });
  });

  it('refuses a metadata.tenant_id that is not the customer’s tenant', async () => {
    forgeError(
      await admin('/api/v1/billing/subscriptions', {
        method: 'POST',
        body: { customer_id: customerId, price_id: prices.basic, metadata: { tenant_id: 'ten_someone_else' } },
      }),
      403,
      'TENANT_MISMATCH',
    );
  });

  it('cancels at period end, then now', async () => {
    const later = ok(await admin(`/api/v1/billing/subscriptions/${trialId}?at_period_end=true`, { method: 'DELETE' }));
    expect(later).toMatchObject({ id: trialId, status: 'trialing', cancel_at_period_end: true, canceled_at: null });
    const now = ok(await admin(`/api/v1/billing/subscriptions/${trialId}`, { method: 'DELETE' }));
    expect(now).toMatchObject({ id: trialId, status: 'canceled', canceled_at: iso });
    forgeError(
      await admin(`/api/v1/billing/subscriptions/${trialId}`, { method: 'PUT', body: { price_id: prices.pro } }),
      409,
      'CONFLICT',
    );
  });

  it('changes plan with proration: Stripe invoices the difference for the rest of the period', async () => {
    const created = ok(
      await admin('/api/v1/billing/subscriptions', {
        method: 'POST',
        body: { customer_id: customerId, price_id: prices.basic },
      }),
      201,
    );
    expect(created.status).toBe('active');
    activeId = created.id;
    const item = (stripe.subscriptions.get(activeId)!.items as { data: Array<{ id: string }> }).data[0]!;

    const upgraded = ok(
      await admin(`/api/v1/billing/subscriptions/${activeId}`, {
        method: 'PUT',
        body: { price_id: prices.pro, proration_behavior: 'always_invoice' },
      }),
    );
    expect(upgraded).toMatchObject({ price_id: prices.pro, plan: `pro-${suffix}`, status: 'active' });
    const update = stripe.requests.filter((r) => r.method === 'POST' && r.path === `/v1/subscriptions/${activeId}`);
    expect(update.at(-1)!.params).toEqual({
      items: [{ id: item.id, price: prices.pro }],
      proration_behavior: 'always_invoice',
    });
    const proration = stripe.invoiceItems.find((i) => i.subscription === activeId)!;
    // (4900 - 1000) for almost the whole period.
    expect(proration.amount).toBeGreaterThan(3800);
    expect(proration.invoice).toMatch(/^in_/);

    // A quantity change keeps the default: prorations wait for the next invoice.
    ok(await admin(`/api/v1/billing/subscriptions/${activeId}`, { method: 'PUT', body: { quantity: 2 } }));
    expect(stripe.requests.at(-1)!.params).toMatchObject({ proration_behavior: 'create_prorations' });
    expect(stripe.invoiceItems.filter((i) => i.subscription === activeId && i.invoice === null)).toHaveLength(1);
  });

  it('lists invoices from Stripe with cursor pagination and filters', async () => {
    const all = ok(await admin('/api/v1/billing/invoices?status=paid'));
    expect(all.invoices.length).toBe(3); // trial ($0), first period, proration
    expect(all.has_more).toBe(false);
    expect(all.invoices[0]).toEqual({
      id: expect.stringMatching(/^in_/),
      number: expect.any(String),
      customer_id: customerId,
      subscription_id: activeId,
      status: 'paid',
      amount_due: expect.any(Number),
      amount_paid: expect.any(Number),
      currency: 'usd',
      created_at: iso,
      period_start: iso,
      period_end: iso,
      hosted_invoice_url: expect.any(String),
    });
    const first = ok(await admin('/api/v1/billing/invoices?limit=2'));
    expect(first.invoices.map((i: { id: string }) => i.id)).toEqual(
      all.invoices.slice(0, 2).map((i: { id: string }) => i.id),
    );
    expect(first).toMatchObject({ has_more: true, next_cursor: first.invoices[1].id });
    const second = ok(await admin(`/api/v1/billing/invoices?limit=2&starting_after=${first.next_cursor}`));
    expect(second.invoices.map((i: { id: string }) => i.id)).toEqual([all.invoices[2].id]);
    expect(second).toMatchObject({ has_more: false, next_cursor: null });
    forgeError(await admin('/api/v1/billing/invoices?customer_id=cus_not_ours'), 404, 'NOT_FOUND');
    forgeError(await admin('/api/v1/billing/invoices?limit=1000'), 400, 'VALIDATION_ERROR');
  });

  describe('the Stripe webhook', () => {
    const subscriptionEvent = (status: string, createdOffset = 5) => {
      const object = structuredClone(stripe.subscriptions.get(activeId)!);
      object.status = status;
      return JSON.stringify({
        id: `evt_${randomBytes(12).toString('hex')}`,
        object: 'event',
        type: 'customer.subscription.updated',
        created: Math.floor(Date.now() / 1000) + createdOffset,
        livemode: false,
        data: { object },
      });
    };
    const localStatus = async () =>
      (await t.platform.db.prisma.billingSubscription.findUniqueOrThrow({ where: { id: activeId } })).status;

    it('verifies the signature, applies the event once, and publishes it on the billing channel', async () => {
      const published: BillingEventMessage[] = [];
      const unsubscribe = await t.platform.kv.pubsub.subscribe(BILLING_EVENTS_CHANNEL, (m) =>
        published.push(JSON.parse(m) as BillingEventMessage),
      );
      const payload = subscriptionEvent('past_due');
      const first = await deliver(payload, sign(payload));
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.data).toEqual({
        received: true,
        event_id: JSON.parse(payload).id,
        type: 'customer.subscription.updated',
        duplicate: false,
        handled: true,
      });
      expect(await localStatus()).toBe('past_due');
      await expect.poll(() => published.length).toBe(1);
      expect(published[0]).toMatchObject({
        id: JSON.parse(payload).id,
        type: 'subscription.updated',
        stripe_type: 'customer.subscription.updated',
        tenant_id: tenantId,
        data: { subscription_id: activeId, status: 'past_due' },
        created_at: iso,
      });

      // The same event id again, even re-signed and carrying another state, changes nothing.
      const replay = JSON.stringify({
        ...JSON.parse(payload),
        data: { object: { ...JSON.parse(payload).data.object, status: 'unpaid' } },
      });
      const again = await deliver(replay, sign(replay));
      expect(again.body.data).toMatchObject({ duplicate: true });
      expect(await localStatus()).toBe('past_due');
      // A marker published after the replay was answered: messages on one channel arrive in order,
      // so once it is here a second event for the replay would have arrived before it.
      await t.platform.kv.pubsub.publish(BILLING_EVENTS_CHANNEL, JSON.stringify({ marker: true }));
      await expect.poll(() => published.length).toBe(2);
      expect(published[1]).toEqual({ marker: true });
      await unsubscribe();
    });

    it('ignores an event older than the state it already has (out-of-order delivery)', async () => {
      const stale = subscriptionEvent('incomplete', -3600);
      expect((await deliver(stale, sign(stale))).body.data).toMatchObject({ duplicate: false, handled: true });
      expect(await localStatus()).toBe('past_due');
      const fresh = subscriptionEvent('active', 10);
      await deliver(fresh, sign(fresh));
      expect(await localStatus()).toBe('active');
    });

    it('refuses a tampered body, a stale signature, a wrong secret and no signature', async () => {
      const payload = subscriptionEvent('canceled', 20);
      const tampered = payload.replace('"canceled"', '"trialing"');
      forgeError(await deliver(tampered, sign(payload)), 401, 'UNAUTHORIZED');
      const stale = await deliver(payload, sign(payload, Math.floor(Date.now() / 1000) - 301));
      forgeError(stale, 401, 'UNAUTHORIZED');
      expect(stale.body.error.message).toMatch(/tolerance/i);
      const foreign = sdk.webhooks.generateTestHeaderString({ payload, secret: 'whsec_other' });
      forgeError(await deliver(payload, foreign), 401, 'UNAUTHORIZED');
      forgeError(await deliver(payload), 401, 'UNAUTHORIZED');
      expect(await localStatus()).toBe('active');
      // Within the 300 s tolerance it is accepted.
      const recent = await deliver(payload, sign(payload, Math.floor(Date.now() / 1000) - 250));
      expect(recent.status).toBe(200);
      expect(await localStatus()).toBe('canceled');
    });

    it('records invoice outcomes and payment methods from the events Stripe sent', async () => {
      // The events the fake Stripe recorded for what the tests above did, delivered as Stripe would.
      for (const event of stripe.events) {
        const payload = JSON.stringify(event);
        const answer = await deliver(payload, sign(payload));
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      }
      const invoices = await t.platform.db.prisma.billingInvoice.findMany({ where: { customerId } });
      expect(invoices.length).toBe(3);
      expect(invoices.every((i) => i.status === 'paid')).toBe(true);

      const detached = JSON.stringify({
        id: `evt_${randomBytes(12).toString('hex')}`,
        object: 'event',
        type: 'payment_method.detached',
        created: Math.floor(Date.now() / 1000),
        data: {
          object: { id: 'pm_card_visa', object: 'payment_method', customer: null },
          previous_attributes: { customer: customerId },
        },
      });
      expect((await deliver(detached, sign(detached))).body.data).toMatchObject({ handled: true });
      const customer = await t.platform.db.prisma.billingCustomer.findUniqueOrThrow({ where: { id: customerId } });
      expect(customer.defaultPaymentMethod).toBeNull();

      const unknown = JSON.stringify({
        id: `evt_${suffix}x`,
        object: 'event',
        type: 'charge.captured',
        created: 1,
        data: { object: {} },
      });
      expect((await deliver(unknown, sign(unknown))).body.data).toMatchObject({ handled: false, duplicate: false });
    });
  });

  describe('plan limits and metered usage', () => {
    let subscriptionId: string;
    let used: number;

    it('meters the tenant’s API calls per day and shows them in GET /api/tenants/{id}', async () => {
      const before = ok(await t.rest(`/api/tenants/${tenantId}`, { headers: FORWARDED })).usage.api_calls.current_daily;
      expect(before).toBeGreaterThan(5); // this suite's calls as the tenant admin so far
      await admin('/api/v1/billing/invoices');
      await admin('/api/v1/billing/invoices');
      // The operator is bound to no tenant: its own calls are not the tenant's.
      const after = ok(await t.rest(`/api/tenants/${tenantId}`, { headers: FORWARDED })).usage;
      expect(after.api_calls.current_daily).toBe(before + 2);
      used = after.api_calls.current_daily;
    });

    it('enforces the plan: users at creation, API calls per day at the gateway (LIMIT_EXCEEDED, 429)', async () => {
      // Room for exactly: the plan change, one user, one refused user, one more call.
      await createPlan(`tiny-${suffix}`, prices.tiny, { users: 2, api_calls_per_day: used + 4 });
      const created = ok(
        await admin('/api/v1/billing/subscriptions', {
          method: 'POST',
          body: { customer_id: customerId, price_id: prices.tiny },
        }),
        201,
      );
      subscriptionId = created.id;
      expect(created.plan).toBe(`tiny-${suffix}`);

      const createUser = (email: string) =>
        t.graphql(
          `mutation ($input: CreateUserInput!) { createUser(input: $input) { id } }`,
          { input: { tenantId, email, name: 'Seat' } },
          { token: adminToken, headers: FORWARDED },
        );
      expect((await createUser(`one-${suffix}@example.com`)).body.errors).toBeUndefined();
      const refused = await createUser(`two-${suffix}@example.com`);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({
        code: 'LIMIT_EXCEEDED',
        details: { limit: 'users', allowed: 2, used: 2 },
      });

      expect((await admin('/api/v1/billing/invoices?limit=1')).status).toBe(200);
      const over = await admin('/api/v1/billing/invoices?limit=1');
      forgeError(over, 429, 'LIMIT_EXCEEDED');
      expect(over.body.error.details).toMatchObject({ limit: 'api_calls_per_day', allowed: used + 4 });
      expect(over.body.error.details.retry_after_seconds).toBeGreaterThan(0);
      // GraphQL is the same door.
      const graphql = await t.graphql(`{ plans { code } }`, {}, { token: adminToken, headers: FORWARDED });
      expect(graphql.status).toBe(429);
      expect(graphql.body.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED' });
      // The operator is not the tenant: unaffected.
      const tenant = ok(await t.rest(`/api/tenants/${tenantId}`, { headers: FORWARDED }));
      expect(tenant.usage.api_calls).toMatchObject({ limit_daily: used + 4 });
      expect(tenant.usage.users).toMatchObject({ current: 2, limit: 2 });
    });

    it('lifts the limits when the plan changes back', async () => {
      // Stripe tells the platform the subscription ended: the tenant has no plan, so no limits.
      const payload = JSON.stringify({
        id: `evt_${randomBytes(12).toString('hex')}`,
        object: 'event',
        type: 'customer.subscription.deleted',
        created: Math.floor(Date.now() / 1000) + 60,
        data: { object: { ...structuredClone(stripe.subscriptions.get(subscriptionId)!), status: 'canceled' } },
      });
      expect((await deliver(payload, sign(payload))).status).toBe(200);
      // Every gateway drops its copy of the limits when told (pub/sub: allow its delivery time).
      await expect.poll(async () => (await admin('/api/v1/billing/invoices?limit=1')).status).toBe(200);
    });

    it('reports metered API calls to Stripe as meter events, only the increase, once', async () => {
      // Only live subscriptions report: give the tenant one again.
      ok(
        await admin('/api/v1/billing/subscriptions', {
          method: 'POST',
          body: { customer_id: customerId, price_id: prices.basic },
        }),
        201,
      );
      const day = utcDay();
      const first = await reportApiUsage(t.platform.deps, day);
      const mine = first.reported.find((r) => r.tenantId === tenantId)!;
      expect(mine.sent).toBe(mine.apiCalls);
      const sent = stripe.meterEvents.filter(
        (e) => (e.payload as Record<string, string>).stripe_customer_id === customerId,
      );
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({
        event_name: 'api_calls',
        payload: { stripe_customer_id: customerId, value: String(mine.apiCalls) },
        identifier: `api_calls:${tenantId}:${day}:${mine.apiCalls}`,
      });

      expect(
        (await reportApiUsage(t.platform.deps, day)).reported.find((r) => r.tenantId === tenantId),
      ).toBeUndefined();
      await admin('/api/v1/billing/invoices?limit=1');
      const third = (await reportApiUsage(t.platform.deps, day)).reported.find((r) => r.tenantId === tenantId)!;
      expect(third.sent).toBe(1);
    });
  });
});
