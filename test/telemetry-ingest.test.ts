import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { connectWs, untilListening } from './support/realtime.js';
import { expectRestError } from './support/rest.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};
const PASSWORD = 'Ingest-Test-Password-1';

describe('platform-forge telemetry ingest', () => {
  let t: TestPlatform;
  let tenant: TenantInfo;
  let token: string;
  const post = (path: string, body: unknown, as = token) =>
    t.rest(path, { method: 'POST', body, token: as, headers: FORWARDED });

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
    tenant = await createTenant(t, t.operatorKey, FORWARDED, 'ing');
    token = await signInTenantAdmin(t, tenant.id, { password: PASSWORD, headers: FORWARDED });
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('POST /api/v1/telemetry/events stores the documented event (202) with tenant, actor and time', async () => {
    const answer = await post('/api/v1/telemetry/events', {
      event_name: 'user_action',
      properties: { action: 'click_button', button_id: 'submit', page: '/dashboard' },
      context: { ip: '192.168.1.1', user_agent: 'Mozilla/5.0...' },
      timestamp: '2024-01-20T10:00:00Z',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    expect(answer.body).toMatchObject({ status: 'success', data: { accepted: 1, duplicates: 0 } });
    const id = answer.body.data.event_ids[0];
    const listed = await t.graphql<{ events: Array<Record<string, unknown>> }>(
      `query { events(limit: 100) { id type tenantId actorId occurredAt payload } }`,
      {},
      { token, headers: FORWARDED },
    );
    const event = listed.body.data!.events.find((e) => e.id === id);
    expect(event).toMatchObject({
      type: 'user_action',
      tenantId: tenant.id,
      actorId: expect.stringMatching(/.+/),
      occurredAt: '2024-01-20T10:00:00.000Z',
      payload: { action: 'click_button', button_id: 'submit', page: '/dashboard' },
    });
  });

  it('POST .../events/batch writes a batch once per message id and announces it to subscribers', async () => {
    const ws = connectWs(t.url, { token });
    await ws.connected;
    const sub = await untilListening('telemetry.events', () =>
      ws.subscribe<{ telemetryEvents: { type: string } }>(
        `subscription { telemetryEvents(types: ["page_view", "button_click"]) { type } }`,
      ),
    );
    const prefix = uniqueSlug('msg');
    const events = [
      {
        event_name: 'page_view',
        properties: { page: '/home' },
        timestamp: '2024-01-20T10:00:00Z',
        message_id: `${prefix}-1`,
      },
      {
        event_name: 'button_click',
        properties: { button: 'signup' },
        timestamp: '2024-01-20T10:00:01Z',
        message_id: `${prefix}-2`,
      },
      { event_name: 'button_click', properties: { button: 'signup' }, message_id: `${prefix}-2` },
    ];
    const first = await post('/api/v1/telemetry/events/batch', { events });
    expect(first.status).toBe(202);
    expect(first.body.data).toMatchObject({ accepted: 2, duplicates: 1 });
    const again = await post('/api/v1/telemetry/events/batch', { events });
    expect(again.body.data).toMatchObject({ accepted: 0, duplicates: 3, event_ids: [] });
    const received = await sub.waitFor(2);
    expect(received.map((e) => e.data!.telemetryEvents.type).sort()).toEqual(['button_click', 'page_view']);
    await ws.dispose();
  });

  it('refuses an event over 32 KB and a batch over 500 KB with 400 naming the item', async () => {
    const big = 'x'.repeat(33 * 1024);
    const single = await post('/api/v1/telemetry/events', { event_name: 'too_big', properties: { big } });
    expectRestError('platform-forge', single, 400, 'VALIDATION_ERROR');
    expect(single.body.error.details).toMatchObject({ index: 0, limit: 32 * 1024 });
    const chunk = 'y'.repeat(30 * 1024);
    const batch = await post('/api/v1/telemetry/events/batch', {
      events: Array.from({ length: 20 }, (_, i) => ({ event_name: 'chunk', properties: { i, chunk } })),
    });
    expectRestError('platform-forge', batch, 400, 'VALIDATION_ERROR');
    expect(batch.body.error.details).toMatchObject({ index: 16, limit: 500 * 1024 });
  });

  it('keeps a tenant-bound caller to its own tenant', async () => {
    const other = await createTenant(t, t.operatorKey, FORWARDED, 'ing2');
    const answer = await post('/api/v1/telemetry/events', { event_name: 'sneaky', tenant_id: other.id });
    expectRestError('platform-forge', answer, 403, 'TENANT_MISMATCH');
  });
});
