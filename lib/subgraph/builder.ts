import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import { GraphQLError, Kind } from 'graphql';
import type { SubgraphContext } from './context.js';

export interface BuilderTypes {
  Context: SubgraphContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
}

/** Each subgraph's builder.ts calls this once, so all six share scalars and defaults. */
export function createBuilder() {
  const builder = new SchemaBuilder<BuilderTypes>({
    plugins: [DirectivesPlugin, FederationPlugin],
    defaultFieldNullability: false,
  });

  builder.scalarType('DateTime', {
    description: 'An ISO 8601 timestamp in UTC.',
    serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value).toISOString()),
    parseValue: (value) => parseDate(value),
    parseLiteral: (ast) => {
      if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be an ISO 8601 string');
      return parseDate(ast.value);
    },
  });

  builder.scalarType('JSON', {
    description: 'Any JSON value.',
    serialize: (value) => value,
    parseValue: (value) => value,
  });

  builder.queryType({});
  builder.mutationType({});
  return builder;
}

export type Builder = ReturnType<typeof createBuilder>;

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string');
  return date;
}
