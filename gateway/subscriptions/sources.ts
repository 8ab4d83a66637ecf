import { parse, subscribe, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { newId } from '../../lib/ids.js';
import { createBoundedQueue } from '../../lib/realtime/bounded-queue.js';
import { takeDeliveryReceipt } from '../../lib/realtime/receipts.js';
import { createErrorMasker } from '../../lib/graphql-errors.js';
import type { SubgraphName } from '../../lib/env.js';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { GATEWAY_PRINCIPAL, NO_CLIENT, PRINCIPAL_HEADER, signPrincipal } from '../../lib/principal.js';
import type { SubgraphService } from '../../lib/subgraph/service.js';
import type { SubscriptionSource } from './federated.js';

/**
 * Embedded transport: the owning subgraph's schema in this process. Its context is built from a
 * signed principal by the subgraph's own code, as for its queries (the trust boundary is the same).
 */
export function createInProcessSource(options: {
  services: Partial<Record<SubgraphName, SubgraphService>>;
  signingSecret: string;
  logger: Logger;
}): SubscriptionSource {
  const masker = createErrorMasker(options.logger);
  return async ({ serviceName, operation, variables, context }) => {
    const service = options.services[serviceName as SubgraphName];
    if (!service) throw new AppError('SERVICE_UNAVAILABLE', `The ${serviceName} service is not in this process`);
    const signed = signPrincipal(
      context.principal,
      context.requestId,
      options.signingSecret,
      Date.now(),
      context.client ?? NO_CLIENT,
    );
    const contextValue = await service.contextFromHeaders({ [PRINCIPAL_HEADER]: signed });
    const result = await subscribe({
      schema: service.schema,
      document: parse(operation),
      variableValues: variables,
      contextValue,
    });
    // The subgraph's own masking, as its Apollo Server would apply over HTTP.
    const mask = (value: ExecutionResult): ExecutionResult => {
      // A receipt the resolver set for this event travels with it, as over graphql-ws.
      const receipt = takeDeliveryReceipt(contextValue);
      const withReceipt = receipt ? { ...value, extensions: { ...value.extensions, deliveryReceipt: receipt } } : value;
      return withReceipt.errors?.length
        ? { ...withReceipt, errors: withReceipt.errors.map((error) => masker(error.toJSON(), error) as never) }
        : withReceipt;
    };
    if (!(Symbol.asyncIterator in result)) return mask(result);
    const iterator = result[Symbol.asyncIterator]();
    return {
      next: async () => {
        const step = await iterator.next();
        return step.done ? step : { value: mask(step.value), done: false };
      },
      return: async () => {
        await iterator.return?.();
        return { value: undefined, done: true };
      },
    };
  };
}

/** In-process subgraphs by their schema; the others over graphql-ws at their URL. */
export function createSubscriptionSource(options: {
  inProcess: Partial<Record<SubgraphName, SubgraphService>>;
  urls: Partial<Record<SubgraphName, string>>;
  signingSecret: string;
  logger: Logger;
}): SubscriptionSource & { close(): Promise<void> } {
  const remote = createRemoteSource(options);
  const local = createInProcessSource({
    services: options.inProcess,
    signingSecret: options.signingSecret,
    logger: options.logger,
  });
  const source: SubscriptionSource = async (args) =>
    options.inProcess[args.serviceName as SubgraphName] ? local(args) : remote(args);
  return Object.assign(source, { close: () => remote.close() });
}

/**
 * Production transport: one graphql-ws connection per subgraph, shared by every subscriber of
 * this gateway; each subscribe carries its caller's signed principal in `extensions`. Events land
 * in the subscriber's bounded queue (drop oldest), so a slow subscriber never grows memory.
 */
export function createRemoteSource(options: {
  urls: Partial<Record<SubgraphName, string>>;
  signingSecret: string;
  logger: Logger;
}): SubscriptionSource & { close(): Promise<void> } {
  const clients = new Map<string, Client>();
  const clientFor = (serviceName: string): Client => {
    let client = clients.get(serviceName);
    if (client) return client;
    const url = options.urls[serviceName as SubgraphName];
    if (!url) throw new AppError('SERVICE_UNAVAILABLE', `No URL for the ${serviceName} service`);
    client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      // Only the gateway may connect: a fresh signature of its own principal on every (re)connect.
      connectionParams: () => ({
        [PRINCIPAL_HEADER]: signPrincipal(GATEWAY_PRINCIPAL, newId('rt'), options.signingSecret),
      }),
      keepAlive: 12_000,
      // On a reconnect graphql-ws resends open subscriptions; one whose signature has aged out
      // (5 minutes) is refused by the subgraph and its subscriber gets SERVICE_UNAVAILABLE.
      retryAttempts: 3,
    });
    clients.set(serviceName, client);
    return client;
  };
  const source: SubscriptionSource = async ({ serviceName, operation, operationName, variables, context }) => {
    const client = clientFor(serviceName);
    const signed = signPrincipal(
      context.principal,
      context.requestId,
      options.signingSecret,
      Date.now(),
      context.client ?? NO_CLIENT,
    );
    const upstream: { dispose?: () => void } = {};
    const queue = createBoundedQueue<ExecutionResult>({ onClose: () => upstream.dispose?.() });
    upstream.dispose = client.subscribe(
      {
        query: operation,
        variables,
        ...(operationName ? { operationName } : {}),
        extensions: { [PRINCIPAL_HEADER]: signed },
      },
      {
        next: (value) => queue.push(value as ExecutionResult),
        error: (error) => {
          options.logger.warn({ err: error, serviceName }, 'subgraph subscription failed');
          queue.push({
            errors: [
              new AppError('SERVICE_UNAVAILABLE', `The ${serviceName} service ended the subscription`).toGraphQLError(),
            ],
          });
          queue.end();
        },
        complete: () => queue.end(),
      },
    );
    return queue;
  };
  return Object.assign(source, {
    async close() {
      await Promise.all([...clients.values()].map((client) => client.dispose()));
      clients.clear();
    },
  });
}
