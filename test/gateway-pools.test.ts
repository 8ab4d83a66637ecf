import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSubgraphs, type RunningSubgraphs } from '../bench/federation/subgraphs.js';
import { composeBenchSupergraph, QUERY } from '../bench/federation/workload.js';
import { createAuthenticator } from '../gateway/pipeline/authenticate.js';
import { createGateway, type Gateway } from '../gateway/server.js';
import { createLogger } from '../lib/logger.js';
import { createMemoryKv } from '../lib/runtime/kv/memory.js';
import { waitFor } from './support/rest.js';

// The gateway's keep-alive connections to remote subgraphs (SubgraphPools): a reloaded supergraph
// that moves the subgraphs leaves no connection to the old ones, and stop() leaves none at all.
// The four subgraphs of the federation benchmark stand in for remote subgraphs.
const logger = createLogger({ level: 'silent' });

describe('subgraph connection pools', () => {
  let first: RunningSubgraphs;
  let second: RunningSubgraphs;
  let gateway: Gateway;
  let url: string;
  const kv = createMemoryKv('pools-test:', logger);

  beforeAll(async () => {
    first = await startSubgraphs();
    second = await startSubgraphs();
    gateway = await createGateway({
      supergraphSdl: composeBenchSupergraph(first.urls),
      inProcess: {},
      urls: {},
      signingSecret: 'pools-test-signing-secret-pools-test',
      authenticate: () => createAuthenticator([]),
      kv,
      logger,
      requestTimeoutMs: 10_000,
      rateLimitEnabled: false,
      trustedProxies: [],
    });
    url = `${(await gateway.listen(0, '127.0.0.1')).url}/graphql`;
  });

  afterAll(async () => {
    await first.close();
    await second.close();
    await kv.close();
  });

  const query = async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY }),
    });
    const body = (await response.json()) as { data?: { users?: unknown[] }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data?.users?.length).toBeGreaterThan(0);
  };

  it('reuses keep-alive connections, closes those to subgraphs a reload moved away, and stop() closes the rest', async () => {
    await Promise.all([query(), query(), query(), query()]);
    const openToFirst = await first.connections();
    expect(openToFirst).toBeGreaterThanOrEqual(4);
    // Kept alive: later queries one at a time reuse those connections.
    await query();
    await query();
    expect(await first.connections()).toBe(openToFirst);

    // The same subgraphs at new addresses: the old origins' pools are closed.
    const served = { ...second.counts };
    gateway.reloadSupergraph(composeBenchSupergraph(second.urls));
    await waitFor(async () => (await first.connections()) === 0 || undefined, 'the old pools to close', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    await query();
    expect(second.counts.accounts).toBeGreaterThan(served.accounts);
    expect(await second.connections()).toBeGreaterThan(0);
    expect(gateway.subgraphPools.origins().sort()).toEqual(
      Object.values(second.urls)
        .map((u) => new URL(u).origin)
        .sort(),
    );

    // A request in flight while stopping is answered, then every connection is closed.
    const before = second.counts.accounts;
    const inFlight = query();
    await waitFor(async () => second.counts.accounts > before || undefined, 'the query to reach the subgraphs', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    await gateway.stop();
    await inFlight;
    expect(gateway.subgraphPools.origins()).toEqual([]);
    await waitFor(
      async () => (await second.connections()) === 0 || undefined,
      'stop() to close every subgraph connection',
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    expect(await first.connections()).toBe(0);
  });
});
