import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOperationLimits } from '../gateway/plugins/operation-limits.js';
import { DEFAULT_GRAPHQL_LIMITS, graphqlLimitsEnv, graphqlLimitsFrom, loadEnv } from '../lib/env.js';
import { bootPlatform, type TestPlatform } from './support/platform.js';

// Issue 8 part 6: anonymous amplification on /graphql. Every limit is checked on the raw request
// before Apollo validates or plans it, and each refusal names its limit and value.

interface LimitError {
  message: string;
  extensions?: { code?: string; details?: { limit?: string; max?: number; actual?: number } };
}

async function postGraphQL(
  url: string,
  body: string,
  token?: string,
): Promise<{ status: number; bytes: number; ms: number; json: { data?: unknown; errors?: LimitError[] } }> {
  const started = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    bytes: Buffer.byteLength(text),
    ms: performance.now() - started,
    json: JSON.parse(text),
  };
}

const aliasedIntrospection = (n: number) =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: __schema { types { name fields { name } } }`).join(' ')} }`;

function expectLimit(json: { errors?: LimitError[] }, limit: string, max: number): void {
  expect(json.errors).toHaveLength(1);
  const [error] = json.errors!;
  expect(error!.extensions?.code).toBe('OPERATION_LIMIT_EXCEEDED');
  expect(error!.extensions?.details).toMatchObject({ limit, max });
  expect(error!.message).toContain(`(${limit})`);
  expect(error!.message).toContain(String(max));
}

describe('GraphQL operation limits (defaults, schema visible to authenticated callers)', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses 10,000 aliased introspection fields fast, with a small answer, and /health stays responsive', async () => {
    const body = JSON.stringify({ query: aliasedIntrospection(10_000) });
    const health = (async () => {
      const slowest: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const response = await fetch(`${t.url}/health`, { headers: { connection: 'close' } });
        await response.arrayBuffer();
        slowest.push(performance.now() - started);
      }
      return Math.max(...slowest);
    })();
    const answers = await Promise.all([postGraphQL(t.url, body), postGraphQL(t.url, body, t.operatorKey)]);
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.bytes).toBeLessThan(1024);
      expectLimit(answer.json, 'maxTokens', DEFAULT_GRAPHQL_LIMITS.maxTokens);
      // Unlimited, this took over two minutes and 3 GB (and /health as long); the refusal itself
      // takes milliseconds, the bound leaves room for a CI machine loaded by parallel suites.
      expect(answer.ms).toBeLessThan(15_000);
    }
    expect(await health).toBeLessThan(15_000);
  });

  it('counts aliases (through fragment spreads) within the token limit', async () => {
    const { maxAliases } = DEFAULT_GRAPHQL_LIMITS;
    // Under one root field: the root-field limit is lower than the alias limit.
    const within = `{ health { ${Array.from({ length: maxAliases }, (_, i) => `a${i}: status`).join(' ')} } }`;
    const ok = await postGraphQL(t.url, JSON.stringify({ query: within }), t.operatorKey);
    expect(ok.status).toBe(200);
    expect(ok.json.errors).toBeUndefined();

    // 10 aliases in a fragment spread 4 times: 40 aliases once expanded, though 10 are written.
    const spread = `query { health { ...F ...F ...F ...F } } fragment F on HealthReport { ${Array.from(
      { length: 10 },
      (_, i) => `f${i}: status`,
    ).join(' ')} }`;
    const refused = await postGraphQL(t.url, JSON.stringify({ query: spread }), t.operatorKey);
    expect(refused.status).toBe(400);
    expectLimit(refused.json, 'maxAliases', maxAliases);
    expect(refused.json.errors![0]!.extensions?.details?.actual).toBe(40);
  });

  it('limits depth, root fields and directives', async () => {
    const { maxDepth, maxRootFields, maxDirectives } = DEFAULT_GRAPHQL_LIMITS;
    // __type nests ofType as deep as asked: one level more than allowed.
    let deep = 'name';
    for (let i = 0; i < maxDepth - 1; i++) deep = `ofType { ${deep} }`;
    const tooDeep = await postGraphQL(
      t.url,
      JSON.stringify({ query: `{ __type(name: "Query") { ofType { ${deep} } } }` }),
      t.operatorKey,
    );
    expect(tooDeep.status).toBe(400);
    expectLimit(tooDeep.json, 'maxDepth', maxDepth);

    const fields = Array.from({ length: maxRootFields + 1 }, () => '__typename').join(' ');
    const wide = await postGraphQL(t.url, JSON.stringify({ query: `{ ${fields} }` }), t.operatorKey);
    expect(wide.status).toBe(400);
    expectLimit(wide.json, 'maxRootFields', maxRootFields);

    const directives = Array.from({ length: maxDirectives + 1 }, () => '@include(if: true)').join(' ');
    const decorated = await postGraphQL(
      t.url,
      JSON.stringify({ query: `{ __typename ${directives} }` }),
      t.operatorKey,
    );
    expect(decorated.status).toBe(400);
    expectLimit(decorated.json, 'maxDirectives', maxDirectives);
  });

  it('checks GET operations too', async () => {
    const query = `{ ${Array.from({ length: DEFAULT_GRAPHQL_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const response = await fetch(`${t.url}/graphql?query=${encodeURIComponent(query)}`, {
      headers: { authorization: `Bearer ${t.operatorKey}`, 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(400);
    expectLimit(
      (await response.json()) as { errors?: LimitError[] },
      'maxRootFields',
      DEFAULT_GRAPHQL_LIMITS.maxRootFields,
    );
  });

  it('admits the standard introspection query for an authenticated caller, refuses it anonymously', async () => {
    const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true });
    const authenticated = await postGraphQL(t.url, JSON.stringify({ query }), t.operatorKey);
    expect(authenticated.status).toBe(200);
    expect(authenticated.json.errors).toBeUndefined();
    expect(authenticated.bytes).toBeLessThan(DEFAULT_GRAPHQL_LIMITS.maxResponseBytes);

    const anonymous = await postGraphQL(t.url, JSON.stringify({ query }));
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.errors![0]!.extensions?.code).toBe('UNAUTHORIZED');
    expect(anonymous.json.data).toBeUndefined();

    // __type is introspection too, also when hidden in a fragment.
    const hidden = await postGraphQL(
      t.url,
      JSON.stringify({ query: '{ ...F } fragment F on Query { __type(name: "Query") { name } }' }),
    );
    expect(hidden.status).toBe(401);
    // __typename is not: clients add it everywhere.
    const typename = await postGraphQL(t.url, JSON.stringify({ query: '{ __typename }' }));
    expect(typename.status).toBe(200);
  });

  it('hides "Did you mean" suggestions from anonymous callers only', async () => {
    const query = JSON.stringify({ query: '{ tenantz(id: "x") { id } }' });
    const anonymous = await postGraphQL(t.url, query);
    expect(anonymous.status).toBe(400);
    expect(anonymous.json.errors![0]!.message).toMatch(/Cannot query field "tenantz"/);
    expect(JSON.stringify(anonymous.json)).not.toMatch(/Did you mean/);

    const authenticated = await postGraphQL(t.url, query, t.operatorKey);
    expect(authenticated.json.errors![0]!.message).toMatch(/Did you mean "tenant/);
  });

  it('answers 413 for a body over 1 MB, as REST does', async () => {
    const body = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } });
    const answer = await postGraphQL(t.url, body);
    expect(answer.status).toBe(413);
    expect(answer.json.errors![0]!.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('leaves REST routes (fixed documents run in-process) alone', async () => {
    const health = await t.rest('/api/health/detailed');
    expect(health.status).toBe(200);
  });
});

describe('GraphQL limits from the environment', () => {
  it('reads GRAPHQL_* settings, with defaults', () => {
    const limits = graphqlLimitsFrom(
      loadEnv(graphqlLimitsEnv, { GRAPHQL_MAX_ALIASES: '5', GRAPHQL_SCHEMA_VISIBILITY: 'public' }),
    );
    expect(limits).toEqual({ ...DEFAULT_GRAPHQL_LIMITS, maxAliases: 5, schemaVisibility: 'public' });
    expect(() => loadEnv(graphqlLimitsEnv, { GRAPHQL_SCHEMA_VISIBILITY: 'everyone' })).toThrow(
      /GRAPHQL_SCHEMA_VISIBILITY/,
    );
    expect(() => loadEnv(graphqlLimitsEnv, { GRAPHQL_MAX_DEPTH: '0' })).toThrow(/GRAPHQL_MAX_DEPTH/);
  });

  it('stays linear on nested fragment spreads (counts grow, the walk does not)', () => {
    // Each fragment spreads the next twice: 2^40 aliases once expanded, measured in 40 steps.
    const fragments = Array.from({ length: 40 }, (_, i) =>
      i === 39 ? `fragment F${i} on Query { a: __typename }` : `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    ).join(' ');
    const started = performance.now();
    expect(() => checkOperationLimits(`{ ...F0 } ${fragments}`, DEFAULT_GRAPHQL_LIMITS)).toThrow(/maxRootFields/);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('GraphQL limits configured', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await bootPlatform({
      graphqlLimits: { schemaVisibility: 'none', maxResponseBytes: 256, maxAliases: 3 },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('applies the configured values; visibility none refuses introspection to everyone', async () => {
    const aliases = await postGraphQL(
      t.url,
      JSON.stringify({ query: '{ a: __typename b: __typename c: __typename d: __typename }' }),
      t.operatorKey,
    );
    expectLimit(aliases.json, 'maxAliases', 3);

    const introspection = await postGraphQL(
      t.url,
      JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
      t.operatorKey,
    );
    expect(introspection.status).toBe(403);
    expect(introspection.json.errors![0]!.extensions?.code).toBe('FORBIDDEN');

    const typo = await postGraphQL(t.url, JSON.stringify({ query: '{ tenantz(id: "x") { id } }' }), t.operatorKey);
    expect(JSON.stringify(typo.json)).not.toMatch(/Did you mean/);
  });

  it('replaces an answer over the response size cap', async () => {
    const small = await postGraphQL(t.url, JSON.stringify({ query: '{ health { status } }' }), t.operatorKey);
    expect(small.status).toBe(200);
    const query = `{ health { status timestamp uptimeSeconds version environment
      database { status } cache { status } jobs { status } platform { status } identity { status } } }`;
    const answer = await postGraphQL(t.url, JSON.stringify({ query }), t.operatorKey);
    expect(answer.status, JSON.stringify(answer.json)).toBe(400);
    expectLimit(answer.json, 'maxResponseBytes', 256);
  });
});
