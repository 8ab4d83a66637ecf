import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import { operationFromDocument, Supergraph, type Schema } from '@apollo/federation-internals';
import {
  QueryPlanner,
  type FetchNode,
  type PlanNode,
  type QueryPlan,
  type SubscriptionNode,
} from '@apollo/query-planner';
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
import type { Principal } from '../../lib/principal.js';
import type { DeliveryReceipt } from '../../lib/realtime/receipts.js';
import {
  createBoundedQueue,
  createBoundedSink,
  type BoundedQueue,
  type BoundedSink,
  type SinkWrite,
} from '../../lib/realtime/bounded-queue.js';
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
    /** How the subscriber is connected (reported with delivery receipts). */
    transport?: string;
    /**
     * Writes each result, serialized (`JSON.stringify(result)`, once per event for the whole group),
     * straight to the subscriber's transport. The iterator returned then yields nothing and ends
     * when the subscription does; without it, results are yielded.
     */
    write?: SinkWrite;
  }): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
  /** Shared upstreams and how many resolved events they fanned out (the bench reports these). */
  stats(): { groups: number; members: number; events: number; deliveries: number; lastEvent: EventTiming | null };
}

/** Where the last event's time went on this gateway, before the transports' own sending. */
export interface EventTiming {
  members: number;
  /** executeQueryPlan and error formatting, once for the group. */
  resolveMs: number;
  /** JSON.stringify of the result, once for the group (0 when no member writes serialized). */
  serializeMs: number;
  /** Handing the result to every member: for written members this includes the socket writes. */
  fanoutMs: number;
  /** CPU time (user + system) of that hand-off: less than fanoutMs when the process waited for a core. */
  fanoutCpuMs: number;
}

/**
 * What a subgraph attaches to an event (`extensions.deliveryReceipt`) when its publisher wants to
 * know how many subscribers the event reached (broadcasts): the gateway reports its local count.
 */
export interface DeliveryCount {
  delivered: number;
  failed: number;
  transports: string[];
}

/** A subscriber reads results from a bounded queue, or is written to through a bounded sink. */
type Member =
  | { transport: string; queue: BoundedQueue<ExecutionResult>; sink?: undefined }
  | { transport: string; sink: BoundedSink; queue?: undefined };

interface Group {
  members: Set<Member>;
  /** The last member left (or the upstream ended): no one may join any more. */
  finished: boolean;
  join(transport: string, write?: SinkWrite): AsyncIterableIterator<ExecutionResult>;
}

export function createFederatedSubscriber(options: {
  /** The gateway's own data-source factory: entity fetches go out exactly as for queries. */
  buildService: (args: { name: string; url?: string }) => GraphQLDataSource<GatewayContext>;
  source: SubscriptionSource;
  logger: Logger;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** false: every subscription resolves each event itself (the benchmark's baseline). Default true. */
  share?: boolean;
  /** Called once per resolved event that carries a delivery receipt, with this gateway's count. */
  onDelivered?: (receipt: DeliveryReceipt, count: DeliveryCount) => void;
}): FederatedSubscriber {
  let state: PlannerState | undefined;
  const plans = new Map<string, QueryPlan>();
  const MAX_PLANS = 500;
  const groups = new Map<string, Promise<Group | ExecutionResult>>();
  const groupStats = { events: 0, deliveries: 0, lastEvent: null as EventTiming | null };
  const live = new Set<Group>();
  let unshared = 0;

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
    stats() {
      let members = 0;
      for (const group of live) members += group.members.size;
      return { groups: live.size, members, ...groupStats };
    },
    schema() {
      if (!state) throw new AppError('SERVICE_UNAVAILABLE', 'The gateway has no schema yet');
      return state.schema;
    },
    async subscribe({ document, operationName, variables, context, transport, write }) {
      const current = state;
      if (!current) return failure(new AppError('SERVICE_UNAVAILABLE', 'The gateway has no schema yet'));
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
      // Identical subscriptions (same plan, variables and principal) share one upstream and one
      // resolution per event: the subgraph and executeQueryPlan run once, not once per subscriber.
      const key =
        options.share === false
          ? `own:${(unshared += 1)}`
          : `${planKey}\n${stableJson(variables)}\n${principalKey(context.principal)}`;
      for (;;) {
        let opening = groups.get(key);
        if (!opening) {
          opening = openGroup(current, key, node, document, operationName, variables, context);
          groups.set(key, opening);
          opening.then(
            (opened) => {
              if (!('members' in opened) && groups.get(key) === opening) groups.delete(key);
            },
            () => {
              if (groups.get(key) === opening) groups.delete(key);
            },
          );
        }
        const opened = await opening;
        if (!('members' in opened)) return opened;
        // A group whose last member left while this caller waited is gone: open a new one.
        if (opened.finished) {
          if (groups.get(key) === opening) groups.delete(key);
          continue;
        }
        return opened.join(transport ?? 'ws', write);
      }
    },
  };

  async function openGroup(
    current: PlannerState,
    key: string,
    node: SubscriptionNode,
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Record<string, unknown>,
    context: GatewayContext,
  ): Promise<Group | ExecutionResult> {
    const operationContext = buildOperationContext({
      schema: current.schema,
      operationDocument: document,
      operationName: operationName ?? undefined,
    });
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
      if (!event.data) return formatResult({ errors: event.errors });
      // No entity fetches: the subgraph's answer is already the selection; only shaping is needed,
      // which executeQueryPlan still does (aliases, __typename, @skip on the gateway side).
      const eventSource: GraphQLDataSource<GatewayContext> = {
        process: async () => ({ data: event.data, errors: event.errors }) as never,
      };
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

    const upstream = opened as AsyncIterator<ExecutionResult>;
    const members = new Set<Member>();
    // Members per transport, kept on join and leave: the receipt names the transports reached
    // without a pass over thousands of members per event.
    const transports = new Map<string, number>();
    let writers = 0;
    const group: Group = {
      members,
      finished: false,
      join(transport, write) {
        const leave = () => {
          if (!members.delete(member)) return;
          const left = (transports.get(transport) ?? 1) - 1;
          if (left === 0) transports.delete(transport);
          else transports.set(transport, left);
          if (member.sink) writers -= 1;
          if (members.size === 0) stop();
        };
        const member: Member = write
          ? { transport, sink: createBoundedSink({ write, onClose: leave }) }
          : { transport, queue: createBoundedQueue<ExecutionResult>({ onClose: leave }) };
        members.add(member);
        transports.set(transport, (transports.get(transport) ?? 0) + 1);
        if (member.sink) writers += 1;
        return member.sink ?? member.queue;
      },
    };
    live.add(group);
    const stop = () => {
      if (group.finished) return;
      group.finished = true;
      live.delete(group);
      if (groups.get(key) !== undefined) groups.delete(key);
      void Promise.resolve(upstream.return?.()).catch(() => undefined);
    };
    // Hands one result to every member: serialized once for all members that are written to
    // (each transport frames the same string), as the object itself to those that read it.
    const fanOut = (result: ExecutionResult): { delivered: number; serializeMs: number } => {
      let serializeMs = 0;
      let payload = '';
      if (writers > 0) {
        const started = performance.now();
        payload = JSON.stringify(result);
        serializeMs = performance.now() - started;
      }
      let delivered = 0;
      for (const member of members) {
        if (member.sink) member.sink.push(payload);
        else member.queue.push(result);
        delivered += 1;
      }
      return { delivered, serializeMs };
    };
    const endAll = () => {
      for (const member of [...members]) (member.sink ?? member.queue).end();
    };
    // One pump per group: events are resolved one after another, in publication order, and the
    // single result is handed to every member (drop oldest for a slow one, in its queue or sink).
    void (async () => {
      try {
        for (;;) {
          const step = await upstream.next();
          if (step.done || group.finished) break;
          const event = step.value;
          let result: ExecutionResult;
          let failed = false;
          const started = performance.now();
          try {
            result = await resolveEvent(event);
          } catch (error) {
            failed = true;
            options.logger.error({ err: error }, 'resolving a subscription event failed');
            result = { errors: [new AppError('INTERNAL_ERROR', 'Internal server error').toGraphQLError()] };
          }
          const resolved = performance.now();
          const cpu = process.cpuUsage();
          const reached = [...transports.keys()];
          const { delivered, serializeMs } = fanOut(result);
          const used = process.cpuUsage(cpu);
          groupStats.lastEvent = {
            members: delivered,
            resolveMs: resolved - started,
            serializeMs,
            fanoutMs: performance.now() - resolved - serializeMs,
            fanoutCpuMs: (used.user + used.system) / 1000,
          };
          groupStats.events += 1;
          groupStats.deliveries += delivered;
          const receipt = readReceipt(event);
          if (receipt) {
            options.onDelivered?.(receipt, {
              delivered: failed ? 0 : delivered,
              failed: failed ? delivered : 0,
              transports: reached,
            });
          }
        }
        endAll();
      } catch (error) {
        options.logger.warn({ err: error }, 'subscription upstream failed');
        fanOut({
          errors: [new AppError('SERVICE_UNAVAILABLE', 'The subscription source failed').toGraphQLError()],
        });
        endAll();
      } finally {
        stop();
      }
    })();
    return group;
  }

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

/** JSON with sorted keys: equal values give equal strings whatever the key order. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

/**
 * Principals that see exactly the same events: everything a subgraph may read from the principal
 * (who, which tenant and project, roles and scopes). Sessions of one user or key share; no two
 * callers whose visibility could differ ever do.
 */
function principalKey(principal: Principal | null): string {
  if (!principal) return 'anonymous';
  return stableJson({
    ...principal,
    roles: [...principal.roles].sort(),
    scopes: [...principal.scopes].sort(),
  });
}

function readReceipt(event: ExecutionResult): DeliveryReceipt | null {
  const receipt = event.extensions?.deliveryReceipt as Partial<DeliveryReceipt> | undefined;
  if (!receipt || typeof receipt.channel !== 'string' || typeof receipt.eventId !== 'string') return null;
  return { channel: receipt.channel, eventId: receipt.eventId };
}
