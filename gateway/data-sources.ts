import { STATUS_CODES } from 'node:http';
import { LocalGraphQLDataSource, type GraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { HeaderMap } from '@apollo/server';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { errors as undiciErrors, Pool } from 'undici';
import { AppError } from '../lib/errors.js';
import { NO_CLIENT, PRINCIPAL_HEADER, signPrincipal } from '../lib/principal.js';
import type { SubgraphService } from '../lib/subgraph/service.js';
import type { GatewayContext } from './context.js';

/**
 * The signed principal headers of one operation. Every fetch of an operation carries the same
 * caller, request id and client, so they are signed once per operation (per context object) and
 * reused by all its fetches, not once per fetch. The signature lives five minutes, far longer than
 * any request may run (requestTimeoutMs). Non-operation fetches (health, schema) go anonymous.
 */
const signedPerOperation = new WeakMap<object, Record<string, string>>();

function signedHeaders(
  options: GraphQLDataSourceProcessOptions<GatewayContext>,
  secret: string,
): Record<string, string> {
  const context = options.kind === 'incoming operation' ? options.context : undefined;
  const cached = context && signedPerOperation.get(context);
  if (cached) return cached;
  const requestId = context?.requestId ?? 'internal';
  const headers = {
    [PRINCIPAL_HEADER]: signPrincipal(
      context?.principal ?? null,
      requestId,
      secret,
      Date.now(),
      context?.client ?? NO_CLIENT,
    ),
    'x-request-id': requestId,
  };
  if (context) signedPerOperation.set(context, headers);
  return headers;
}

/**
 * Entity fetches carry one representation per position in the result, so one entity reached
 * along many paths (the same product under every review) is sent many times. Each distinct
 * representation is sent once; the answer is expanded back to one entity per position, and
 * `_entities` errors are repeated for every position they belong to: the executor sees what it
 * would have seen. Positions of one representation share the answer's object, without copies:
 * @apollo/gateway's deepMerge already assigns a received object by reference into the result, and
 * everything later merged into a shared object comes from fetches of identical representations
 * (same entity, same selection, since the positions share one fetch node's path), so each merge
 * writes what the others would, and result shaping only reads the merged data.
 */
export function dedupeRepresentations(variables: Record<string, unknown> | undefined): {
  variables: Record<string, unknown> | undefined;
  expand: (response: GatewayGraphQLResponse) => GatewayGraphQLResponse;
} {
  const representations = variables?.representations;
  if (!Array.isArray(representations) || representations.length < 2) return { variables, expand: (r) => r };
  const seen = new Map<string, number>();
  const unique: unknown[] = [];
  const positions = new Array<number>(representations.length);
  for (let i = 0; i < representations.length; i++) {
    const key = JSON.stringify(representations[i]);
    let at = seen.get(key);
    if (at === undefined) {
      at = unique.length;
      seen.set(key, at);
      unique.push(representations[i]);
    }
    positions[i] = at;
  }
  if (unique.length === representations.length) return { variables, expand: (r) => r };
  const expand = (response: GatewayGraphQLResponse): GatewayGraphQLResponse => {
    const entities = (response.data as { _entities?: unknown } | null | undefined)?._entities;
    // A subgraph answering the wrong count is reported by the executor as it would be anyway.
    if (!Array.isArray(entities) || entities.length !== unique.length) return response;
    const expanded = positions.map((at) => entities[at]);
    const errors = response.errors?.flatMap((error) => {
      const path = error.path;
      if (!path || path[0] !== '_entities' || typeof path[1] !== 'number') return [error];
      const rest = path.slice(2);
      const copies = [];
      for (let i = 0; i < positions.length; i++) {
        if (positions[i] === path[1]) copies.push({ ...error, path: ['_entities', i, ...rest] });
      }
      return copies;
    });
    return { ...response, data: { ...response.data, _entities: expanded }, ...(errors ? { errors } : {}) };
  };
  return { variables: { ...variables, representations: unique }, expand };
}

/**
 * The keep-alive connection pools of one gateway, one per subgraph origin (undici Pool). Shared by
 * every data source of that origin: Apollo's, the ones real time builds on each schema load, and
 * those of a reloaded supergraph, so a reload does not open new connections or leave old ones open.
 * `retain` closes the pools of origins a new supergraph no longer uses and `close` all of them (gateway
 * stop); a pool closes once the requests it holds have been answered (undici `close`). An operation
 * still running on the old supergraph that fetches from a retired origin gets a new pool, closed by
 * the next `retain` or `close`.
 */
export class SubgraphPools {
  constructor(private readonly timeoutMs: number) {}

  private readonly pools = new Map<string, Pool>();
  private readonly closing = new Set<Promise<void>>();

  /** The open pool of an origin (`http://host:port`), made on first use. */
  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: POOL_CONNECTIONS,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Origins with a pool now. */
  origins(): string[] {
    return [...this.pools.keys()];
  }

  /** Closes the pools of every origin not in `inUse`, after their requests are answered. */
  retain(inUse: Iterable<string>): Promise<void> {
    const keep = new Set(inUse);
    for (const origin of [...this.pools.keys()]) if (!keep.has(origin)) this.retire(origin);
    return this.settled();
  }

  /** Closes every pool once its requests are answered; resolves when all sockets are closed. */
  close(): Promise<void> {
    for (const origin of [...this.pools.keys()]) this.retire(origin);
    return this.settled();
  }

  private retire(origin: string): void {
    const pool = this.pools.get(origin)!;
    this.pools.delete(origin);
    const closed: Promise<void> = pool
      .close()
      .catch(() => pool.destroy())
      .finally(() => this.closing.delete(closed));
    this.closing.add(closed);
  }

  private async settled(): Promise<void> {
    await Promise.allSettled([...this.closing]);
  }
}

/** The pool origin of a subgraph URL. */
export function subgraphOrigin(url: string): string {
  return new URL(url).origin;
}

/**
 * Production transport: the subgraph is another process, reached over HTTP through a keep-alive
 * connection pool (SubgraphPools, one per subgraph origin). It sends the request the way
 * RemoteGraphQLDataSource does (POST JSON {query, variables, operationName}), without its
 * per-fetch Headers/Request/Response objects and web streams, and with the pool's timeouts (headers
 * within timeoutMs, then no gap longer than timeoutMs in the body) instead of an AbortSignal per fetch.
 */
export class SignedRemoteDataSource implements GraphQLDataSource<GatewayContext> {
  constructor(options: { name: string; url: string; signingSecret: string; pools: SubgraphPools }) {
    const url = new URL(options.url);
    this.path = `${url.pathname}${url.search}`;
    this.origin = url.origin;
    this.url = options.url;
    this.name = options.name;
    this.signingSecret = options.signingSecret;
    this.pools = options.pools;
  }

  private readonly pools: SubgraphPools;
  private readonly origin: string;
  private readonly path: string;
  private readonly url: string;
  private readonly name: string;
  private readonly signingSecret: string;

  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const { request } = options;
    if (!request.query) throw new Error('Missing query');
    const { variables, expand } = dedupeRepresentations(request.variables);
    const body = JSON.stringify({
      query: request.query,
      ...(request.operationName ? { operationName: request.operationName } : {}),
      ...(variables ? { variables } : {}),
      ...(request.extensions ? { extensions: request.extensions } : {}),
    });
    let status: number;
    let text: string;
    let contentType: string;
    try {
      const response = await this.pools.get(this.origin).request({
        path: this.path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(options, this.signingSecret) },
        body,
      });
      status = response.statusCode;
      text = await response.body.text();
      const header = response.headers['content-type'];
      contentType = (Array.isArray(header) ? header[0] : header) ?? '';
    } catch (error) {
      throw this.unavailable(error as Error);
    }
    const json =
      contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json');
    let parsed: unknown = text;
    if (json) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw this.unavailable(new Error(`The ${this.name} service answered malformed JSON`));
      }
    }
    if (status < 200 || status > 299) {
      // As RemoteGraphQLDataSource reports a non-2xx answer: status line, with the body attached.
      const statusText = STATUS_CODES[status] ?? '';
      throw new GraphQLError(`${status}: ${statusText}`, {
        extensions: {
          ...(status === 401 ? { code: 'UNAUTHENTICATED' } : status === 403 ? { code: 'FORBIDDEN' } : {}),
          response: { url: this.url, status, statusText, body: parsed },
        },
      });
    }
    if (typeof parsed !== 'object' || parsed === null) {
      throw new Error(`Expected JSON response body, but received: ${text.slice(0, 200)}`);
    }
    return expand(parsed as GatewayGraphQLResponse);
  }

  /**
   * A subgraph that cannot be reached (refused, reset, timed out) is an outage, not a bug: it
   * reaches callers as SERVICE_UNAVAILABLE or TIMEOUT (503/504) instead of a masked 500.
   * Errors the subgraph answered with keep their own codes.
   */
  private unavailable(error: Error): GraphQLError {
    if (error instanceof GraphQLError) return error;
    const timedOut =
      error.name === 'TimeoutError' ||
      error.name === 'AbortError' ||
      error instanceof undiciErrors.HeadersTimeoutError ||
      error instanceof undiciErrors.BodyTimeoutError;
    if (timedOut) return new AppError('TIMEOUT', `The ${this.name} service did not answer in time`).toGraphQLError();
    return new AppError('SERVICE_UNAVAILABLE', `The ${this.name} service is unavailable`).toGraphQLError();
  }
}

/** Connections per subgraph origin: enough for a gateway core's concurrency without queuing behind one socket. */
const POOL_CONNECTIONS = 128;

/**
 * Embedded transport: the subgraph's own Apollo Server in this process, with no network hop. It
 * goes through the same HTTP pipeline as over the wire (context built from the signed header,
 * error masking), so both transports enforce the trust boundary with the same code.
 */
export class InProcessDataSource extends LocalGraphQLDataSource<GatewayContext> {
  /** `current` is read per request: a restarted subgraph (POST /api/v1/services/{name}/restart) is swapped in place. */
  constructor(
    private readonly current: () => SubgraphService,
    private readonly signingSecret: string,
  ) {
    super(current().schema);
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const headers = new HeaderMap([['content-type', 'application/json']]);
    const signed = signedHeaders(options, this.signingSecret);
    for (const [key, value] of Object.entries(signed)) headers.set(key, value);
    const { request } = options;
    const { variables, expand } = dedupeRepresentations(request.variables);
    const service = this.current();
    const response = await service.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers,
        search: '',
        body: {
          query: request.query,
          variables: variables ?? {},
          ...(request.operationName ? { operationName: request.operationName } : {}),
        },
      },
      context: () => service.contextFromHeaders(signed),
    });
    if (response.body.kind !== 'complete') throw new Error('In-process subgraph returned an incremental response');
    return expand(JSON.parse(response.body.string) as GatewayGraphQLResponse);
  }
}
