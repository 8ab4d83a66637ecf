import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import { operationFromDocument, Supergraph, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  print,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { mapIterator } from '../../lib/realtime/bounded-queue.js';
import type { GatewayContext } from '../context.js';

/**
 * Federated subscriptions: @apollo/gateway plans subscriptions but does not run them. The
 * planner's SubscriptionNode names a primary fetch (the subscription, sent to the subgraph that
 * owns the field) and the rest of the plan (entity fetches to other subgraphs). Every event the
 * owning subgraph sends is run through the gateway's own executeQueryPlan as
 * Sequence[primary answered by the event, rest], so entity resolution and result shaping are the
 * gateway's code, not a copy of it.
 */

/** Opens the primary subscription on the owning subgraph; yields its raw results. */
export type SubscriptionSource = (args: {
  serviceName: string;
  operation: string;
  operationName: string | undefined;
  variables: Record<string, unknown>;
  context: GatewayContext;
}) => Promise<AsyncIterator<ExecutionResult> | ExecutionResult>;

interface PlannerState {
  supergraphSchema: GraphQLSchema;
  apiSchema: Schema;
  /** The gateway's API schema as graphql-js sees it (validation, operation context). */
  schema: GraphQLSchema;
  planner: QueryPlanner;
  dataSources: Record<string, GraphQLDataSource<GatewayContext>>;
}

/** The one name no subgraph can have: the primary fetch is answered by the event in hand. */
const EVENT_SOURCE = '__subscription_event__';

export interface FederatedSubscriber {
  /** Called from gateway.onSchemaLoadOrUpdate with the new supergraph. */
  update(args: { apiSchema: GraphQLSchema; coreSupergraphSdl: string }): void;
  schema(): GraphQLSchema;
  subscribe(args: {
    document: DocumentNode;
    operationName?: string | null;
    variables: Record<string, unknown>;
    context: GatewayContext;
  }): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
}

export function createFederatedSubscriber(options: {
  /** The gateway's own data-source factory: entity fetches go out exactly as for queries. */
  buildService: (args: { name: string; url?: string }) => GraphQLDataSource<GatewayContext>;
  source: SubscriptionSource;
  logger: Logger;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}): FederatedSubscriber {
  let state: PlannerState | undefined;
  const plans = new Map<string, QueryPlan>();
  const MAX_PLANS = 500;

  const failure = (error: AppError): ExecutionResult => ({ errors: [error.toGraphQLError()] });

  return {
    update({ apiSchema, coreSupergraphSdl }) {
      const supergraph = Supergraph.build(coreSupergraphSdl);
      const dataSources: Record<string, GraphQLDataSource<GatewayContext>> = {};
      for (const subgraph of supergraph.subgraphs().values()) {
        dataSources[subgraph.name] = options.buildService({ name: subgraph.name, url: subgraph.url });
      }
      state = {
        dataSources,
        supergraphSchema: supergraph.schema.toGraphQLJSSchema(),
        apiSchema: supergraph.apiSchema(),
        schema: apiSchema,
        planner: new QueryPlanner(supergraph),
      };
      plans.clear();
    },
    schema() {
      if (!state) throw new AppError('SERVICE_UNAVAILABLE', 'The gateway has no schema yet');
      return state.schema;
    },
    async subscribe({ document, operationName, variables, context }) {
      const current = state;
      if (!current) return failure(new AppError('SERVICE_UNAVAILABLE', 'The gateway has no schema yet'));
      const operationContext = buildOperationContext({
        schema: current.schema,
        operationDocument: document,
        operationName: operationName ?? undefined,
      });
      // Thousands of subscribers usually send a handful of documents: each is planned once.
      const planKey = `${operationName ?? ''}\n${print(document)}`;
      let plan = plans.get(planKey);
      if (!plan) {
        const operation = operationFromDocument(current.apiSchema, document, {
          operationName: operationName ?? undefined,
        });
        plan = current.planner.buildQueryPlan(operation);
        if (plans.size >= MAX_PLANS) plans.delete(plans.keys().next().value!);
        plans.set(planKey, plan);
      }
      const node = plan.node;
      if (node?.kind !== 'Subscription') {
        return failure(new AppError('VALIDATION_ERROR', 'Only subscription operations are streamed here'));
      }
      const primary = node.primary;
      const primaryVariables = Object.fromEntries(
        (primary.variableUsages ?? []).filter((name) => name in variables).map((name) => [name, variables[name]]),
      );
      const opened = await options.source({
        serviceName: primary.serviceName,
        operation: primary.operation,
        operationName: primary.operationName,
        variables: primaryVariables,
        context,
      });
      if (!('next' in opened)) return formatResult(opened);

      const eventPlan: QueryPlan = {
        kind: 'QueryPlan',
        node: sequence({ ...primary, serviceName: EVENT_SOURCE }, node.rest),
      };
      const requestContext = {
        request: { query: undefined, variables, operationName: operationName ?? undefined },
        document,
        context,
        logger: context.logger,
        metrics: {},
        cache: undefined,
        overallCachePolicy: undefined,
      } as unknown as GatewayGraphQLRequestContext<GatewayContext>;

      const resolveEvent = async (event: ExecutionResult): Promise<ExecutionResult> => {
        if (!event.data) return formatResult(event);
        // No entity fetches: the subgraph's answer is already the selection; only shaping is needed,
        // which executeQueryPlan still does (aliases, __typename, @skip on the gateway side).
        const eventSource: GraphQLDataSource<GatewayContext> = { process: async () => event as never };
        const serviceMap: ServiceMap = { ...current.dataSources, [EVENT_SOURCE]: eventSource };
        const result = await executeQueryPlan(
          eventPlan,
          serviceMap,
          requestContext,
          operationContext,
          current.supergraphSchema,
          current.apiSchema,
        );
        return formatResult(result as ExecutionResult);
      };

      // Events are resolved one after another, so a subscriber sees them in publication order.
      const iterator = opened as AsyncIterator<ExecutionResult>;
      let pending: Promise<unknown> = Promise.resolve();
      const resolved = mapIterator(iterator, (event) => {
        const next = pending.then(() => resolveEvent(event));
        pending = next.catch(() => undefined);
        return next;
      });
      return mapAwaited(resolved);
    },
  };

  function formatResult(result: ExecutionResult): ExecutionResult {
    if (!result.errors?.length) return result;
    return {
      ...result,
      errors: result.errors.map((error) => {
        const formatted = options.formatError(
          error instanceof GraphQLError ? error.toJSON() : (error as GraphQLFormattedError),
          error,
        );
        return new GraphQLError(formatted.message, {
          path: formatted.path,
          extensions: formatted.extensions,
        });
      }),
    };
  }
}

function sequence(primary: FetchNode, rest: PlanNode | undefined): PlanNode {
  return rest ? { kind: 'Sequence', nodes: [primary, rest] } : primary;
}

/** An iterator of promises as an iterator of values. */
function mapAwaited<T>(source: AsyncIterableIterator<Promise<T>>): AsyncIterableIterator<T> {
  const awaited: AsyncIterableIterator<T> = {
    async next() {
      const result = await source.next();
      return result.done ? { value: undefined, done: true } : { value: await result.value, done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return awaited;
    },
  };
  return awaited;
}
