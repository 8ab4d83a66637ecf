import type { TadaDocumentNode } from 'gql.tada';
import type { z } from 'zod';
import type { DialectName } from './dialects.js';
import type { IncomingMessage } from 'node:http';
import type { BodyReceiverContext } from './multipart.js';
import type { RateLimitPolicyName } from '../pipeline/rate-limit.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

// Loose on purpose: strict and passthrough objects are valid route inputs too.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyZodObject = z.ZodObject<any, any>;

export interface RouteInputSchemas {
  params?: AnyZodObject;
  query?: AnyZodObject;
  body?: z.ZodType;
}

/** A route that declares no input schemas. */
export type NoInput = Record<never, never>;

type Parsed<S, Fallback> = [S] extends [z.ZodType] ? z.output<S> : Fallback;

/** What a route sees of the request: validated when the route gave a schema, raw otherwise. */
export interface RouteInput<I extends RouteInputSchemas = NoInput> {
  params: Parsed<I['params'], Record<string, string>>;
  query: Parsed<I['query'], Record<string, string | string[]>>;
  body: Parsed<I['body'], unknown>;
  /** The body exactly as sent, for routes that verify a signature over it (webhooks). */
  rawBody?: string;
  /** Request headers, lower-cased names (Node's IncomingHttpHeaders). */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * One documented endpoint: which GraphQL operation it runs and how the answer becomes the
 * documented payload. The dialect adds the envelope; the handler does everything else.
 */
export interface RouteDefinition<I extends RouteInputSchemas, TData, TPayload, TVariables = Record<string, unknown>> {
  dialect: DialectName;
  /**
   * Other dialects documenting this same method, path and body. The route is served once, counted
   * as served for each, and also mounted at their prefixes (cloudpioneer's `/v1`).
   */
  sharedWith?: readonly DialectName[];
  method: HttpMethod;
  /** As documented, `{param}` style, including any `/api` prefix. */
  path: string;
  /**
   * Path parameters that span several segments (`/api/secrets/{path}` with `path` =
   * `database/credentials/production`): matched greedily and joined with `/`.
   */
  multiSegmentParams?: readonly string[];
  summary: string;
  /**
   * The GraphQL document (`graphql(...)` from ./graphql.ts, typed from the supergraph): the
   * supergraph resolves it with the caller's principal; `variables` must build its variables and
   * `respond` receives its result type.
   */
  operation: TadaDocumentNode<TData, TVariables>;
  /**
   * A body that is not JSON (multipart uploads): the route reads it itself, streaming, and returns
   * what `input.body` validates. It may run operations as the caller first (an upload ticket).
   */
  receiveBody?: (req: IncomingMessage, ctx: BodyReceiverContext) => Promise<unknown>;
  /** Validated before anything runs; every issue comes back at once as VALIDATION_ERROR. */
  input?: I;
  /** The document's variables, from the validated input (checked against the document's types). */
  variables?: (input: RouteInput<I>) => NoInfer<TVariables>;
  /** The documented payload, before the dialect's envelope. */
  respond: (data: TData, input: RouteInput<I>) => TPayload;
  /** Success status; 200 when absent. */
  status?: number;
  /** Overrides `status` from the payload, e.g. 503 when a health check says unhealthy. */
  statusFrom?: (payload: TPayload) => number;
  /**
   * Accept data that arrives with errors. Health needs this: an unreachable subgraph is a null
   * field plus an error, and is reported as down rather than failing the whole answer.
   */
  allowPartial?: boolean;
  /** When absent, the dialect's default policy. */
  rateLimit?: RateLimitPolicyName;
  /** Documents the payload in OpenAPI. */
  response?: z.ZodType<NoInfer<TPayload>>;
  /** false: the payload is the whole body, as for the documented load-balancer health checks. */
  envelope?: boolean;
  /**
   * Answer `302 Found` with this Location instead of a JSON body (a browser-facing route, such as
   * SSO login). A caller that asks for JSON (`Accept: application/json`, e.g. a single-page app
   * that cannot read a cross-origin redirect) still gets the payload in the envelope.
   */
  redirect?: (payload: NoInfer<TPayload>) => string;
}

/** A route with its types erased, as the handler, OpenAPI and catalog see it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RestRoute = RouteDefinition<any, any, any, any>;

/** A document with a required variable needs `variables` to build it. */
type VariablesRequired<TVariables> = Record<never, never> extends TVariables ? unknown : { variables: unknown };

/**
 * Keeps each route's types inferred: input from its schemas, data and variables from its
 * document, payload from what `respond` returns (checked against `response`).
 */
export function defineRoute<
  TData,
  TPayload,
  I extends RouteInputSchemas = NoInput,
  TVariables = Record<string, unknown>,
>(
  route: RouteDefinition<I, TData, TPayload, TVariables> & VariablesRequired<TVariables>,
): RouteDefinition<I, TData, TPayload, TVariables> {
  return route;
}
