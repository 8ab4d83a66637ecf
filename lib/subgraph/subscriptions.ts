import type { Server } from 'node:http';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { PRINCIPAL_HEADER } from '../principal.js';
import { takeDeliveryReceipt } from '../realtime/receipts.js';
import type { SubgraphService } from './service.js';

/**
 * A subgraph's own subscriptions over graphql-ws, for a gateway in another process. Only the
 * gateway may connect: connection_init and every subscribe carry a principal signed with the
 * internal secret (the subscribe's own, in `extensions`), verified by the same code as HTTP.
 */
export function serveSubgraphSubscriptions(options: {
  server: Server;
  service: Pick<SubgraphService, 'schema' | 'contextFromHeaders'>;
  logger: Logger;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}): { close(): Promise<void> } {
  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: 256 * 1024 });
  const signed = (value: unknown) => ({ [PRINCIPAL_HEADER]: typeof value === 'string' ? value : undefined });
  const disposable = useServer(
    {
      schema: options.service.schema,
      onConnect: async (ctx) => {
        try {
          await options.service.contextFromHeaders(signed(ctx.connectionParams?.[PRINCIPAL_HEADER]));
          return true;
        } catch {
          return false;
        }
      },
      context: (_ctx, _id, payload) =>
        options.service.contextFromHeaders(signed(payload.extensions?.[PRINCIPAL_HEADER])),
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => options.formatError(error.toJSON(), error)),
      onNext: (_ctx, _id, _payload, args, result) => {
        // A delivery receipt set by the resolver (broadcasts) goes to the gateway in `extensions`.
        const receipt = takeDeliveryReceipt(args.contextValue);
        if (!receipt && !result.errors?.length) return undefined;
        return {
          ...result,
          ...(receipt ? { extensions: { ...result.extensions, deliveryReceipt: receipt } } : {}),
          ...(result.errors?.length
            ? {
                errors: result.errors.map((error) =>
                  options.formatError(error instanceof GraphQLError ? error.toJSON() : error, error),
                ),
              }
            : {}),
        };
      },
    },
    wss,
    12_000,
  );
  return {
    async close() {
      await disposable.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
