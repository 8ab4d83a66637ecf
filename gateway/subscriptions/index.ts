import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import type { GraphQLDataSource } from '@apollo/gateway';
import {
  GraphQLError,
  getOperationAST,
  print,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GraphQLLimits } from '../../lib/env.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import type { ClientInfo } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import type { SinkWrite } from '../../lib/realtime/bounded-queue.js';
import { publishDeliveryCount } from '../../lib/realtime/receipts.js';
import type { GatewayContext } from '../context.js';
import type { Authenticate } from '../pipeline/authenticate.js';
import { checkIntrospectionAllowed, checkOperationLimits } from '../plugins/operation-limits.js';
import type { SchemaFeed } from './schema-feed.js';
import { createFederatedSubscriber, type FederatedSubscriber, type SubscriptionSource } from './federated.js';
import {
  CLOSE_REASONS,
  createSessionRegistry,
  DEFAULT_SUBSCRIPTION_LIMITS,
  type CloseReason,
  type Session,
  type SessionRegistry,
  type StandingKeys,
  type SubscriptionLimits,
} from './sessions.js';

export { CLOSE_REASONS, DEFAULT_SUBSCRIPTION_LIMITS, type SubscriptionLimits } from './sessions.js';

/**
 * Real time on /graphql: graphql-ws (`graphql-transport-ws`) over WebSocket upgrades and GraphQL
 * over SSE (distinct connections mode) on requests that accept `text/event-stream`. Both
 * authenticate with the gateway's own authenticator, share one session registry (limits, close
 * reasons) and run subscriptions through the federated subscriber.
 */
export interface RealtimeServer {
  federated: FederatedSubscriber;
  sessions: SessionRegistry;
  /** Takes a WebSocket upgrade to /graphql (graphql-ws); false for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Whether a /graphql request asks for GraphQL over SSE (GET or POST accepting text/event-stream). */
  isSse(req: IncomingMessage): boolean;
  /** Answers an SSE request to /graphql; false when the request is not one (plain HTTP GraphQL). */
  handleSse(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<boolean>;
  close(): Promise<void>;
}

const MAX_SSE_BODY_BYTES = 64 * 1024;
const SSE_PING_MS = 12_000;

export async function createRealtimeServer(options: {
  apollo: ApolloServer<GatewayContext>;
  buildService: (args: { name: string; url?: string }) => GraphQLDataSource<GatewayContext>;
  source: SubscriptionSource & { close?(): Promise<void> };
  authenticate: Authenticate;
  standingKeys?: StandingKeys;
  kv: Kv;
  logger: Logger;
  graphqlLimits: GraphQLLimits;
  clientIp: (req: IncomingMessage) => string;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  limits?: Partial<SubscriptionLimits>;
  schemaFeed: SchemaFeed;
}): Promise<RealtimeServer> {
  const logger = options.logger.child({ component: 'realtime' });
  const limits: SubscriptionLimits = { ...DEFAULT_SUBSCRIPTION_LIMITS, ...options.limits };
  // Subscription events are written to each socket or SSE response directly (one serialization
  // per shared group, framed per subscriber): while a frame's write is in flight further events
  // wait in the subscriber's bounded sink (drop oldest, counted), never in unbounded buffers.
  // This gateway's name in delivery counts (broadcast receipts are summed over gateways).
  const gatewayId = newId('gw', 10);
  const federated = createFederatedSubscriber({
    buildService: options.buildService,
    source: options.source,
    logger,
    formatError: options.formatError,
    share: limits.shareIdentical,
    onDelivered: (receipt, count) => {
      publishDeliveryCount(options.kv, receipt.channel, {
        eventId: receipt.eventId,
        gateway: gatewayId,
        ...count,
      }).catch((error: unknown) => logger.warn({ err: error }, 'publishing a delivery count failed'));
    },
  });
  const sessions = await createSessionRegistry({
    authenticate: options.authenticate,
    standingKeys: options.standingKeys,
    kv: options.kv,
    logger,
    limits,
  });
  // A reload ends every session: their operations were planned and validated against the old schema.
  options.schemaFeed.listen((update, first) => {
    federated.update(update);
    if (!first) sessions.endAll('SCHEMA_RELOADED');
  });

  interface Prepared {
    document: DocumentNode;
    operationName: string | undefined;
    variables: Record<string, unknown>;
    context: GatewayContext;
    kind: 'query' | 'mutation' | 'subscription';
    transport: Session['transport'];
    /** Writes a subscription's serialized results straight to the transport (graphql-ws: nextFramePrefix). */
    write?: SinkWrite;
  }

  /** The same checks as HTTP /graphql: operation limits, introspection, validation; then a slot. */
  const prepare = (
    session: Session,
    id: string,
    payload: { query?: unknown; variables?: unknown; operationName?: unknown },
    client: ClientInfo,
  ): Prepared => {
    if (typeof payload.query !== 'string' || payload.query.trim() === '') {
      throw new AppError('VALIDATION_ERROR', 'query must be a GraphQL document');
    }
    const checked = checkOperationLimits(payload.query, options.graphqlLimits);
    if (!checked) throw new AppError('VALIDATION_ERROR', 'The document does not parse');
    if (checked.usesIntrospection) checkIntrospectionAllowed(options.graphqlLimits.schemaVisibility, session.principal);
    const schema = federated.schema();
    const errors = validate(schema, checked.document);
    if (errors.length > 0) {
      throw new AppError('VALIDATION_ERROR', errors.map((e) => e.message).join('; '));
    }
    const operationName = typeof payload.operationName === 'string' ? payload.operationName : undefined;
    const operation = getOperationAST(checked.document, operationName);
    if (!operation) throw new AppError('VALIDATION_ERROR', 'No operation to run (name it with operationName)');
    const variables =
      payload.variables && typeof payload.variables === 'object' ? (payload.variables as Record<string, unknown>) : {};
    sessions.acquire(session, id);
    const requestId = newId('req', 12);
    return {
      document: checked.document,
      operationName,
      variables,
      kind: operation.operation as Prepared['kind'],
      transport: session.transport,
      context: { requestId, principal: session.principal, client, logger: logger.child({ requestId }) },
    };
  };

  /** Queries and mutations sent on a real-time connection run like any HTTP operation. */
  const executeOnce = async (prepared: Prepared): Promise<ExecutionResult> => {
    const response = await options.apollo.executeOperation(
      { query: print(prepared.document), variables: prepared.variables, operationName: prepared.operationName },
      { contextValue: prepared.context },
    );
    if (response.body.kind !== 'single') throw new Error('Incremental delivery is not supported here');
    return response.body.singleResult as ExecutionResult;
  };

  const run = (prepared: Prepared) =>
    prepared.kind === 'subscription'
      ? federated.subscribe({
          document: prepared.document,
          operationName: prepared.operationName,
          variables: prepared.variables,
          context: prepared.context,
          transport: prepared.transport,
          write: prepared.write,
        })
      : executeOnce(prepared);

  // ---- graphql-ws -------------------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  // A type, not an interface: graphql-ws wants it assignable to Record<PropertyKey, unknown>.
  type Extra = { session?: Session; client?: ClientInfo };
  const wsServer = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema: () => federated.schema(),
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        try {
          const session = await sessions.open({
            headers: credentialHeaders(ctx.connectionParams, ctx.extra.request.headers),
            transport: 'ws',
            end: (reason) => socket.close(CLOSE_REASONS[reason].code, CLOSE_REASONS[reason].reason),
          });
          ctx.extra.session = session;
          ctx.extra.client = {
            ip: options.clientIp(ctx.extra.request),
            userAgent: ctx.extra.request.headers['user-agent'] ?? null,
          };
          return { session: session.id };
        } catch (error) {
          const { code, reason } = refusal(error);
          socket.close(code, reason);
          return false;
        }
      },
      onSubscribe: (ctx, id, payload) => {
        const session = ctx.extra.session;
        if (!session) return [new AppError('UNAUTHORIZED', 'Not connected').toGraphQLError()];
        try {
          const prepared = prepare(session, id, payload, ctx.extra.client!);
          const socket = ctx.extra.socket;
          const prefix = nextFramePrefix(id);
          // graphql-ws would build and stringify this frame per socket and await its write through
          // a promise chain; the same bytes, with the group's one serialization. Once the client
          // completes the id (or the socket closes) nothing more is sent for it.
          prepared.write = (payload, written) => {
            if (socket.readyState !== socket.OPEN || !(id in ctx.subscriptions)) return written();
            socket.send(prefix + payload + '}', written);
          };
          return {
            schema: federated.schema(),
            document: prepared.document,
            operationName: prepared.operationName,
            variableValues: prepared.variables,
            contextValue: prepared,
          } satisfies ExecutionArgs;
        } catch (error) {
          return [asGraphQLError(error, logger)];
        }
      },
      subscribe: (args) => run(args.contextValue as Prepared),
      execute: (args) => run(args.contextValue as Prepared),
      onComplete: (ctx, id) => {
        if (ctx.extra.session) sessions.release(ctx.extra.session, id);
      },
      onClose: (ctx) => {
        if (ctx.extra.session) sessions.close(ctx.extra.session);
      },
    },
    wss,
    limits.keepAliveMs,
  );

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const { pathname } = new URL(`http://localhost${req.url ?? '/'}`);
    if (pathname !== '/graphql') return false;
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => wss.emit('connection', ws, req));
    return true;
  };

  // ---- GraphQL over SSE (distinct connections) ----------------------------------------------
  const openStreams = new Set<ServerResponse>();
  const handleSse = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<boolean> => {
    if (!isSse(req)) return false;
    let endedBy: CloseReason | null = null;
    let wake: (() => void) | null = null;
    let session: Session;
    try {
      session = await sessions.open({
        headers: req.headers,
        transport: 'sse',
        end: (reason) => {
          endedBy = reason;
          wake?.();
        },
      });
    } catch (error) {
      const graphqlError = asGraphQLError(error, logger);
      const status = error instanceof AppError ? error.status : 500;
      res
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify({ errors: [graphqlError.toJSON()] }));
      return true;
    }
    const id = 'sse';
    let iterator: AsyncIterator<ExecutionResult> | undefined;
    const gone = new Promise<void>((resolve) => res.on('close', () => resolve()));
    let clientGone = false;
    void gone.then(() => {
      clientGone = true;
      wake?.();
    });
    const write = async (chunk: string) => {
      if (clientGone) return;
      if (!res.write(chunk)) await Promise.race([new Promise((r) => res.once('drain', r)), gone]);
    };
    const next = (result: ExecutionResult | { errors: GraphQLFormattedError[] }) =>
      write(`event: next\ndata: ${JSON.stringify(result)}\n\n`);
    // Subscription events: the group's serialized result, written as it comes; the sink holds the
    // next ones (bounded) until the response drains.
    const writeEvent: SinkWrite = (payload, written) => {
      if (clientGone) return written();
      if (res.write(`event: next\ndata: ${payload}\n\n`)) written();
      else res.once('drain', written);
    };

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': requestId,
    });
    res.flushHeaders();
    openStreams.add(res);
    const ping = setInterval(() => void write(':\n\n'), SSE_PING_MS);
    try {
      await write(':\n\n');
      let prepared: Prepared;
      try {
        const params = await readSseParams(req);
        prepared = prepare(session, id, params, {
          ip: options.clientIp(req),
          userAgent: req.headers['user-agent'] ?? null,
        });
        prepared.write = writeEvent;
      } catch (error) {
        await next({ errors: [asGraphQLError(error, logger).toJSON()] });
        return true;
      }
      const result = await run(prepared);
      if (!('next' in result)) {
        await next(result as ExecutionResult);
        return true;
      }
      // Events are written by writeEvent; the iterator ends with the subscription (or yields, for a
      // source that does not write).
      iterator = result as AsyncIterator<ExecutionResult>;
      for (;;) {
        if (endedBy || clientGone) break;
        const step = await Promise.race([
          iterator.next(),
          new Promise<null>((resolve) => {
            wake = () => resolve(null);
          }),
        ]);
        wake = null;
        if (step === null || step.done) break;
        await next(step.value);
      }
      if (endedBy) {
        const { reason } = CLOSE_REASONS[endedBy as CloseReason];
        await next({ errors: [{ message: reason, extensions: { code: endedBy } }] });
      }
      return true;
    } catch (error) {
      await next({ errors: [asGraphQLError(error, logger).toJSON()] }).catch(() => undefined);
      return true;
    } finally {
      clearInterval(ping);
      await iterator?.return?.().catch(() => undefined);
      sessions.close(session);
      openStreams.delete(res);
      if (!clientGone) res.end('event: complete\ndata:\n\n');
    }
  };

  return {
    federated,
    sessions,
    isSse,
    handleUpgrade,
    handleSse,
    async close() {
      sessions.endAll('SHUTDOWN');
      await wsServer.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await sessions.stop();
      await options.source.close?.();
    },
  };
}

/** `{"id":<id>,"type":"next","payload":` — a graphql-ws next frame is this, the payload and `}`. */
export function nextFramePrefix(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
}

function isSse(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/event-stream') && (req.method === 'GET' || req.method === 'POST');
}

/** connection_init's payload (`authorization`, `token` or `apiKey`) or else the upgrade request's headers. */
function credentialHeaders(
  params: Record<string, unknown> | undefined,
  upgrade: IncomingHttpHeaders,
): IncomingHttpHeaders {
  const read = (key: string) => {
    const value = params?.[key] ?? params?.[key.toLowerCase()];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const authorization = read('authorization') ?? read('Authorization');
  if (authorization) return { authorization };
  const token = read('token');
  if (token) return { authorization: `Bearer ${token}` };
  const apiKey = read('apiKey') ?? read('x-api-key');
  if (apiKey) return { 'x-api-key': apiKey };
  return { authorization: upgrade.authorization, 'x-api-key': upgrade['x-api-key'] };
}

function refusal(error: unknown): { code: number; reason: string } {
  if (error instanceof AppError) {
    if (error.code === 'TENANT_SUSPENDED') return CLOSE_REASONS.TENANT_SUSPENDED;
    if (error.code === 'UNAUTHORIZED') return { code: 4401, reason: `Unauthorized: ${error.message}`.slice(0, 120) };
    if (error.code === 'LIMIT_EXCEEDED' || error.code === 'RATE_LIMIT_EXCEEDED')
      return { code: 4429, reason: error.message.slice(0, 120) };
    return { code: 4403, reason: error.message.slice(0, 120) };
  }
  return { code: 1011, reason: 'Internal server error' };
}

function asGraphQLError(error: unknown, logger: Logger): GraphQLError {
  if (error instanceof AppError) return error.toGraphQLError();
  if (error instanceof GraphQLError && error.extensions?.code) return error;
  logger.error({ err: error }, 'real-time operation failed');
  return new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_ERROR' } });
}

async function readSseParams(
  req: IncomingMessage,
): Promise<{ query?: unknown; variables?: unknown; operationName?: unknown }> {
  if (req.method === 'GET') {
    const search = new URL(`http://localhost${req.url ?? '/'}`).searchParams;
    const variables = search.get('variables');
    return {
      query: search.get('query') ?? undefined,
      operationName: search.get('operationName') ?? undefined,
      variables: variables ? (JSON.parse(variables) as unknown) : undefined,
    };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_SSE_BODY_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AppError('VALIDATION_ERROR', 'The body must be JSON: {"query": "...", "variables": {...}}');
  }
}
