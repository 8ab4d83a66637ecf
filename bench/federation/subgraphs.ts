import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';

/**
 * The four subgraphs of The Guild's graphql-gateways-benchmark federation workload (accounts,
 * inventory, products, reviews), written as Federation v2 schemas on @apollo/subgraph and served
 * on bare node:http. Their data is static, so each subgraph answers a request body it has seen
 * before from memory: the subgraphs stay cheap and the gateway is what the benchmark measures
 * (the original subgraphs are Rust for the same reason). Every request is counted.
 */

const LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@external", "@requires", "@provides"])`;

const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.';
const SED_UT =
  'Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam, eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit aut fugi';
const SED_QUIA =
  'sed quia consequuntur magni dolores eos qui ratione voluptatem sequi nesciunt. Neque porro quisquam est, qui dolorem ipsum quia dolor sit amet, consectetur, adipisci velit, sed quia non numquam eius modi tempora incidunt ut labore et dolore magnam aliquam quaerat voluptatem.';
const UT_ENIM =
  'Ut enim ad minima veniam, quis nostrum exercitationem ullam corporis suscipit laboriosam, nisi ut aliquid ex ea commodi consequatur? Quis autem';
const AT_VERO =
  'At vero eos et accusamus et iusto odio dignissimos ducimus qui blanditiis praesentium voluptatum deleniti atque corrupti quos dolores et quas molestias excepturi sint occaecati cupiditate non provident, similique sunt in culpa qui officia deserunt mollitia animi, id est laborum et dolorum fuga. Et harum quidem rerum facilis est et expedita distinctio. Nam libero tempore, cum soluta nobis est eligendi optio cumque nihil impedit quo minus id quod maxime placeat facere possimus, omnis voluptas assumenda est, omnis dolor repellendus. Temporibus autem quibusdam et aut officiis debitis aut rerum necessitatibus saepe eveniet ut et voluptates repudiandae sint et molestiae non recusandae. Itaque earum rerum hic tenetur a sapiente delectus, ut aut reiciendis voluptatibus maiores alias consequatur aut perferendis doloribus asperiores repellat.';

const USERS = [
  { id: '1', name: 'Uri Goldshtein', username: 'urigo', birthday: 1234567890 },
  { id: '2', name: 'Dotan Simha', username: 'dotansimha', birthday: 1234567890 },
  { id: '3', name: 'Kamil Kisiela', username: 'kamilkisiela', birthday: 1234567890 },
  { id: '4', name: 'Arda Tanrikulu', username: 'ardatan', birthday: 1234567890 },
  { id: '5', name: 'Gil Gardosh', username: 'gilgardosh', birthday: 1234567890 },
  { id: '6', name: 'Laurin Quast', username: 'laurin', birthday: 1234567890 },
];

const PRODUCTS = [
  { upc: '1', name: 'Table', price: 899, weight: 100 },
  { upc: '2', name: 'Couch', price: 1299, weight: 1000 },
  { upc: '3', name: 'Glass', price: 15, weight: 20 },
  { upc: '4', name: 'Chair', price: 499, weight: 100 },
  { upc: '5', name: 'TV', price: 1299, weight: 1000 },
  { upc: '6', name: 'Lamp', price: 6999, weight: 300 },
  { upc: '7', name: 'Grill', price: 3999, weight: 2000 },
  { upc: '8', name: 'Fridge', price: 100000, weight: 6000 },
  { upc: '9', name: 'Sofa', price: 9999, weight: 800 },
];

const IN_STOCK: Record<string, boolean> = {
  '1': true,
  '2': false,
  '3': false,
  '4': false,
  '5': true,
  '6': true,
  '7': true,
  '8': false,
  '9': true,
};

const REVIEWS = [
  [LOREM, '1'],
  [SED_UT, '1'],
  [SED_QUIA, '1'],
  [UT_ENIM, '1'],
  [LOREM, '2'],
  [SED_UT, '2'],
  [SED_QUIA, '2'],
  [UT_ENIM, '2'],
  [UT_ENIM, '3'],
  [UT_ENIM, '4'],
  [AT_VERO, '4'],
].map(([body, upc], i) => ({ id: String(i + 1), body: body!, product: { upc: upc! } }));

interface SubgraphDefinition {
  name: 'accounts' | 'inventory' | 'products' | 'reviews';
  typeDefs: string;
  resolvers: GraphQLResolverMap<unknown>;
}

type Ref = Record<string, unknown>;

export const SUBGRAPHS: SubgraphDefinition[] = [
  {
    name: 'accounts',
    typeDefs: `${LINK}
      type Query { me: User  user(id: ID!): User  users: [User] }
      type User @key(fields: "id") { id: ID!  name: String  username: String @shareable  birthday: Int }`,
    resolvers: {
      Query: {
        me: () => USERS[0],
        user: (_: unknown, { id }: { id: string }) => USERS.find((u) => u.id === id) ?? null,
        users: () => USERS,
      },
      User: { __resolveReference: (ref: Ref) => USERS.find((u) => u.id === ref.id) ?? null },
    },
  },
  {
    name: 'inventory',
    typeDefs: `${LINK}
      type Product @key(fields: "upc") {
        upc: String!  weight: Int @external  price: Int @external  inStock: Boolean
        shippingEstimate: Int @requires(fields: "price weight")
      }`,
    resolvers: {
      Product: {
        __resolveReference: (ref: Ref) => ({ ...ref, inStock: IN_STOCK[ref.upc as string] ?? null }),
        shippingEstimate: (p: { price?: number | null; weight?: number | null }) => {
          if (p.price == null) return null;
          if (p.price > 1000) return 0;
          return p.weight == null ? null : Math.floor(p.weight / 2);
        },
      },
    },
  },
  {
    name: 'products',
    typeDefs: `${LINK}
      type Query { topProducts(first: Int = 5): [Product] }
      type Product @key(fields: "upc") { upc: String!  name: String  price: Int  weight: Int }`,
    resolvers: {
      Query: { topProducts: (_: unknown, { first }: { first: number }) => PRODUCTS.slice(0, first) },
      Product: { __resolveReference: (ref: Ref) => PRODUCTS.find((p) => p.upc === ref.upc) ?? null },
    },
  },
  {
    name: 'reviews',
    typeDefs: `${LINK}
      type Review @key(fields: "id") { id: ID!  body: String  product: Product  author: User @provides(fields: "username") }
      type User @key(fields: "id") { id: ID!  username: String @external  reviews: [Review] }
      type Product @key(fields: "upc") { upc: String!  reviews: [Review] }`,
    resolvers: {
      Review: {
        __resolveReference: (ref: Ref) => REVIEWS.find((r) => r.id === ref.id) ?? null,
        author: () => ({ id: '1', username: 'urigo' }),
      },
      User: {
        __resolveReference: (ref: Ref) => ({ id: ref.id }),
        reviews: () => REVIEWS.slice(0, 2),
      },
      Product: {
        __resolveReference: (ref: Ref) => ({ upc: ref.upc }),
        reviews: (p: { upc: string }) => REVIEWS.filter((r) => r.product.upc === p.upc),
      },
    },
  },
];

export type SubgraphName = SubgraphDefinition['name'];

export interface RunningSubgraphs {
  urls: Record<SubgraphName, string>;
  /** Requests served per subgraph since start. */
  counts: Record<SubgraphName, number>;
  /** TCP connections open to the four subgraphs now. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

const MAX_MEMO = 10_000;

function serve(schema: GraphQLSchema, count: () => void): Server {
  const documents = new Map<string, DocumentNode>();
  const answers = new Map<string, string>();
  const answer = async (raw: string): Promise<string> => {
    const cached = answers.get(raw);
    if (cached !== undefined) return cached;
    const body = JSON.parse(raw) as { query: string; variables?: Record<string, unknown> };
    let document = documents.get(body.query);
    if (!document) {
      document = parse(body.query);
      const errors = validate(schema, document);
      if (errors.length) return JSON.stringify({ errors });
      documents.set(body.query, document);
    }
    const result = JSON.stringify(await execute({ schema, document, variableValues: body.variables }));
    if (answers.size < MAX_MEMO) answers.set(raw, result);
    return result;
  };
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      count();
      answer(Buffer.concat(chunks).toString('utf8')).then(
        (text) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (error: unknown) => {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ message: String(error) }] }));
        },
      );
    });
  });
}

/** Starts the four subgraphs on free ports of 127.0.0.1. */
export async function startSubgraphs(): Promise<RunningSubgraphs> {
  const counts = { accounts: 0, inventory: 0, products: 0, reviews: 0 };
  const urls = {} as Record<SubgraphName, string>;
  const servers: Server[] = [];
  for (const s of SUBGRAPHS) {
    const schema = buildSubgraphSchema({ typeDefs: parse(s.typeDefs), resolvers: s.resolvers });
    const server = serve(schema, () => (counts[s.name] += 1));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls[s.name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    servers.push(server);
  }
  return {
    urls,
    counts,
    async connections() {
      const each = await Promise.all(
        servers.map(
          (server) =>
            new Promise<number>((resolve, reject) =>
              server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
            ),
        ),
      );
      return each.reduce((sum, n) => sum + n, 0);
    },
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
