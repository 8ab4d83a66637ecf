import { parse, subscribe, type ExecutionResult } from 'graphql';
import { createErrorMasker } from '../../lib/graphql-errors.js';
import type { SubgraphName } from '../../lib/env.js';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { NO_CLIENT, PRINCIPAL_HEADER, signPrincipal } from '../../lib/principal.js';
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
    const mask = (value: ExecutionResult): ExecutionResult =>
      value.errors?.length
        ? { ...value, errors: value.errors.map((error) => masker(error.toJSON(), error) as never) }
        : value;
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
}): SubscriptionSource {
  const local = createInProcessSource({
    services: options.inProcess,
    signingSecret: options.signingSecret,
    logger: options.logger,
  });
  return async (args) => {
    if (options.inProcess[args.serviceName as SubgraphName]) return local(args);
    throw new AppError('SERVICE_UNAVAILABLE', `Subscriptions to the ${args.serviceName} service are not reachable`);
  };
}
