import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * A small Stripe-speaking HTTP server for tests: the official SDK talks to it exactly as it talks
 * to api.stripe.com (form-encoded bodies with bracketed keys, Bearer secret key, Idempotency-Key,
 * Stripe's object shapes, list envelopes and error shapes). It covers only what the platform uses:
 * customers, prices (seeded by the test), subscriptions with trials, prorated item changes and
 * cancellation, invoices with cursor pagination, billing meter events. Every state change also
 * records the event Stripe would send, so tests can deliver real-shaped webhooks.
 */

type StripeObject = Record<string, unknown> & { id: string };

export interface RecordedRequest {
  method: string;
  path: string;
  params: Record<string, unknown>;
  idempotencyKey: string | null;
}

export interface FakeStripe {
  url: string;
  secretKey: string;
  requests: RecordedRequest[];
  /** Events in the order Stripe would have sent them (newest last). */
  events: StripeObject[];
  meterEvents: StripeObject[];
  customers: Map<string, StripeObject>;
  subscriptions: Map<string, StripeObject>;
  /** Pending proration items (`create_prorations`), billed on the next invoice. */
  invoiceItems: StripeObject[];
  addPrice(price: { id: string; unitAmount: number; currency?: string; interval?: 'month' | 'year' }): void;
  addPaymentMethod(id: string): void;
  close(): Promise<void>;
}

const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

function invalid(message: string, param?: string, code?: string, status = 400): StripeHttpError {
  return new StripeHttpError(status, {
    type: 'invalid_request_error',
    message,
    ...(param ? { param } : {}),
    ...(code ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` } : {}),
  });
}

const missing = (kind: string, id: string, param = 'id') =>
  invalid(`No such ${kind}: '${id}'`, param, 'resource_missing', 404);

/** `items[0][price]=x&metadata[tenant_id]=t` → `{ items: [{ price: 'x' }], metadata: { tenant_id: 't' } }`. */
export function parseStripeParams(search: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [fullKey, value] of search) {
    const path = fullKey.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> | unknown[] = root;
    path.forEach((segment, i) => {
      const last = i === path.length - 1;
      const key: string | number = Array.isArray(node) ? Number(segment) : segment;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[key] = value;
        return;
      }
      if (container[key] === undefined) container[key] = /^\d+$/.test(path[i + 1]!) ? [] : {};
      node = container[key] as Record<string, unknown>;
    });
  }
  return root;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const intervalSeconds = (interval: string) => (interval === 'year' ? 365 : 30) * 86_400;

export async function startFakeStripe(secretKey = `sk_test_${randomBytes(12).toString('hex')}`): Promise<FakeStripe> {
  const prices = new Map<string, StripeObject>();
  const paymentMethods = new Set<string>();
  const customers = new Map<string, StripeObject>();
  const subscriptions = new Map<string, StripeObject>();
  const invoices: StripeObject[] = [];
  const invoiceItems: StripeObject[] = [];
  const events: StripeObject[] = [];
  const meterEvents: StripeObject[] = [];
  const requests: RecordedRequest[] = [];
  const idempotent = new Map<string, { status: number; body: unknown }>();
  let invoiceNumber = 0;

  const emit = (type: string, object: StripeObject, previous?: Record<string, unknown>) => {
    events.push({
      id: rid('evt'),
      object: 'event',
      api_version: '2026-11-18.endive',
      created: now(),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
    });
  };

  const createInvoice = (customer: string, subscription: string | null, amount: number, currency: string) => {
    const created = now();
    const pending = invoiceItems.filter((i) => i.customer === customer && !i.invoice);
    const total = amount + pending.reduce((sum, i) => sum + (i.amount as number), 0);
    const invoice: StripeObject = {
      id: rid('in'),
      object: 'invoice',
      customer,
      // Stripe marks a zero-amount invoice paid at once; the fake's cards always pay.
      status: 'paid',
      amount_due: Math.max(0, total),
      amount_paid: Math.max(0, total),
      amount_remaining: 0,
      currency,
      created,
      period_start: created,
      period_end: created,
      number: `FAKE-${String(++invoiceNumber).padStart(4, '0')}`,
      hosted_invoice_url: `https://invoice.stripe.com/i/fake_${invoiceNumber}`,
      livemode: false,
      parent: subscription
        ? {
            type: 'subscription_details',
            quote_details: null,
            subscription_details: { subscription, metadata: {} },
          }
        : null,
    };
    for (const item of pending) item.invoice = invoice.id;
    invoices.push(invoice);
    emit('invoice.payment_succeeded', invoice);
    return invoice;
  };

  const priceOf = (id: unknown, param: string): StripeObject => {
    if (typeof id !== 'string') throw invalid('Missing required param: price.', param, 'parameter_missing');
    const price = prices.get(id);
    if (!price) throw missing('price', id, param);
    return price;
  };

  const customerOf = (id: unknown): StripeObject => {
    if (typeof id !== 'string') throw invalid('Missing required param: customer.', 'customer', 'parameter_missing');
    const customer = customers.get(id);
    if (!customer) throw missing('customer', id, 'customer');
    return customer;
  };

  const routes: Array<[string, RegExp, (m: RegExpMatchArray, p: Record<string, unknown>) => unknown]> = [
    [
      'POST',
      /^\/v1\/customers$/,
      (_m, p) => {
        const pm = p.payment_method as string | undefined;
        if (pm && !paymentMethods.has(pm)) throw missing('PaymentMethod', pm, 'payment_method');
        const customer: StripeObject = {
          id: rid('cus'),
          object: 'customer',
          created: now(),
          email: p.email ?? null,
          name: p.name ?? null,
          metadata: p.metadata ?? {},
          invoice_settings: {
            default_payment_method:
              (p.invoice_settings as Record<string, unknown> | undefined)?.default_payment_method ?? null,
          },
          livemode: false,
        };
        customers.set(customer.id, customer);
        emit('customer.created', customer);
        if (pm) emit('payment_method.attached', { id: pm, object: 'payment_method', customer: customer.id });
        return customer;
      },
    ],
    ['GET', /^\/v1\/customers\/([^/]+)$/, (m) => customerOf(m[1])],
    // What the platform's health check asks (an authenticated read that changes nothing).
    ['GET', /^\/v1\/balance$/, () => ({ object: 'balance', available: [], pending: [], livemode: false })],
    [
      'POST',
      /^\/v1\/subscriptions$/,
      (_m, p) => {
        const customer = customerOf(p.customer);
        const items = p.items as Array<Record<string, unknown>> | undefined;
        if (!items?.length) throw invalid('Missing required param: items.', 'items', 'parameter_missing');
        const price = priceOf(items[0]!.price, 'items[0][price]');
        const quantity = Number(items[0]!.quantity ?? 1);
        const start = now();
        const trialDays = p.trial_period_days === undefined ? 0 : Number(p.trial_period_days);
        const interval = (price.recurring as { interval: string }).interval;
        const trialEnd = trialDays > 0 ? start + trialDays * 86_400 : null;
        const periodEnd = trialEnd ?? start + intervalSeconds(interval);
        const subscription: StripeObject = {
          id: rid('sub'),
          object: 'subscription',
          customer: customer.id,
          status: trialEnd ? 'trialing' : 'active',
          created: start,
          start_date: start,
          trial_start: trialEnd ? start : null,
          trial_end: trialEnd,
          cancel_at_period_end: false,
          cancel_at: null,
          canceled_at: null,
          ended_at: null,
          metadata: p.metadata ?? {},
          livemode: false,
          items: {
            object: 'list',
            has_more: false,
            url: '/v1/subscription_items',
            data: [
              {
                id: rid('si'),
                object: 'subscription_item',
                price,
                quantity,
                current_period_start: start,
                current_period_end: periodEnd,
              },
            ],
          },
        };
        subscriptions.set(subscription.id, subscription);
        const invoice = createInvoice(
          customer.id,
          subscription.id,
          trialEnd ? 0 : (price.unit_amount as number) * quantity,
          price.currency as string,
        );
        subscription.latest_invoice = invoice.id;
        emit('customer.subscription.created', subscription);
        return subscription;
      },
    ],
    [
      'GET',
      /^\/v1\/subscriptions\/([^/]+)$/,
      (m) => {
        const subscription = subscriptions.get(m[1]!);
        if (!subscription) throw missing('subscription', m[1]!);
        return subscription;
      },
    ],
    [
      'POST',
      /^\/v1\/subscriptions\/([^/]+)$/,
      (m, p) => {
        const subscription = subscriptions.get(m[1]!);
        if (!subscription) throw missing('subscription', m[1]!);
        if (subscription.status === 'canceled') {
          throw invalid('A canceled subscription can only update its cancellation_details and metadata.');
        }
        const previous: Record<string, unknown> = {};
        const item = (subscription.items as { data: Array<Record<string, unknown>> }).data[0]!;
        const changes = p.items as Array<Record<string, unknown>> | undefined;
        if (changes?.length) {
          const change = changes[0]!;
          if (change.id !== item.id) throw invalid(`No such subscription item: '${String(change.id)}'`, 'items[0][id]');
          const oldPrice = item.price as StripeObject;
          const newPrice = change.price ? priceOf(change.price, 'items[0][price]') : oldPrice;
          const oldQuantity = item.quantity as number;
          const newQuantity = change.quantity === undefined ? oldQuantity : Number(change.quantity);
          previous.items = structuredClone(subscription.items);
          item.price = newPrice;
          item.quantity = newQuantity;
          const behavior = (p.proration_behavior as string | undefined) ?? 'create_prorations';
          // Proration as Stripe computes it: the unused share of the period credited at the old
          // amount, the rest of the period charged at the new one.
          const start = item.current_period_start as number;
          const end = item.current_period_end as number;
          const left = Math.max(0, Math.min(1, (end - now()) / Math.max(1, end - start)));
          const amount = Math.round(
            left * ((newPrice.unit_amount as number) * newQuantity - (oldPrice.unit_amount as number) * oldQuantity),
          );
          if (behavior !== 'none' && subscription.status !== 'trialing' && amount !== 0) {
            invoiceItems.push({
              id: rid('ii'),
              object: 'invoiceitem',
              customer: subscription.customer,
              subscription: subscription.id,
              amount,
              currency: newPrice.currency,
              proration: true,
              invoice: null,
            });
            if (behavior === 'always_invoice') {
              createInvoice(subscription.customer as string, subscription.id, 0, newPrice.currency as string);
            }
          }
        }
        if (p.cancel_at_period_end !== undefined) {
          previous.cancel_at_period_end = subscription.cancel_at_period_end;
          subscription.cancel_at_period_end = p.cancel_at_period_end === 'true';
          subscription.cancel_at = subscription.cancel_at_period_end ? item.current_period_end : null;
        }
        if (p.metadata) {
          previous.metadata = subscription.metadata;
          subscription.metadata = { ...(subscription.metadata as object), ...(p.metadata as object) };
        }
        emit('customer.subscription.updated', subscription, previous);
        return subscription;
      },
    ],
    [
      'DELETE',
      /^\/v1\/subscriptions\/([^/]+)$/,
      (m) => {
        const subscription = subscriptions.get(m[1]!);
        if (!subscription) throw missing('subscription', m[1]!);
        if (subscription.status === 'canceled') {
          throw invalid(`No active subscription: '${subscription.id}' is already canceled`);
        }
        subscription.status = 'canceled';
        subscription.canceled_at = now();
        subscription.ended_at = now();
        emit('customer.subscription.deleted', subscription);
        return subscription;
      },
    ],
    [
      'GET',
      /^\/v1\/invoices$/,
      (_m, p) => {
        const limit = p.limit === undefined ? 10 : Number(p.limit);
        if (!(limit >= 1 && limit <= 100)) throw invalid('Invalid integer: limit must be 1 to 100', 'limit');
        // Newest first, as Stripe lists.
        let list = [...invoices].reverse();
        if (p.customer) list = list.filter((i) => i.customer === p.customer);
        if (p.status) list = list.filter((i) => i.status === p.status);
        if (p.starting_after) {
          const at = list.findIndex((i) => i.id === p.starting_after);
          if (at < 0) throw missing('invoice', String(p.starting_after), 'starting_after');
          list = list.slice(at + 1);
        }
        return { object: 'list', url: '/v1/invoices', has_more: list.length > limit, data: list.slice(0, limit) };
      },
    ],
    [
      'POST',
      /^\/v1\/billing\/meter_events$/,
      (_m, p) => {
        if (typeof p.event_name !== 'string') throw invalid('Missing required param: event_name.', 'event_name');
        const payload = p.payload as Record<string, string> | undefined;
        if (!payload?.stripe_customer_id) throw invalid('Missing stripe_customer_id in payload', 'payload');
        if (!/^\d+$/.test(payload.value ?? '')) throw invalid('payload[value] must be a whole number', 'payload');
        customerOf(payload.stripe_customer_id);
        const identifier = (p.identifier as string | undefined) ?? rid('mev');
        // Stripe keeps one event per identifier: a repeated one is not counted again.
        const existing = meterEvents.find((e) => e.identifier === identifier);
        if (existing) return existing;
        const event: StripeObject = {
          id: identifier,
          object: 'billing.meter_event',
          created: now(),
          event_name: p.event_name,
          identifier,
          payload,
          timestamp: Number(p.timestamp ?? now()),
          livemode: false,
        };
        meterEvents.push(event);
        return event;
      },
    ],
  ];

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      'request-id': rid('req'),
      'stripe-version': '2026-11-18.endive',
    });
    res.end(json);
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      const raw = await readBody(req);
      const contentType = req.headers['content-type'] ?? '';
      if (raw && !contentType.startsWith('application/x-www-form-urlencoded')) {
        return reply(res, 400, { error: { type: 'invalid_request_error', message: 'Bodies must be form-encoded' } });
      }
      const params = parseStripeParams(
        method === 'GET' || method === 'DELETE' ? url.searchParams : new URLSearchParams(raw),
      );
      const idempotencyKey = (req.headers['idempotency-key'] as string | undefined) ?? null;
      requests.push({ method, path: url.pathname, params, idempotencyKey });
      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        return reply(res, 401, {
          error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****' },
        });
      }
      const replayKey = idempotencyKey && method === 'POST' ? `${idempotencyKey}` : null;
      const replayed = replayKey ? idempotent.get(replayKey) : undefined;
      if (replayed) return reply(res, replayed.status, replayed.body);
      let status = 200;
      let body: unknown;
      const route = routes.find(([m, pattern]) => m === method && pattern.test(url.pathname));
      try {
        if (!route) throw invalid(`Unrecognized request URL (${method}: ${url.pathname}).`, undefined, undefined, 404);
        body = route[2](url.pathname.match(route[1])!, params);
      } catch (error) {
        if (!(error instanceof StripeHttpError)) throw error;
        status = error.status;
        body = { error: error.body };
      }
      if (replayKey) idempotent.set(replayKey, { status, body });
      reply(res, status, body);
    })().catch((error: unknown) => reply(res, 500, { error: { type: 'api_error', message: String(error) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${address.port}`,
    secretKey,
    requests,
    events,
    meterEvents,
    customers,
    subscriptions,
    invoiceItems,
    addPrice({ id, unitAmount, currency = 'usd', interval = 'month' }) {
      prices.set(id, {
        id,
        object: 'price',
        active: true,
        currency,
        unit_amount: unitAmount,
        type: 'recurring',
        recurring: { interval, interval_count: 1, usage_type: 'licensed' },
        livemode: false,
      });
    },
    addPaymentMethod(id) {
      paymentMethods.add(id);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
