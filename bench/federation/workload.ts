import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { SUBGRAPHS, type SubgraphName } from './subgraphs.js';

/** The benchmark's operation: users → reviews → product → reviews → author → reviews → product, and topProducts likewise. */
export const QUERY = /* GraphQL */ `
  fragment User on User {
    id
    username
    name
  }

  fragment Review on Review {
    id
    body
  }

  fragment Product on Product {
    inStock
    name
    price
    shippingEstimate
    upc
    weight
  }

  query TestQuery {
    users {
      ...User
      reviews {
        ...Review
        product {
          ...Product
          reviews {
            ...Review
            author {
              ...User
              reviews {
                ...Review
                product {
                  ...Product
                }
              }
            }
          }
        }
      }
    }
    topProducts {
      ...Product
      reviews {
        ...Review
        author {
          ...User
          reviews {
            ...Review
            product {
              ...Product
            }
          }
        }
      }
    }
  }
`;

/** The supergraph of the four subgraphs at the given URLs (composed in JS, as scripts/compose.ts does). */
export function composeBenchSupergraph(urls: Record<SubgraphName, string>): string {
  const result = composeServices(
    SUBGRAPHS.map((s) => ({ name: s.name, url: urls[s.name], typeDefs: parse(s.typeDefs) })),
  );
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.supergraphSdl;
}
