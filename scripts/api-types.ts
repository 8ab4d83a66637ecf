import { Supergraph } from '@apollo/federation-internals';
import { minifyIntrospection, outputIntrospectionFile } from '@gql.tada/internal';
import { introspectionFromSchema } from 'graphql';

/**
 * The supergraph's API schema (what callers see: no join__/link__ machinery) as the introspection
 * type gql.tada reads, so every REST route's GraphQL document is typed from the schema itself
 * (gateway/rest/graphql.ts). Written by `npm run compose`; test/schema-drift.test.ts checks it.
 */
export function printApiIntrospection(supergraphSdl: string): string {
  const api = Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
  const introspection = minifyIntrospection(introspectionFromSchema(api, { descriptions: false }));
  return outputIntrospectionFile(introspection, { fileType: '.d.ts', shouldPreprocess: true });
}
