import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../lib/ids.js';
import { subscribeTopic } from '../lib/realtime/topics.js';
import { SYNC_MAX_ROWS } from '../subgraphs/telemetry/services/export.js';
import { bootPlatform, uniqueSlug, type TestPlatform } from './support/platform.js';
import { expectRestError, uniqueClientIp } from './support/rest.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './support/tenants.js';

// platform-forge GET /api/v1/telemetry/export: csv, NDJSON and Parquet (read back with hyparquet),
// tenant-scoped, bounded, and large ranges as a job with progress on tenancy.progress.

const PASSWORD = 'Export-Test-Password-1';
const RANGE = 'start_date=2024-01-20T00:00:00Z&end_date=2024-01-21T00:00:00Z';

describe('telemetry export', () => {
  let t: TestPlatform;
  let tenantA: TenantInfo;
  let tokenA: string;
  let tokenB: string;
  const headers = { 'x-forwarded-for': uniqueClientIp() };
  const get = (path: string, token: string) => t.rest(path, { token, headers });

  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
    tenantA = await createTenant(t, t.operatorKey, headers, 'expa');
    const tenantB = await createTenant(t, t.operatorKey, headers, 'expb');
    tokenA = await signInTenantAdmin(t, tenantA.id, { password: PASSWORD, headers });
    tokenB = await signInTenantAdmin(t, tenantB.id, { password: PASSWORD, headers });
    const events = [
      { event_name: 'page_view', properties: { page: '/home' }, timestamp: '2024-01-20T10:00:00Z' },
      {
        event_name: 'button_click',
        properties: { label: 'Say "hi", then\nleave', formula: '=1+1' },
        timestamp: '2024-01-20T10:00:01Z',
      },
      { event_name: 'page_view', properties: { page: '/pricing' }, timestamp: '2024-01-20T11:00:00Z' },
      { event_name: 'outside', properties: {}, timestamp: '2024-01-22T11:00:00Z' },
    ];
    const a = await t.rest('/api/v1/telemetry/events/batch', {
      method: 'POST',
      token: tokenA,
      headers,
      body: { events },
    });
    expect(a.status, JSON.stringify(a.body)).toBe(202);
    const b = await t.rest('/api/v1/telemetry/events/batch', {
      method: 'POST',
      token: tokenB,
      headers,
      body: { events: [{ event_name: 'b_only', properties: {}, timestamp: '2024-01-20T12:00:00Z' }] },
    });
    expect(b.status, JSON.stringify(b.body)).toBe(202);
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  it('exports CSV of the caller tenant and range only, quoted and formula-safe', async () => {
    const answer = await get(`/api/v1/telemetry/export?format=csv&${RANGE}`, tokenA);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.data).toMatchObject({
      status: 'completed',
      format: 'csv',
      total_events: 3,
      exported_events: 3,
      task_id: null,
    });
    const file = await fetch(answer.body.data.download_url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('text/csv');
    const text = await file.text();
    expect(
      text.startsWith('id,tenant_id,type,source,actor_id,message_id,occurred_at,received_at,payload,context\r\n'),
    ).toBe(true);
    expect(text).not.toContain('b_only');
    expect(text).not.toContain('outside');
    // The payload cell is quoted (quotes doubled, newline kept inside the quotes).
    expect(text).toContain('""Say \\""hi\\"", then\\nleave""');
    expect(answer.body.data.size_bytes).toBe(Buffer.byteLength(text));
  });

  it('exports NDJSON (format=json), one event a line', async () => {
    const answer = await get(`/api/v1/telemetry/export?format=json&${RANGE}`, tokenA);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const lines = (await (await fetch(answer.body.data.download_url)).text()).trim().split('\n');
    const rows = lines.map((line) => JSON.parse(line) as Record<string, string>);
    expect(rows.map((r) => r.type)).toEqual(['page_view', 'button_click', 'page_view']);
    expect(rows.every((r) => r.tenant_id === tenantA.id)).toBe(true);
    expect(JSON.parse(rows[1]!.payload!)).toEqual({ label: 'Say "hi", then\nleave', formula: '=1+1' });
  });

  it('exports Parquet that a reader parses back', async () => {
    const answer = await get(`/api/v1/telemetry/export?format=parquet&${RANGE}`, tokenA);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const file = await fetch(answer.body.data.download_url);
    expect(file.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const rows = (await parquetReadObjects({ file: await file.arrayBuffer() })) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.type)).toEqual(['page_view', 'button_click', 'page_view']);
    expect(rows[0]).toMatchObject({ tenant_id: tenantA.id, payload: { page: '/home' } });
    expect(new Date(rows[0]!.occurred_at as Date).toISOString()).toBe('2024-01-20T10:00:00.000Z');
  });

  it('keeps tenants apart and bounds the range', async () => {
    const b = await get(`/api/v1/telemetry/export?format=json&${RANGE}`, tokenB);
    expect(b.body.data.total_events).toBe(1);
    const text = await (await fetch(b.body.data.download_url)).text();
    expect(text).toContain('b_only');
    const cross = await get(`/api/v1/telemetry/export?format=csv&${RANGE}&tenant_id=${tenantA.id}`, tokenB);
    expectRestError('platform-forge', cross, 403, 'TENANT_MISMATCH');
    const tooWide = await get(
      '/api/v1/telemetry/export?format=csv&start_date=2024-01-01T00:00:00Z&end_date=2024-06-01T00:00:00Z',
      tokenA,
    );
    expectRestError('platform-forge', tooWide, 400, 'VALIDATION_ERROR');
    const reversed = await get(
      '/api/v1/telemetry/export?format=csv&start_date=2024-01-21T00:00:00Z&end_date=2024-01-20T00:00:00Z',
      tokenA,
    );
    expectRestError('platform-forge', reversed, 400, 'VALIDATION_ERROR');
    const anonymous = await t.rest(`/api/v1/telemetry/export?format=csv&${RANGE}`, { token: null, headers });
    expect(anonymous.status).toBe(401);
  });

  it('runs a large range as a job with progress on tenancy.progress, then a download URL', async () => {
    const count = SYNC_MAX_ROWS + 50;
    const base = Date.parse('2024-02-01T00:00:00Z');
    await t.platform.db.prisma.event.createMany({
      data: Array.from({ length: count }, (_, i) => ({
        id: newId('evt', 12),
        tenantId: tenantA.id,
        type: i % 2 === 0 ? 'bulk_a' : 'bulk_b',
        payload: { i },
        occurredAt: new Date(base + i * 1000),
        messageId: `${uniqueSlug('bulk')}-${i}`,
      })),
    });
    const progress = await subscribeTopic<{ kind: string; id: string; status: string; percent: number }>({
      kv: t.platform.kv,
      topic: 'tenancy.progress',
      tenantId: tenantA.id,
      accept: (data) => data.kind === 'telemetry.export',
    });
    try {
      const answer = await get(
        '/api/v1/telemetry/export?format=parquet&start_date=2024-02-01T00:00:00Z&end_date=2024-02-02T00:00:00Z',
        tokenA,
      );
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      expect(answer.body.data).toMatchObject({ status: 'queued', total_events: count, download_url: null });
      expect(answer.body.data.task_id).toBeTruthy();
      const exportId = answer.body.data.export_id as string;

      const seen: Array<{ status: string; percent: number }> = [];
      const deadline = Date.now() + 120_000;
      while (!seen.some((m) => m.status === 'completed')) {
        let timer: NodeJS.Timeout | undefined;
        const next = await Promise.race([
          progress.next(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no completion: ${JSON.stringify(seen)}`)),
              Math.max(0, deadline - Date.now()),
            );
          }),
        ]).finally(() => clearTimeout(timer));
        if (next.done) throw new Error('progress stream ended');
        if (next.value.data.id === exportId) seen.push(next.value.data);
      }
      expect(seen.some((m) => m.status === 'running' && m.percent > 0 && m.percent < 100)).toBe(true);

      const status = await t.graphql<{
        telemetryExport: { status: string; exportedRows: number; downloadPath: string };
      }>(
        `query ($id: ID!) { telemetryExport(id: $id) { status exportedRows downloadPath } }`,
        { id: exportId },
        { token: tokenA, headers },
      );
      expect(status.body.errors).toBeUndefined();
      expect(status.body.data!.telemetryExport).toMatchObject({ status: 'completed', exportedRows: count });
      const other = await t.graphql(
        `query ($id: ID!) { telemetryExport(id: $id) { status } }`,
        { id: exportId },
        {
          token: tokenB,
          headers,
        },
      );
      expect(other.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

      const file = await fetch(`${t.url}${status.body.data!.telemetryExport.downloadPath}`);
      const rows = (await parquetReadObjects({ file: await file.arrayBuffer() })) as Array<Record<string, unknown>>;
      expect(rows).toHaveLength(count);
      expect(rows[count - 1]).toMatchObject({ payload: { i: count - 1 } });
    } finally {
      await progress.return?.();
    }
  });
});
