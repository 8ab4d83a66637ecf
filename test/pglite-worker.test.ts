import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteWorkerClient } from '../lib/pglite-worker-client.js';
import { bootPlatform, uniqueSlug, usingRealServices, type TestPlatform } from './support/platform.js';
import { busyFor, untilBusy } from './support/busy-sql.js';

// The embedded database in a worker thread: a statement past its deadline is cut (the worker is
// terminated and restarted on the same folder), callers queued meanwhile wait, and the event
// loop stays free while a statement runs. Measurements (restart time, per-query cost of the
// thread hop) are printed for the record.

describe('PgliteWorkerClient', () => {
  let dir: string;
  let client: PgliteWorkerClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pglite-worker-test-'));
    client = await PgliteWorkerClient.create({ dataDir: dir });
    await client.exec(`CREATE TABLE kept (id int PRIMARY KEY, note text); INSERT INTO kept VALUES (1, 'committed')`);
  }, 240_000);

  afterAll(async () => {
    await client?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers like PGlite: rows, parsers applied on this side, DatabaseError with its SQLSTATE', async () => {
    const result = await client.query<unknown[]>('SELECT id, note, $1::int8 AS big FROM kept', ['9007199254740993'], {
      rowMode: 'array',
      parsers: { 20: (value: string) => `int8:${value}` },
    });
    expect(result.rows).toEqual([[1, 'committed', 'int8:9007199254740993']]);
    await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    await expect(client.query('INSERT INTO kept VALUES (1, $1)', ['dup'])).rejects.toMatchObject({
      code: '23505',
      constraint: 'kept_pkey',
    });
  });

  it('cuts a statement at its deadline, restarts on the same folder, and queued callers wait', async () => {
    const started = performance.now();
    const cut = client
      .transaction(async (tx) => {
        await tx.query(`INSERT INTO kept VALUES (2, 'uncommitted')`);
        return tx.query(busyFor(60_000), [], { timeoutMs: 300 });
      })
      .then(
        () => ({ code: 'none', ms: performance.now() - started }),
        (error: { code?: string }) => ({ code: error.code, ms: performance.now() - started }),
      );
    // Issued while the long statement runs: waits for the restart instead of failing.
    const queued = client.query<{ id: number; note: string }>('SELECT id, note FROM kept ORDER BY id');
    const outcome = await cut;
    expect(outcome.code).toBe('57014');
    expect(outcome.ms).toBeLessThan(3000);
    const rows = (await queued).rows;
    expect(rows).toEqual([{ id: 1, note: 'committed' }]);
    expect(client.stats.restarts).toBe(1);
    console.log(
      `[pglite-worker] statement cut after ${Math.round(outcome.ms)} ms (deadline 300 ms); ` +
        `worker restart took ${client.stats.lastRestartMs} ms`,
    );
  }, 120_000);

  it('costs a small, measured overhead per query over in-process PGlite', async () => {
    const inProcess = await PGlite.create();
    try {
      const time = async (run: () => Promise<unknown>) => {
        for (let i = 0; i < 50; i++) await run();
        const started = performance.now();
        for (let i = 0; i < 500; i++) await run();
        return (performance.now() - started) / 500;
      };
      const viaWorker = await time(() => client.query('SELECT $1::int AS n', [1]));
      const direct = await time(() => inProcess.query('SELECT $1::int AS n', [1]));
      console.log(
        `[pglite-worker] SELECT $1: ${viaWorker.toFixed(3)} ms through the worker, ${direct.toFixed(3)} ms in process ` +
          `(overhead ${(viaWorker - direct).toFixed(3)} ms per query)`,
      );
      expect(viaWorker).toBeLessThan(direct + 20);
    } finally {
      await inProcess.close();
    }
  }, 120_000);
});

describe('a long tenant query does not stall the platform', () => {
  let t: TestPlatform;
  let projectKey: string;
  let schema: string;

  beforeAll(async () => {
    t = await bootPlatform({
      rateLimitPolicies: { 'core-platform.database-query': { points: 1000, durationSeconds: 60 } },
    });
    const signup = await t.rest('/signup', {
      method: 'POST',
      token: null,
      body: { email: `${uniqueSlug('slow')}@example.com`, password: 'Slow-Query-Passphrase-3', project_name: 'Slow' },
    });
    expect(signup.status, JSON.stringify(signup.body)).toBe(201);
    projectKey = signup.body.api_key;
    const slug = uniqueSlug('slow');
    const created = await t.graphql<{ createTenant: { schemaName: string } }>(
      `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { schemaName } }`,
      { input: { name: `Slow ${slug}`, slug } },
      { token: projectKey },
    );
    expect(created.body.errors).toBeUndefined();
    schema = created.body.data!.createTenant.schemaName;
  }, 240_000);

  afterAll(async () => {
    await t?.close();
  });

  it('/health answers within 200 ms while a tenant query runs, and the query is cut at timeout_ms', async () => {
    const timeoutMs = 3000;
    const started = performance.now();
    let running = true;
    const slow = t
      .rest('/api/database/query', {
        method: 'POST',
        token: projectKey,
        body: { schema, query: busyFor(120_000), timeout_ms: timeoutMs },
      })
      .finally(() => {
        running = false;
      });
    // Probe once the statement runs, for as long as it runs.
    await untilBusy(t.platform.db);
    const probes: number[] = [];
    while (running && performance.now() - started < timeoutMs - 300) {
      const probeStarted = performance.now();
      const health = await t.rest('/health', { token: null });
      probes.push(performance.now() - probeStarted);
      expect(health.status).toBe(200);
      // Paces the probes (a client checking health now and then); not an ordering wait.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const answer = await slow;
    const elapsed = performance.now() - started;
    expect(answer.status, JSON.stringify(answer.body)).toBe(504);
    expect(answer.body.error).toMatchObject({ code: 'timeout', details: { sqlstate: '57014' } });
    expect(probes.length).toBeGreaterThanOrEqual(3);
    // The claim is about PGlite (its statement no longer runs on the event loop). On PostgreSQL
    // /health pings a pooled connection: fast, but a loaded CI machine adds its own latency.
    const sorted = [...probes].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    // Before the worker, every probe waited for the whole statement (PGlite ran it on the event
    // loop). Median under 200 ms; the worst probe gets slack for a loaded CI machine.
    expect(median).toBeLessThan(200);
    expect(Math.max(...probes)).toBeLessThan(2000);
    // Cut at the deadline, not after the statement's 120 s: the query log holds the time until
    // the cut (on PGlite the answer itself also waits for that log, written after the restart).
    const [log] = await t.platform.db.prisma.$queryRawUnsafe<{ duration_ms: number }[]>(
      `SELECT duration_ms FROM tenancy.query_logs WHERE id = $1`,
      answer.body.error.details.query_id,
    );
    expect(log!.duration_ms).toBeLessThan(timeoutMs + 1500);
    expect(elapsed).toBeLessThan(60_000);
    console.log(
      `[pglite-worker] cut after ${log!.duration_ms} ms (timeout_ms ${timeoutMs}); ${usingRealServices ? 'postgres' : 'pglite'}: /health median ${Math.round(median)} ms, max ${Math.round(Math.max(...probes))} ms ` +
        `over ${probes.length} probes during the query; query answered 504 after ${Math.round(elapsed)} ms`,
    );
    // And the platform serves tenant SQL again.
    const after = await t.rest('/api/database/query', {
      method: 'POST',
      token: projectKey,
      body: { schema, query: 'SELECT count(*) AS n FROM users' },
    });
    expect(after.status, JSON.stringify(after.body)).toBe(200);
  }, 120_000);
});
