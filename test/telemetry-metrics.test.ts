import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootPlatform, type TestPlatform } from './support/platform.js';
import { expectRestError } from './support/rest.js';

const FORWARDED = {
  'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`,
};

describe('system and Prometheus metrics', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform({ trustedProxies: ['127.0.0.1'] });
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('cloudpioneer GET /system/metrics answers the documented shape with real host figures', async () => {
    const answer = await t.rest('/system/metrics', { headers: FORWARDED });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const capacity = {
      total: expect.any(Number),
      used: expect.any(Number),
      free: expect.any(Number),
      usage_percent: expect.any(Number),
    };
    expect(answer.body).toEqual({
      cpu: {
        usage_percent: expect.any(Number),
        load_average: [expect.any(Number), expect.any(Number), expect.any(Number)],
      },
      memory: capacity,
      disk: capacity,
    });
    expect(answer.body.memory.total).toBe(answer.body.memory.used + answer.body.memory.free);
    expect(answer.body.cpu.usage_percent).toBeGreaterThanOrEqual(0);
    expect(answer.body.cpu.usage_percent).toBeLessThanOrEqual(100);
    expectRestError(
      'cloudpioneer',
      await t.rest('/system/metrics', { token: null, headers: FORWARDED }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('GET /metrics serves prom-client text with the gateway request counters per route and dialect', async () => {
    await t.rest('/system/metrics', { headers: FORWARDED });
    const response = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.operatorKey}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/system\/metrics",dialect="cloudpioneer",operation="SystemMetrics",status="200"\} [1-9]/,
    );
    expect(text).toContain('http_request_duration_seconds_bucket');
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).toContain('realtime_subscriptions');
    const anonymous = await fetch(`${t.url}/metrics`);
    expect(anonymous.status).toBe(401);
  });
});
