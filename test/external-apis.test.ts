import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from './support/fake-stripe.js';
import { bootPlatform, type TestPlatform } from './support/platform.js';
import { uniqueClientIp } from './support/rest.js';

// The detailed health check's external_apis block: each configured outbound dependency probed for
// real (a fake Stripe over HTTP, a clamd speaking its PING, an SMTP server that is not there).

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('health external_apis', () => {
  let t: TestPlatform;
  let stripe: FakeStripe;
  let clamd: Server;
  let closedPort: number;
  const headers = { 'x-forwarded-for': uniqueClientIp() };

  beforeAll(async () => {
    stripe = await startFakeStripe();
    clamd = createServer((socket) => {
      socket.once('data', (chunk) => {
        if (chunk.toString('utf8') === 'zPING\0') socket.end('PONG\0');
        else socket.end('UNKNOWN COMMAND\0');
      });
    });
    const clamdPort = await listen(clamd);
    // A port that was free a moment ago: nothing answers SMTP there.
    const probe = createServer();
    closedPort = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    t = await bootPlatform({
      trustedProxies: ['127.0.0.1'],
      stripe: { secretKey: stripe.secretKey, apiUrl: stripe.url, usageMeterEvent: 'api_calls' },
      clamav: { host: '127.0.0.1', port: clamdPort },
      smtp: { url: `smtp://127.0.0.1:${closedPort}`, from: 'Platform <no-reply@localhost>' },
    });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await stripe?.close();
    await new Promise((resolve) => clamd?.close(resolve));
  });

  it('reports each configured dependency with a measured latency, and says which are not configured', async () => {
    const answer = await t.rest('/api/health/detailed', { headers });
    expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(600);
    const block = answer.body.data.components.external_apis;
    expect(block.status).toBe('degraded');
    expect(block.services.stripe).toMatchObject({ status: 'healthy', role: 'payment_gateway' });
    expect(block.services.stripe.response_time_ms).toBeGreaterThan(0);
    expect(stripe.requests.some((r) => r.path === '/v1/balance')).toBe(true);
    expect(block.services.clamav).toMatchObject({ status: 'healthy', role: 'virus_scanner' });
    expect(block.services.clamav.response_time_ms).toBeGreaterThan(0);
    expect(block.services.smtp).toMatchObject({ status: 'unhealthy', role: 'email_service' });
    expect(block.services.smtp.error).toMatch(/ECONNREFUSED|connect/i);
    expect(block.services.s3).toEqual({ status: 'not_configured', role: 'object_storage', response_time_ms: null });
  });

  it('is operator-level: a caller without read:system gets no external_apis', async () => {
    const answer = await t.rest('/api/health/detailed', { token: null, headers });
    expect(answer.status).toBe(401);
  });
});
