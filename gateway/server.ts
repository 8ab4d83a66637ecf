import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { keepIdleSocketsOpen } from '../lib/http/keep-alive.js';
import type { Duplex } from 'node:stream';
import { Supergraph } from '@apollo/federation-internals';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { print, type DocumentNode } from 'graphql';
import { DEFAULT_GRAPHQL_LIMITS, type GraphQLLimits, type SubgraphName } from '../lib/env.js';
import { AppError } from '../lib/errors.js';
import { createErrorMasker } from '../lib/graphql-errors.js';
import {
  createApolloHandler,
  operationSource,
  readGraphQLHttpRequest,
  sendGraphQLError,
} from '../lib/http/apollo-handler.js';
import { closeServerGracefully, DEFAULT_SHUTDOWN_GRACE_MS } from '../lib/http/graceful-close.js';
import type { Logger } from '../lib/logger.js';
import { NO_CLIENT, type ClientInfo, type Principal } from '../lib/principal.js';
import type { Kv } from '../lib/runtime/kv.js';
import { serviceMeter } from '../lib/runtime/service-metrics.js';
import {
  createMetricRecorder,
  defaultInstanceName,
  gauge,
  type MetricRecorder,
} from '../lib/runtime/metric-recorder.js';
import type { BlobStore } from '../lib/runtime/blob-store.js';
import { createStorageObjectHandler, STORAGE_URL_PATH } from './storage-objects.js';
import type { SubgraphService } from '../lib/subgraph/service.js';
import type { GatewayContext } from './context.js';
import { installApolloFastPath } from './apollo-fast-path.js';
import { InProcessDataSource, SignedRemoteDataSource, SubgraphPools, subgraphOrigin } from './data-sources.js';
import { createAuditPlugin, type AuditSink } from './plugins/audit.js';
import type { Authenticate } from './pipeline/authenticate.js';
import { createStandingKeysCheck } from './pipeline/api-key.js';
import { createClientIpResolver } from './pipeline/client-ip.js';
import { createSignInRateLimitPlugin } from './plugins/sign-in-rate-limit.js';
import { createResponseCachePlugin, type ResponseCachePlugin } from './plugins/response-cache.js';
import { createJwksHandler } from './pipeline/jwt.js';
import {
  checkIntrospectionAllowed,
  checkOperationLimits,
  createSchemaVisibilityPlugin,
} from './plugins/operation-limits.js';
import { resolveRequestId } from './pipeline/request-id.js';
import { createRequestPipeline, type Caller } from './pipeline/index.js';
import type { RateLimitOverrides } from './pipeline/rate-limit.js';
import { createRestHandler, createRouteClassifier } from './rest/handler.js';
import {
  createGatewayMetrics,
  createMetricsHandler,
  PROMETHEUS_ENDPOINT,
  type GatewayMetrics,
} from './plugins/use-metrics.js';
import { createIdempotency } from './rest/idempotency.js';
import { buildOpenApi, renderOpenApiHtml } from './rest/openapi.js';
import { allRoutes } from './rest/routes/index.js';
import { DIALECTS } from './rest/dialects.js';
import { createSsoCallbackHandler, isSsoCallbackPath } from './sso-callback.js';
import { createDeviceSockets } from './edge-devices.js';
import {
  createRealtimeServer,
  DEFAULT_SUBSCRIPTION_LIMITS,
  type RealtimeServer,
  type SubscriptionLimits,
} from './subscriptions/index.js';
import { createEventStreams } from './subscriptions/event-streams.js';
import { trackSchema } from './subscriptions/schema-feed.js';
import { createSubscriptionSource } from './subscriptions/sources.js';

export interface GatewayOptions {
  supergraphSdl: string;
  /** Subgraphs served in this process; the rest are reached at their URL. */
  inProcess: Partial<Record<SubgraphName, SubgraphService>>;
  urls: Partial<Record<SubgraphName, string>>;
  signingSecret: string;
  /**
   * Builds the authenticator; it receives the gateway's own `execute` so resolvers backed by
   * identity (API keys, signing keys) reach it through the supergraph, like any other caller.
   */
  authenticate: (execute: Gateway['execute']) => Authenticate;
  kv: Kv;
  logger: Logger;
  requestTimeoutMs: number;
  rateLimitEnabled: boolean;
  /** Proxy addresses whose X-Forwarded-For names the real client. */
  trustedProxies: string[];
  /** Tests shrink the documented limits to reach a 429 quickly. */
  rateLimitPolicies?: RateLimitOverrides;
  /** Where mutation audit entries go (identity's record-audit job); without it nothing is audited. */
  audit?: AuditSink;
  /** Fail any REST answer that does not match its route's response schema (tests). */
  checkResponses?: boolean;
  /** Operation limits and schema visibility on /graphql; the GRAPHQL_* defaults when absent. */
  graphqlLimits?: Partial<GraphQLLimits>;
  /**
   * The object store uploads stream into and signed downloads are served from, and the key that
   * verifies signed URLs (secretBox.derive(STORAGE_URL_KEY_LABEL)). Absent: uploads answer
   * NOT_CONFIGURED and signed URLs are not served.
   */
  storage?: { blobs: BlobStore; urlKey: string };
  /** Subscription limits (per connection, per principal, keepalive); defaults when absent. */
  subscriptionLimits?: Partial<SubscriptionLimits>;
  /** Where request figures are recorded for the metric store; absent: one of its own (instance host:pid:gateway). */
  metricRecorder?: MetricRecorder;
}

export interface Gateway {
  apollo: ApolloServer<GatewayContext>;
  /** Runs an operation in-process with a given principal: the REST layer's way in. */
  execute(args: {
    document: string | DocumentNode;
    variables: Record<string, unknown>;
    principal: Principal | null;
    requestId: string;
    /** Absent for the gateway's own calls. */
    client?: ClientInfo;
  }): Promise<{
    data?: Record<string, unknown> | null;
    errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
  }>;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** graphql-ws and SSE subscriptions (sessions, limits, federated subscriber). */
  realtime: RealtimeServer;
  /** Keep-alive connection pools to remote subgraphs (one per origin). */
  subgraphPools: SubgraphPools;
  /** This gateway's request and process metrics (prom-client). */
  metrics: GatewayMetrics;
  /** The response cache of reads (settings from the platform's api_responses strategy). */
  responseCache: ResponseCachePlugin;
  /** The same request figures (and realtime session counts) for the platform metric store's sampler. */
  metricRecorder: MetricRecorder;
  /** Serves a new supergraph from now on; open subscriptions are closed so clients resubscribe. */
  reloadSupergraph(supergraphSdl: string): void;
  /**
   * Restarts the gateway in place (POST /api/v1/services/gateway/restart): the supergraph is
   * loaded anew (schema and query plans rebuilt, even when the composition is unchanged; open
   * subscriptions end with "Schema reloaded" and clients resubscribe), the connections to remote
   * subgraphs are recycled (new ones for new requests, the old closed once their requests are
   * answered), and its uptime starts again. Requests in flight finish on what they started with.
   * Returns what was done, in words.
   */
  restart(supergraphSdl?: string): Promise<string>;
  listen(port: number, host?: string): Promise<{ server: Server; url: string }>;
  /** Stops accepting requests and drains those in flight for at most graceMs (SHUTDOWN_GRACE_MS). */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * The source text of a document. Apollo's executeOperation prints a DocumentNode on every call
 * (then finds its parse in its document cache by that text); REST routes run the same few
 * documents for every request, so each is printed once.
 */
const MAX_CACHED_DOCUMENTS = 1000;
const MAX_CACHED_DOCUMENT_CHARS = 16_384;

const printedDocuments = new WeakMap<DocumentNode, string>();
function documentSource(document: string | DocumentNode): string {
  if (typeof document === 'string') return document;
  let source = printedDocuments.get(document);
  if (source === undefined) {
    source = print(document);
    printedDocuments.set(document, source);
  }
  return source;
}

// Apollo's per-request Operation rebuild and generic result shaping, done once per document.
installApolloFastPath();

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger, signingSecret } = options;
  const limits: GraphQLLimits = { ...DEFAULT_GRAPHQL_LIMITS, ...options.graphqlLimits };
  // Keep-alive connections to remote subgraphs, one pool per origin for the whole gateway.
  const pools = new SubgraphPools(options.requestTimeoutMs);
  const remoteTarget = (name: string, url?: string) =>
    options.inProcess[name as SubgraphName] ? undefined : (options.urls[name as SubgraphName] ?? url);
  const buildService = ({ name, url }: { name: string; url?: string }) => {
    const local = options.inProcess[name as SubgraphName];
    // Looked up per request: a restarted subgraph (services restart) replaces its entry.
    if (local) return new InProcessDataSource(() => options.inProcess[name as SubgraphName] ?? local, signingSecret);
    const target = remoteTarget(name, url);
    if (!target) throw new Error(`No URL for subgraph ${name}`);
    return new SignedRemoteDataSource({ name, url: target, signingSecret, pools });
  };
  /** New requests open new connections; the old pools close once their requests are answered. */
  // Not awaited: the request asking for the restart is itself on one of these pools.
  const recycleConnections = (): number => {
    const recycled = pools.origins().length;
    pools.close().catch((error: unknown) => logger.warn({ err: error }, 'closing a recycled subgraph pool failed'));
    return recycled;
  };
  let currentSdl = options.supergraphSdl;
  // The hook form of supergraphSdl hands back `update`: a new composition is served without a
  // restart (reloadSupergraph), and open subscriptions are ended with "Schema reloaded".
  let updateSupergraph: ((sdl: string) => void) | undefined;
  const gateway = new ApolloGateway({
    supergraphSdl: async ({ update }) => {
      updateSupergraph = update;
      return { supergraphSdl: options.supergraphSdl };
    },
    buildService,
  });
  // Real time (gateway/subscriptions): follows every schema load and reload of this gateway.
  const schemaFeed = trackSchema(gateway);
  // A reloaded supergraph that no longer names an origin: its pool closes once its requests end.
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    const inUse = new Set<string>();
    for (const { name, url } of Supergraph.build(coreSupergraphSdl).subgraphsMetadata()) {
      const target = remoteTarget(name, url);
      if (target) inUse.add(subgraphOrigin(target));
    }
    void pools.retain(inUse);
  });

  // Built before Apollo (the sign-in plugin spends its limits); its authenticator runs operations
  // through the gateway's own `execute`, defined below and only called once requests arrive.
  const pipeline = createRequestPipeline({
    authenticate: options.authenticate((args) => execute(args)),
    rateLimiter: (policy) => options.kv.rateLimiter(policy),
    logger,
    rateLimitEnabled: options.rateLimitEnabled,
    policies: options.rateLimitPolicies,
    clientIp: createClientIpResolver(options.trustedProxies),
  });

  // Reads answered from the kv, invalidated by the mutations that touch their types.
  const responseCache = await createResponseCachePlugin({ kv: options.kv, logger });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    logger,
    // Its own SIGTERM handler stops Apollo and re-raises the signal, killing the process with
    // requests in flight; the entry points (bin/shutdown.ts) drain first, then stop it.
    stopOnTerminationSignals: false,
    formatError: createErrorMasker(logger),
    includeStacktraceInErrorResponses: false,
    // Who may introspect is decided per caller before Apollo runs (checkIntrospectionAllowed);
    // this is the second wall for a gateway where nobody may.
    introspection: limits.schemaVisibility !== 'none',
    hideSchemaDetailsFromClientErrors: limits.schemaVisibility === 'none',
    plugins: [
      createSchemaVisibilityPlugin(limits.schemaVisibility),
      ...(options.audit ? [createAuditPlugin({ sink: options.audit, logger })] : []),
      ...(options.rateLimitEnabled
        ? [createSignInRateLimitPlugin({ limiter: pipeline.limiter('graphql.sign-in'), logger })]
        : []),
      responseCache,
    ],
  });
  await apollo.start();

  const execute: Gateway['execute'] = async ({ document, variables, principal, requestId, client = NO_CLIENT }) => {
    const response = await apollo.executeOperation(
      { query: documentSource(document), variables },
      // viaRest: REST routes (and the gateway's own calls) spend their own rate-limit policy.
      { contextValue: { requestId, principal, client, logger: logger.child({ requestId }), viaRest: true } },
    );
    if (response.body.kind !== 'single') throw new Error('Incremental delivery is not used by the REST layer');
    const { data, errors } = response.body.singleResult;
    return { data: data ?? null, errors: errors as never };
  };

  const rest = createRestHandler({
    routes: allRoutes,
    execute,
    pipeline,
    checkResponses: options.checkResponses,
    idempotency: createIdempotency({ cache: options.kv.cache, logger }),
    blobs: options.storage?.blobs,
  });
  const storageObjects = options.storage && createStorageObjectHandler({ ...options.storage, logger, execute });

  // /graphql: admitted by the same pipeline as the REST routes before Apollo sees the request.
  const callers = new WeakMap<IncomingMessage, Caller>();
  const apolloHandler = createApolloHandler(
    apollo,
    async (req) => {
      const { requestId, principal, client } = callers.get(req)!;
      return { requestId, principal, client, logger: logger.child({ requestId }) };
    },
    { maxResponseBytes: limits.maxResponseBytes },
  );
  // The limits are this gateway's, so a document's verdict never changes: the check (lex, parse,
  // walk) runs once per distinct document, not once per request. Bounded, and only documents of
  // ordinary size are remembered, so the cache cannot be grown by sending many large ones.
  const checkedDocuments = new Map<string, ReturnType<typeof checkOperationLimits> | AppError>();
  const checkLimits = (source: string) => {
    let verdict = checkedDocuments.get(source);
    if (verdict === undefined && !checkedDocuments.has(source)) {
      try {
        verdict = checkOperationLimits(source, limits);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        verdict = error;
      }
      if (source.length <= MAX_CACHED_DOCUMENT_CHARS) {
        if (checkedDocuments.size >= MAX_CACHED_DOCUMENTS)
          checkedDocuments.delete(checkedDocuments.keys().next().value!);
        checkedDocuments.set(source, verdict);
      }
    }
    if (verdict instanceof AppError) throw verdict;
    return verdict;
  };
  // Then the operation limits, on the raw document, before Apollo parses, validates or plans it.
  const graphql = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    let request;
    try {
      const caller = await pipeline.admit(req, res, { requestId, policy: 'graphql.default' });
      request = await readGraphQLHttpRequest(req);
      const source = operationSource(request);
      const checked = source === undefined ? undefined : checkLimits(source);
      if (checked?.usesIntrospection) checkIntrospectionAllowed(limits.schemaVisibility, caller.principal);
      callers.set(req, caller);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      sendGraphQLError(res, error);
      return;
    }
    await apolloHandler(req, res, request);
  };

  // Real time on /graphql: graphql-ws upgrades and SSE requests, same authenticator and limits.
  const realtime = await createRealtimeServer({
    apollo,
    buildService,
    source: createSubscriptionSource({ inProcess: options.inProcess, urls: options.urls, signingSecret, logger }),
    authenticate: pipeline.authenticate,
    standingKeys: createStandingKeysCheck(execute),
    kv: options.kv,
    logger,
    graphqlLimits: limits,
    clientIp: pipeline.clientIp,
    formatError: createErrorMasker(logger),
    limits: options.subscriptionLimits,
    schemaFeed,
  });

  // Request counts and latency per route/operation/dialect/status, served on GET /metrics.
  const metricRecorder =
    options.metricRecorder ?? createMetricRecorder({ instance: defaultInstanceName('gateway'), logger });
  metricRecorder.addCollector(() => {
    const stats = realtime.sessions.stats();
    return [...gauge('realtime_sessions', stats.sessions), ...gauge('realtime_subscriptions', stats.subscriptions)];
  });
  const metrics = createGatewayMetrics({
    classify: createRouteClassifier(allRoutes),
    realtime: () => realtime.sessions.stats(),
    recorder: metricRecorder,
    tenantOf: (req) => pipeline.tenantOf(req),
  });
  const serveMetrics = createMetricsHandler({ metrics, authenticate: (req) => pipeline.authenticate(req.headers) });

  const serveJwks = createJwksHandler({ execute, kv: options.kv, logger });
  // IdPs return the browser here after an SSO login; undocumented paths, so outside the REST table.
  const ssoCallback = createSsoCallbackHandler({ execute, pipeline });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = resolveRequestId(req);
    const { pathname } = new URL(`http://localhost${req.url ?? '/'}`);
    metrics.track(req, res, pathname);
    if (pathname === PROMETHEUS_ENDPOINT.path && req.method === PROMETHEUS_ENDPOINT.method)
      return serveMetrics(req, res, requestId);
    if (pathname === '/graphql') {
      if (realtime.isSse(req)) {
        // SSE subscriptions enter through the same pipeline as /graphql: one allowance, no cheaper door.
        try {
          await pipeline.admit(req, res, { requestId, policy: 'graphql.default' });
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          sendGraphQLError(res, error);
          return;
        }
        await realtime.handleSse(req, res, requestId);
        return;
      }
      return graphql(req, res, requestId);
    }
    // The public key set access tokens are verified with (RFC 8414 well-known location).
    if (pathname === '/.well-known/jwks.json' && req.method === 'GET') return serveJwks(res);
    if (isSsoCallbackPath(pathname)) return ssoCallback(req, res, requestId);
    if (storageObjects && pathname.startsWith(STORAGE_URL_PATH)) return storageObjects(req, res, requestId);
    const openapi = /^\/openapi\/([a-z-]+?)(\.json)?$/.exec(pathname);
    const dialect = openapi && DIALECTS.find((d) => d.name === openapi[1]);
    if (dialect && req.method === 'GET') {
      const json = openapi[2] === '.json';
      res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8');
      res.end(json ? JSON.stringify(buildOpenApi(dialect.name, allRoutes)) : renderOpenApiHtml(dialect.name));
      return;
    }
    return rest(req, res, requestId);
  };

  // Requests still being answered; stop() waits for them, so a shutdown never cuts one off halfway
  // (a client that hung up does not stop its request from running to the end).
  const inFlight = new Set<Promise<void>>();
  const meter = serviceMeter(options.kv);
  await meter.started('gateway');
  const track = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const work = handle(req, res).finally(() => {
      inFlight.delete(work);
      // Every HTTP request the gateway answered; its own failures (5xx) are its errors.
      meter.record(
        'gateway',
        performance.now() - started,
        res.statusCode >= 500 ? `HTTP ${res.statusCode}` : undefined,
      );
    });
    inFlight.add(work);
    return work;
  };

  // Edge devices' WebSocket endpoint (gateway/edge-devices.ts): upgrades on its path only.
  const deviceSockets = await createDeviceSockets({ execute, kv: options.kv, logger });
  // cloudpioneer event streams (WS /v1/events/{stream_id}), run by the federated subscriber.
  const streamLimits = { ...DEFAULT_SUBSCRIPTION_LIMITS, ...options.subscriptionLimits };
  const eventStreams = createEventStreams({
    execute,
    federated: realtime.federated,
    sessions: realtime.sessions,
    logger,
    pingMs: streamLimits.streamPingMs,
    pongTimeoutMs: streamLimits.streamPongTimeoutMs,
  });

  let server: Server | undefined;
  return {
    apollo,
    execute,
    realtime,
    metrics,
    responseCache,
    metricRecorder,
    subgraphPools: pools,
    reloadSupergraph(supergraphSdl) {
      if (!updateSupergraph) throw new Error('The gateway has not loaded its schema yet');
      updateSupergraph(supergraphSdl);
      currentSdl = supergraphSdl;
    },
    async restart(supergraphSdl = currentSdl) {
      if (!updateSupergraph) throw new Error('The gateway has not loaded its schema yet');
      // The gateway skips a composition it already serves (same text, same id): the marker makes
      // it build the schema, query planner and data-source map again from the same SDL.
      updateSupergraph(`${supergraphSdl}\n# restarted ${new Date().toISOString()}\n`);
      currentSdl = supergraphSdl;
      const pools = recycleConnections();
      await meter.started('gateway');
      logger.info({ pools }, 'gateway restarted');
      return `supergraph reloaded (schema and query plans rebuilt; open subscriptions asked to resubscribe); ${
        pools > 0
          ? `${pools} subgraph connection pools recycled`
          : 'no remote subgraph connection pools (subgraphs in this process)'
      }`;
    },
    handle: track,
    async listen(port, host = '0.0.0.0') {
      server = createServer((req, res) => {
        track(req, res).catch((error: unknown) => {
          logger.error({ err: error }, 'unhandled gateway error');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } }));
        });
      });
      keepIdleSocketsOpen(server);
      // One dispatcher for WebSocket upgrades: edge devices, event streams, then graphql-ws; else a 404.
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (
          deviceSockets.handleUpgrade(req, socket, head) ||
          eventStreams.handleUpgrade(req, socket, head) ||
          realtime.handleUpgrade(req, socket, head)
        )
          return;
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      });
      await new Promise<void>((resolve) => server!.listen(port, host, resolve));
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      return { server, url: `http://127.0.0.1:${actualPort}` };
    },
    async stop({ graceMs = DEFAULT_SHUTDOWN_GRACE_MS } = {}) {
      const deadline = Date.now() + graceMs;
      await deviceSockets.close();
      await eventStreams.close();
      // Open subscriptions never finish on their own: they are ended (1001) before the drain.
      await realtime.close();
      if (server) await closeServerGracefully(server, { graceMs, logger, name: 'gateway' });
      // Work whose client hung up is not tied to a socket: it gets what is left of the same bound.
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          }),
        ]);
        clearTimeout(timer);
        if (inFlight.size > 0) logger.warn({ requests: inFlight.size }, 'stopping with requests still running');
      }
      await apollo.stop();
      await responseCache.close();
      // Last: the subgraph connections, once the requests still on them are answered.
      await pools.close();
    },
  };
}
