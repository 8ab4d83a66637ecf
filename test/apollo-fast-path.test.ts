import { createRequire } from 'node:module';
import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeBenchSupergraph, QUERY } from '../bench/federation/workload.js';
import { createResultShaper, memoizeOperationFromDocument } from '../gateway/apollo-fast-path.js';

// The gateway's result shaping (gateway/apollo-fast-path.ts) must answer exactly what
// @apollo/gateway's computeResponse answers: same data, same errors, same null bubbling. Both run
// here on the same operations and inputs, valid and broken. (End to end, bench:federation checks
// every answer against stock @apollo/gateway byte for byte.)
const require = createRequire(import.meta.url);
const apollo = (require('@apollo/gateway/dist/resultShaping.js') as { computeResponse: Shape }).computeResponse;
type Shape = (args: {
  operation: unknown;
  variables?: Record<string, unknown>;
  input: unknown;
  introspectionHandling: (selection: unknown) => unknown;
}) => { data: unknown; errors: Error[] };
const ours = createResultShaper(require('@apollo/federation-internals')) as Shape;

const urls = {
  accounts: 'http://a/graphql',
  inventory: 'http://i/graphql',
  products: 'http://p/graphql',
  reviews: 'http://r/graphql',
};
const apiSchema = Supergraph.build(composeBenchSupergraph(urls)).apiSchema();

const DOCUMENT = /* GraphQL */ `
  query Q($withName: Boolean!, $skipReviews: Boolean = false) {
    kind: __typename
    users {
      __typename
      id
      handle: username
      name @include(if: $withName)
      reviews @skip(if: $skipReviews) {
        id
        body @skip(if: true)
        product {
          upc
          ... on Product {
            price
            inStock
          }
          ...Shipping
        }
      }
    }
    topProducts(first: 2) {
      upc
      weight
    }
  }
  fragment Shipping on Product {
    shippingEstimate
    alias: name
  }
`;

const product = (upc: string) => ({
  __typename: 'Product',
  upc,
  price: 10,
  inStock: true,
  shippingEstimate: 5,
  alias: 'Table',
  extra: 'not selected',
});
const validInput = () => ({
  kind: 'Query',
  users: [
    {
      __typename: 'User',
      id: '1',
      handle: 'urigo',
      name: 'Uri',
      reviews: [
        { id: '1', body: 'x', product: product('1') },
        { id: '2', body: 'y', product: null },
      ],
    },
    { __typename: 'User', id: '2', handle: null, name: null, reviews: null },
    null,
  ],
  topProducts: [
    { upc: '1', weight: 100 },
    { upc: '2', weight: null },
  ],
});

const cases: Array<[string, (input: ReturnType<typeof validInput>) => unknown, Record<string, unknown>]> = [
  ['a valid answer', (i) => i, { withName: true }],
  ['a valid answer, conditions the other way', (i) => i, { withName: false, skipReviews: true }],
  [
    'null in a non-null field bubbles to the nearest nullable parent',
    (i) => {
      (i.users[0]!.reviews![0]!.product as { upc: unknown }).upc = null;
      (i.users[0]!.reviews![1] as { id: unknown }).id = null;
      return i;
    },
    { withName: true },
  ],
  [
    'an unknown __typename',
    (i) => {
      i.users[1]!.__typename = 'Nope';
      return i;
    },
    { withName: true },
  ],
  [
    'a leaf of the wrong type',
    (i) => {
      (i.topProducts[0] as { weight: unknown }).weight = 'heavy';
      return i;
    },
    { withName: true },
  ],
  ['no data', () => null, { withName: true }],
  ['missing fields', () => ({ users: [{ __typename: 'User', id: '3' }] }), { withName: true }],
];

const plain = (result: { data: unknown; errors: Error[] }) => ({
  data: JSON.parse(JSON.stringify(result.data ?? null)) as unknown,
  errors: result.errors.map((e) => ({ message: e.message, path: (e as { path?: unknown }).path })),
});

describe('result shaping equals @apollo/gateway computeResponse', () => {
  const introspectionHandling = () => ({ fake: true });
  for (const document of [DOCUMENT, QUERY]) {
    const operation = operationFromDocument(apiSchema, parse(document), { validate: false });
    for (const [name, mutate, variables] of cases) {
      it(`${document === QUERY ? 'benchmark query' : 'conditions and fragments'}: ${name}`, () => {
        const expected = apollo({ operation, variables, input: mutate(validInput()), introspectionHandling });
        const actual = ours({ operation, variables, input: mutate(validInput()), introspectionHandling });
        expect(plain(actual)).toEqual(plain(expected));
        if (/non-null|__typename|wrong type/.test(name)) expect(expected.errors.length).toBeGreaterThan(0);
        // Twice: the compiled selection sets are reused.
        const again = ours({ operation, variables, input: mutate(validInput()), introspectionHandling });
        expect(plain(again)).toEqual(plain(expected));
      });
    }
  }

  it('fails the same way when a condition variable is missing', () => {
    const operation = operationFromDocument(apiSchema, parse(DOCUMENT), { validate: false });
    const run = (shape: Shape) => {
      try {
        shape({ operation, variables: {}, input: validInput(), introspectionHandling });
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(run(ours)).toBe(run(apollo));
  });
});

describe('operationFromDocument memo', () => {
  it("reuses executeQueryPlan's Operation for the same nodes, and only for its calls", () => {
    const memo = memoizeOperationFromDocument(operationFromDocument as never);
    const document = parse(DOCUMENT);
    const [operationNode, fragment] = document.definitions;
    const rebuilt = () => ({ kind: document.kind, definitions: [operationNode!, fragment!] }) as typeof document;
    const first = memo(apiSchema, rebuilt(), { validate: false });
    expect(memo(apiSchema, rebuilt(), { validate: false })).toBe(first);
    // Other fragment nodes, other options, another schema: built anew.
    expect(
      memo(
        apiSchema,
        { ...document, definitions: [operationNode!, parse(DOCUMENT).definitions[1]!] },
        { validate: false },
      ),
    ).not.toBe(first);
    expect(memo(apiSchema, rebuilt(), { operationName: 'Q' })).not.toBe(first);
    expect(memo(apiSchema, rebuilt())).not.toBe(first);
  });
});
