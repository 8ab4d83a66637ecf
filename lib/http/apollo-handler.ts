import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { AppError } from '../errors.js';
import { readBody } from './body.js';

/** A GraphQL-over-HTTP request as read off the wire, before Apollo sees it. */
export interface GraphQLHttpRequest {
  method: string;
  headers: HeaderMap;
  search: string;
  /** The parsed JSON body; a string when it was not JSON (Apollo explains that with a 400). */
  body: unknown;
}

/**
 * Reads the request the way Apollo expects it. Throws AppError PAYLOAD_TOO_LARGE for a body over
 * the limit, so callers answer 413 rather than buffer it.
 */
export async function readGraphQLHttpRequest(req: IncomingMessage): Promise<GraphQLHttpRequest> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  const raw = req.method === 'POST' ? await readBody(req) : '';
  let body: unknown = raw;
  if (raw && (headers.get('content-type') ?? '').includes('application/json')) {
    try {
      body = JSON.parse(raw);
    } catch {
      // Left as a string: Apollo answers a clear 400 for a body it cannot read.
    }
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  return { method: req.method?.toUpperCase() ?? 'GET', headers, search: url.search, body };
}

/** The operation text of a single (non-batched) request, from the JSON body or the GET query string. */
export function operationSource(request: GraphQLHttpRequest): string | undefined {
  if (request.method === 'GET') return new URLSearchParams(request.search).get('query') ?? undefined;
  const { body } = request;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const query = (body as Record<string, unknown>).query;
    return typeof query === 'string' ? query : undefined;
  }
  return undefined;
}

/** Writes an AppError as a GraphQL-over-HTTP error answer, with the status the error table gives it. */
export function sendGraphQLError(res: ServerResponse, error: AppError): void {
  const body = JSON.stringify({
    errors: [
      {
        message: error.message,
        extensions: { code: error.code, ...(error.details ? { details: error.details } : {}) },
      },
    ],
  });
  // An oversized body was left unread: close rather than let the rest be read as the next request.
  if (error.code === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export interface ApolloHandlerOptions {
  /**
   * Largest answer sent; a bigger one is replaced by OPERATION_LIMIT_EXCEEDED. The answer has been
   * built by then, so this caps what leaves the process; the operation limits keep it from being
   * built at all.
   */
  maxResponseBytes?: number;
}

/**
 * Serves an Apollo Server over plain node:http. Apollo Server 5 ships no HTTP integration;
 * this is the one adapter both the gateway and every subgraph use. The gateway reads the request
 * first (to check it) and hands it over as `preRead`.
 */
export function createApolloHandler<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  context: (req: IncomingMessage) => Promise<TContext>,
  options: ApolloHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse, preRead?: GraphQLHttpRequest) => Promise<void> {
  return async (req, res, preRead) => {
    let httpGraphQLRequest: GraphQLHttpRequest;
    try {
      httpGraphQLRequest = preRead ?? (await readGraphQLHttpRequest(req));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      sendGraphQLError(res, error);
      return;
    }
    const result = await server.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: () => context(req) });
    if (result.body.kind === 'complete') {
      const max = options.maxResponseBytes;
      if (max !== undefined && Buffer.byteLength(result.body.string) > max) {
        sendGraphQLError(
          res,
          new AppError('OPERATION_LIMIT_EXCEEDED', `Response exceeds the limit of ${max} bytes (maxResponseBytes)`, {
            limit: 'maxResponseBytes',
            max,
          }),
        );
        return;
      }
    }
    for (const [key, value] of result.headers) res.setHeader(key, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
