import type { ApolloGateway } from '@apollo/gateway';
import type { GraphQLSchema } from 'graphql';

export interface SchemaUpdate {
  apiSchema: GraphQLSchema;
  coreSupergraphSdl: string;
}

export interface SchemaFeed {
  current(): SchemaUpdate | undefined;
  /** Every later update; `first` is true for the one that loaded the schema. */
  listen(listener: (update: SchemaUpdate, first: boolean) => void): void;
}

/**
 * Registered before the gateway loads (onSchemaLoadOrUpdate does not replay the load), so the
 * real-time server built after Apollo starts still sees the first schema and every reload.
 */
export function trackSchema(gateway: ApolloGateway): SchemaFeed {
  let current: SchemaUpdate | undefined;
  const listeners: Array<(update: SchemaUpdate, first: boolean) => void> = [];
  gateway.onSchemaLoadOrUpdate((update) => {
    const first = current === undefined;
    current = update;
    for (const listener of listeners) listener(update, first);
  });
  return {
    current: () => current,
    listen(listener) {
      listeners.push(listener);
      if (current) listener(current, true);
    },
  };
}
