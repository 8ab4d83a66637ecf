import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_PRINCIPAL } from '../lib/principal.js';
import { ingestEvents, MAX_EVENT_BYTES, textArrayLiteral } from '../subgraphs/telemetry/services/ingest.js';
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

  const operator = {
    ...GATEWAY_PRINCIPAL,
    kind: 'operator' as const,
    id: 'operator',
    scopes: ['write:telemetry' as const],
  };

  it('stores each event as sent and announces exactly the row it stored', async () => {
    const ws = connectWs(t.url, { token });
    await ws.connected;
    const EVENT_FIELDS = 'id type tenantId source payload occurredAt receivedAt actorId';
    const sub = await untilListening('telemetry.events', () =>
      ws.subscribe<{ telemetryEvents: Record<string, unknown> }>(
        `subscription { telemetryEvents(types: ["odd_chars", "plain"]) { ${EVENT_FIELDS} } }`,
      ),
    );
    const prefix = uniqueSlug('raw');
    // What an array literal or JSON hand-building could get wrong: quotes, backslashes, commas and
    // braces, control characters, non-ASCII, the word NULL, empty strings.
    const payload = {
      quote: 'say "hi"',
      backslash: 'C:\\dir\\',
      controls: 'a\nb\tc\r',
      unicode: 'é 😀 \u2028',
      literal: '{a,b} NULL',
      empty: '',
      nested: { list: [1, 'x', null, true], n: 1.5 },
    };
    const odd = `${prefix} "q",{b}\\ \n`;
    const answer = await t.graphql<{ ingestEvents: { accepted: number; eventIds: string[] } }>(
      `mutation ($events: [IngestEventInput!]!) { ingestEvents(events: $events) { accepted eventIds } }`,
      {
        events: [
          {
            type: 'odd_chars',
            properties: payload,
            context: { ua: 'Mozilla "x" \\ y', ip: '198.51.100.7' },
            messageId: odd,
            source: 'src "s"\\,{}',
            occurredAt: '2024-01-20T10:00:00.123Z',
          },
          { type: 'plain', messageId: `${prefix}-plain` },
        ],
      },
      { token, headers: FORWARDED },
    );
    expect(answer.body.errors).toBeUndefined();
    const ids = answer.body.data!.ingestEvents.eventIds;
    expect(ids).toHaveLength(2);
    const announced = (await sub.waitFor(2)).map((e) => e.data!.telemetryEvents);
    const listed = await t.graphql<{ events: Array<Record<string, unknown>> }>(
      `query { events(limit: 100) { ${EVENT_FIELDS} } }`,
      {},
      { token, headers: FORWARDED },
    );
    const stored = ids.map((id) => listed.body.data!.events.find((e) => e.id === id));
    expect(announced.sort((a, b) => ids.indexOf(a.id as string) - ids.indexOf(b.id as string))).toEqual(stored);
    expect(stored[0]).toMatchObject({ type: 'odd_chars', payload, source: 'src "s"\\,{}' });
    expect(stored[0]!.occurredAt).toBe('2024-01-20T10:00:00.123Z');
    // Without a time of its own an event happened when it was received.
    expect(stored[1]).toMatchObject({ type: 'plain', payload: {}, source: null, actorId: stored[0]!.actorId });
    expect(stored[1]!.occurredAt).toBe(stored[1]!.receivedAt);
    const rows = await t.platform.deps.db.prisma.event.findMany({
      where: { id: { in: ids } },
      orderBy: { type: 'asc' },
    });
    expect(rows.map((r) => [r.messageId, r.context])).toEqual([
      [odd, { ua: 'Mozilla "x" \\ y', ip: '198.51.100.7' }],
      [`${prefix}-plain`, null],
    ]);
    await ws.dispose();
  });

  it("measures an event's size as the bytes of its JSON, to the byte", async () => {
    const event = (pad: number) => ({
      type: 'size_check',
      properties: { text: 'é'.repeat(10) + 'x'.repeat(pad) },
      context: { ip: '10.0.0.1' },
      messageId: uniqueSlug('size'),
      occurredAt: new Date('2024-01-20T10:00:00Z'),
      source: 'test',
    });
    const pad = MAX_EVENT_BYTES - Buffer.byteLength(JSON.stringify(event(0)));
    const exact = event(pad);
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(MAX_EVENT_BYTES);
    const ingest = (events: Parameters<typeof ingestEvents>[0]['events']) =>
      ingestEvents({ deps: t.platform.deps, principal: operator, tenantId: tenant.id, events });
    await expect(ingest([exact])).resolves.toMatchObject({ accepted: 1 });
    await expect(ingest([{ type: 'fine' }, event(pad + 1)])).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: { index: 1, bytes: MAX_EVENT_BYTES + 1, limit: MAX_EVENT_BYTES },
    });
  });

  it('names the invalid event of a batch and stores none of it', async () => {
    const prefix = uniqueSlug('bad');
    const ingest = (bad: Record<string, unknown>) =>
      ingestEvents({
        deps: t.platform.deps,
        principal: operator,
        tenantId: tenant.id,
        events: [{ type: 'fine', messageId: `${prefix}-ok` }, bad as never],
      });
    for (const bad of [
      { type: '1starts_with_a_digit' },
      { type: 'ok', messageId: '' },
      { type: 'ok', properties: ['not', 'a', 'record'] },
      { type: 'ok', properties: null },
      { type: 'ok', context: 'text' },
      { type: 'ok', source: 's'.repeat(201) },
      { type: 'ok', occurredAt: new Date(Number.NaN) },
    ]) {
      await expect(ingest(bad), JSON.stringify(bad)).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
        message: expect.stringMatching(/^Event 1: /),
        details: { index: 1 },
      });
    }
    // Nothing of the refused batches was written, the valid first event included.
    expect(await t.platform.deps.db.prisma.event.count({ where: { messageId: `${prefix}-ok` } })).toBe(0);
  });

  it('passes text[] parameters through the array literal unchanged', async () => {
    const values = [
      '',
      'NULL',
      null,
      'a,b',
      '{x}',
      'q"uote',
      'back\\slash',
      '\\"',
      'new\nline\ttab\r',
      'é😀',
      ' pad ',
      'x',
    ];
    const [row] = await t.platform.deps.db.query<{ a: Array<string | null> }>('SELECT $1::text[] AS a', [
      textArrayLiteral(values),
    ]);
    expect(row!.a).toEqual(values);
    const [empty] = await t.platform.deps.db.query<{ n: number }>('SELECT cardinality($1::text[]) AS n', [
      textArrayLiteral([]),
    ]);
    expect(empty!.n).toBe(0);
  });
});
