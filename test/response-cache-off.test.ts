import { buildSchema, parse } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { createResponseCachePlugin } from '../gateway/plugins/response-cache.js';
import { RESPONSE_CACHE_CONFIG_KEY } from '../lib/response-cache.js';
import { createLogger } from '../lib/logger.js';
import { createMemoryKv } from '../lib/runtime/kv/memory.js';

// The response cache while off: no lookup, and a mutation's invalidation written off the response
// path, yet an answer cached before the cache was switched off is never served once it is on again.
const logger = createLogger({ level: 'silent' });
const kv = createMemoryKv('rc-off-test:', logger);
const schema = buildSchema(
  `type User { id: ID name: String } type Query { me: User } type Mutation { updateUser(id: ID): User }`,
);
const query = parse(`{ me { id name } }`);
const mutation = parse(`mutation { updateUser(id: "1") { id } }`);

afterAll(() => kv.close());

describe('response cache while off', () => {
  it('skips lookups, and its batched invalidations still reach entries cached before', async () => {
    const plugin = await createResponseCachePlugin({ kv, logger });
    const run = async (document: typeof query, data: Record<string, unknown>) => {
      const headers = new Map<string, string>();
      const ctx = {
        document,
        schema,
        operationName: null,
        queryHash: document === query ? 'q' : 'm',
        contextValue: { principal: { kind: 'user', id: 'u1', tenantId: 't', projectId: null, roles: [], scopes: [] } },
        request: { variables: {} },
        response: { body: { kind: 'single', singleResult: { data } }, http: { headers } },
      } as never;
      const listener = (await plugin.requestDidStart!(ctx))!;
      const cached = (await listener.responseForOperation?.(ctx)) as
        { body: { singleResult: { data: unknown } } } | null | undefined;
      if (cached) return { cache: 'HIT', data: cached.body.singleResult.data };
      await listener.willSendResponse?.(ctx);
      return { cache: headers.get('x-cache') ?? null, data };
    };
    const setEnabled = async (enabled: boolean) => {
      await kv.cache.set(RESPONSE_CACHE_CONFIG_KEY, JSON.stringify({ enabled, ttl: 60 }), 60);
      await plugin.refresh();
    };

    await setEnabled(true);
    expect((await run(query, { me: { id: '1', name: 'old' } })).cache).toBe('MISS');
    expect((await run(query, { me: { id: '1', name: 'old' } })).cache).toBe('HIT');

    await setEnabled(false);
    const offListener = await plugin.requestDidStart!({} as never);
    expect(offListener?.responseForOperation).toBeUndefined();
    expect((await run(query, { me: { id: '1', name: 'old' } })).cache).toBeNull();
    await run(mutation, { updateUser: { id: '1' } });

    // On again at once: the lookup waits for the batched invalidation, so the old answer is gone.
    await setEnabled(true);
    const after = await run(query, { me: { id: '1', name: 'new' } });
    expect(after).toEqual({ cache: 'MISS', data: { me: { id: '1', name: 'new' } } });
    await plugin.close();
  });
});
