import { LocalGraphQLDataSource, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { HeaderMap } from '@apollo/server';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { AppError } from '../lib/errors.js';
import { NO_CLIENT, PRINCIPAL_HEADER, signPrincipal } from '../lib/principal.js';
import type { SubgraphService } from '../lib/subgraph/service.js';
import type { GatewayContext } from './context.js';

/** Signs the caller's principal for the subgraph; non-operation fetches (health, schema) go anonymous. */
function signedHeaders(
  options: GraphQLDataSourceProcessOptions<GatewayContext>,
  secret: string,
): Record<string, string> {
  const context = options.kind === 'incoming operation' ? options.context : undefined;
  const requestId = context?.requestId ?? 'internal';
  return {
    [PRINCIPAL_HEADER]: signPrincipal(
      context?.principal ?? null,
      requestId,
      secret,
      Date.now(),
      context?.client ?? NO_CLIENT,
    ),
    'x-request-id': requestId,
  };
}

/** Production transport: the subgraph is another process, reached over HTTP. */
export class SignedRemoteDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(options: { name: string; url: string; signingSecret: string; timeoutMs: number }) {
    super({
      url: options.url,
      fetcher: (url, init) =>
        fetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs) } as RequestInit) as never,
    });
    this.signingSecret = options.signingSecret;
    this.name = options.name;
  }

  private readonly signingSecret: string;
  private readonly name: string;

  /**
   * A subgraph that cannot be reached (refused, reset, timed out) is an outage, not a bug: it
   * reaches callers as SERVICE_UNAVAILABLE or TIMEOUT (503/504) instead of a masked 500.
   * Errors the subgraph answered with keep their own codes.
   */
  override didEncounterError(error: Error): never {
    if (error instanceof GraphQLError) throw error;
    if (error.name === 'TimeoutError' || error.name === 'AbortError') {
      throw new AppError('TIMEOUT', `The ${this.name} service did not answer in time`).toGraphQLError();
    }
    throw new AppError('SERVICE_UNAVAILABLE', `The ${this.name} service is unavailable`).toGraphQLError();
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    for (const [key, value] of Object.entries(signedHeaders(options, this.signingSecret))) {
      options.request.http?.headers.set(key, value);
    }
  }
}

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
    const service = this.current();
    const response = await service.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers,
        search: '',
        body: {
          query: request.query,
          variables: request.variables ?? {},
          ...(request.operationName ? { operationName: request.operationName } : {}),
        },
      },
      context: () => service.contextFromHeaders(signed),
    });
    if (response.body.kind !== 'complete') throw new Error('In-process subgraph returned an incremental response');
    return JSON.parse(response.body.string) as GatewayGraphQLResponse;
  }
}
