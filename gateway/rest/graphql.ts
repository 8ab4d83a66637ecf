import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * The REST routes' GraphQL documents, typed from the supergraph's API schema (graphql-env.d.ts,
 * written by `npm run compose`): a route's `respond` receives exactly the shape its document
 * selects, so a field renamed or made nullable in a subgraph fails the type check here instead of
 * hiding behind a hand-written interface. Fragments are not masked: a route reads what it spreads.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true;
  scalars: { DateTime: string; JSON: unknown };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
