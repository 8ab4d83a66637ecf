import type { IncomingMessage, ServerResponse } from 'node:http';
import { match, type MatchFunction } from 'path-to-regexp';
import type { z } from 'zod';
import { getOperationAST, type DocumentNode } from 'graphql';
import { AppError, appErrorFromGraphQL } from '../../lib/errors.js';
import { readBody } from '../../lib/http/body.js';
import type { Logger } from '../../lib/logger.js';
import type { BlobStore } from '../../lib/runtime/blob-store.js';
import type { ClientInfo, Principal } from '../../lib/principal.js';
import { attributeDialect, getDialect, type Dialect } from './dialects.js';
import { guardRestInput } from './input-guard.js';
import type { Caller, RequestPipeline } from '../pipeline/index.js';
import { REPLAYED_HEADER, type Idempotency, type IdempotencyOutcome } from './idempotency.js';
import { type HttpMethod, type RestRoute, type RouteInput } from './route.js';

export interface ExecuteArgs {
  document: string | DocumentNode;
  variables: Record<string, unknown>;
  principal: Principal | null;
  requestId: string;
  client: ClientInfo;
}

export interface ExecuteResult {
  data?: unknown;
  errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

export interface RestHandlerOptions {
  routes: readonly RestRoute[];
  execute: (args: ExecuteArgs) => Promise<ExecuteResult>;
  /** Request id, client address, authentication and rate limit: the gateway's one sequence. */
  pipeline: RequestPipeline;
  /**
   * Checks every answer against its route's documented `response` schema and fails the request
   * when it does not match. On in tests, so every REST call the suite makes proves the route's
   * shape; off in production, where it would only cost time.
   */
  checkResponses?: boolean;
  /** Idempotency-Key on POST (gateway/rest/idempotency.ts); absent, the header is ignored. */
  idempotency?: Idempotency;
  /** The object store uploads stream into (routes with `receiveBody`); absent, they answer NOT_CONFIGURED. */
  blobs?: BlobStore;
}

export type RestHandler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;

interface CompiledRoute {
  route: RestRoute;
  /** The dialect this mount answers in: the route's own, or a sharing dialect's at its prefix. */
  dialect: Dialect;
  method: HttpMethod;
  pattern: string;
  paramCount: number;
  /** Has a multi-segment parameter: tried after routes of the same parameter count without one. */
  greedy: boolean;
  match: MatchFunction<Record<string, string | string[]>>;
}

type Resolution =
  | { kind: 'route'; entry: CompiledRoute; params: Record<string, string>; dialect: Dialect }
  | { kind: 'method-not-allowed'; allow: HttpMethod[]; dialect: Dialect }
  | { kind: 'not-found'; dialect: Dialect };

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;
/** Echoed version headers are caller input; anything odd is replaced by the default. */
const SAFE_VERSION = /^[\w.-]{1,32}$/;

/** `{param}` (documented, OpenAPI) to `:param` (path-to-regexp), escaping path-to-regexp's reserved characters. */
function toMatcherPattern(path: string, multiSegment: readonly string[] = []): string {
  return path
    .split(/(\{\w+\})/)
    .map((part) => {
      if (!/^\{\w+\}$/.test(part)) return part.replace(/[(){}[\]?+!*:\\]/g, '\\$&');
      const name = part.slice(1, -1);
      return multiSegment.includes(name) ? `*${name}` : `:${name}`;
    })
    .join('');
}

/** A multi-segment parameter arrives as its segments; routes see one `a/b/c` string. */
function joinParams(params: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v.join('/') : v]));
}

/** A malformed escape (`%E0%A4%A`) keeps its raw text: validation can refuse it, a crash would not explain. */
function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function joinMount(mount: string, path: string): string {
  if (mount === '') return path;
  return path === '/' ? mount : `${mount}${path}`;
}

function compileRoutes(routes: readonly RestRoute[]): CompiledRoute[] {
  const compiled: CompiledRoute[] = [];
  const seen = new Map<string, RestRoute>();
  for (const route of routes) {
    for (const dialectName of [route.dialect, ...(route.sharedWith ?? [])]) {
      const dialect = getDialect(dialectName);
      for (const mount of dialect.mounts) {
        const pattern = joinMount(mount, route.path);
        const key = `${route.method} ${pattern}`;
        const owner = seen.get(key);
        if (owner === route) continue; // a sharing dialect mounted at the same prefix: already served
        if (owner) throw new Error(`Two REST routes serve ${key} (${owner.dialect}, ${route.dialect})`);
        seen.set(key, route);
        compiled.push({
          route,
          dialect,
          method: route.method,
          pattern,
          paramCount: (route.path.match(/\{\w+\}/g) ?? []).length,
          greedy: (route.multiSegmentParams ?? []).length > 0,
          match: match(toMatcherPattern(pattern, route.multiSegmentParams), { decode: decodeParam }),
        });
      }
    }
  }
  // A literal segment wins over a parameter in the same place (`/x/publish` before `/x/{id}`); among
  // greedy routes the longer pattern first (`/s/{path}/rotate` before `/s/{path}`).
  return compiled.sort(
    (a, b) =>
      a.paramCount - b.paramCount ||
      Number(a.greedy) - Number(b.greedy) ||
      (a.greedy ? b.pattern.length - a.pattern.length : 0),
  );
}

function resolveRoute(compiled: readonly CompiledRoute[], pathname: string, method: string): Resolution {
  let allow: HttpMethod[] = [];
  let firstDialect: Dialect | undefined;
  for (const entry of compiled) {
    const result = entry.match(pathname);
    if (!result) continue;
    if (entry.method === method)
      return { kind: 'route', entry, params: joinParams(result.params), dialect: entry.dialect };
    firstDialect ??= entry.dialect;
    if (!allow.includes(entry.method)) allow = [...allow, entry.method];
  }
  if (firstDialect) return { kind: 'method-not-allowed', allow, dialect: firstDialect };
  return { kind: 'not-found', dialect: getDialect(attributeDialect(pathname)) };
}

function readQuery(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const existing = query[key];
    query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return query;
}

async function readJsonBody(req: IncomingMessage, method: string): Promise<{ parsed: unknown; raw?: string }> {
  if (!BODY_METHODS.has(method)) return { parsed: undefined };
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return { parsed: undefined };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!JSON_TYPE.test(type)) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Request body must be JSON (Content-Type: application/json), got ${type === '' ? 'no Content-Type' : type}`,
    );
  }
  const raw = await readBody(req);
  if (raw.trim() === '') return { parsed: undefined, raw };
  try {
    return { parsed: JSON.parse(raw) as unknown, raw };
  } catch (error) {
    throw new AppError('MALFORMED_JSON', `Request body is not valid JSON: ${(error as Error).message}`);
  }
}

interface FieldIssue {
  in: 'params' | 'query' | 'body';
  path: string;
  message: string;
}

/** Validates params, query and body together so the caller sees every problem in one answer. */
function parseRouteInput(
  route: RestRoute,
  raw: { params: Record<string, string>; query: Record<string, string | string[]>; body: unknown },
): RouteInput {
  const issues: FieldIssue[] = [];
  const parse = (location: FieldIssue['in'], schema: z.ZodType | undefined, value: unknown): unknown => {
    if (!schema) return value;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      issues.push({ in: location, path: issue.path.map(String).join('.'), message: issue.message });
    }
    return undefined;
  };
  const input = {
    params: parse('params', route.input?.params, raw.params),
    query: parse('query', route.input?.query, raw.query),
    body: parse('body', route.input?.body, raw.body),
  } as RouteInput;
  if (issues.length > 0) {
    throw new AppError(
      'VALIDATION_ERROR',
      `Invalid request: ${issues.length === 1 ? '1 issue' : `${issues.length} issues`}`,
      {
        fields: issues,
      },
    );
  }
  return input;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/** Browsers navigating never list application/json; fetch and API clients that want JSON do. */
function wantsJson(req: IncomingMessage): boolean {
  return /\bapplication\/json\b/i.test(req.headers.accept ?? '');
}

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 302;
  res.setHeader('Location', location);
  // The redirect carries state for the browser: never a cached one.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', 0);
  res.end();
}

function echoVersionHeader(req: IncomingMessage, res: ServerResponse, dialect: Dialect): void {
  if (!dialect.versionHeader) return;
  const { name, fallback } = dialect.versionHeader;
  const given = req.headers[name.toLowerCase()];
  res.setHeader(name, typeof given === 'string' && SAFE_VERSION.test(given) ? given : fallback);
}

/**
 * The one handler behind every REST route: match, authenticate, rate-limit, read and validate
 * input, run the route's GraphQL operation, and answer in the route's dialect, errors included.
 */
export function createRestHandler(options: RestHandlerOptions): RestHandler {
  const { execute, pipeline } = options;
  const { logger } = pipeline;
  const compiled = compileRoutes(options.routes);

  async function runRoute(
    req: IncomingMessage,
    url: URL,
    method: string,
    resolution: Extract<Resolution, { kind: 'route' }>,
    { requestId, principal, client }: Caller,
    { parsed: body, raw: rawBody }: { parsed: unknown; raw?: string },
  ): Promise<{ status: number; payload: unknown }> {
    const { route } = resolution.entry;
    const raw = { params: resolution.params, query: readQuery(url), body };
    guardRestInput(raw);
    const input = parseRouteInput(route, raw);
    input.rawBody = rawBody;
    input.headers = req.headers;
    const result = await execute({
      document: route.operation,
      variables: route.variables?.(input) ?? {},
      principal,
      requestId,
      client,
    });
    const errors = result.errors ?? [];
    const hasData = result.data !== undefined && result.data !== null;
    if (errors.length > 0 && !(route.allowPartial && hasData)) {
      const error = appErrorFromGraphQL(errors[0]!);
      if (error.status >= 500) logger.error({ requestId, errors }, 'GraphQL operation failed behind a REST route');
      throw error;
    }
    if (errors.length > 0) logger.warn({ requestId, errors }, 'REST route answered from a partial result');
    if (!hasData) throw new Error(`Operation for ${route.method} ${route.path} returned no data and no errors`);
    const payload: unknown = route.respond(result.data, input);
    if (options.checkResponses && route.response) {
      const checked = route.response.safeParse(payload);
      if (!checked.success) {
        throw new Error(
          `${route.method} ${route.path} answered outside its documented response schema: ${checked.error.message}`,
        );
      }
    }
    return { status: route.statusFrom?.(payload) ?? route.status ?? 200, payload };
  }

  return async (req, res, requestId) => {
    const now = new Date();
    // Concatenated, not resolved: `new URL('//api/health', base)` would read `api` as a host.
    const url = new URL(`http://localhost${req.url ?? '/'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const resolution = resolveRoute(compiled, url.pathname, method);
    const { dialect } = resolution;
    const context = { requestId, now };
    echoVersionHeader(req, res, dialect);

    // Whether a route needs a principal (and which scopes) is the owning subgraph's decision: the
    // pipeline only learns who is calling. Unknown paths spend the dialect's default allowance.
    const policy =
      (resolution.kind === 'route' ? resolution.entry.route.rateLimit : undefined) ?? dialect.defaultRateLimit;
    let claim: Extract<IdempotencyOutcome, { kind: 'claimed' }> | undefined;
    try {
      const caller = await pipeline.admit(req, res, { requestId, policy });
      if (resolution.kind === 'not-found') {
        throw new AppError('NOT_FOUND', `No endpoint at ${method} ${url.pathname}`);
      }
      if (resolution.kind === 'method-not-allowed') {
        res.setHeader('Allow', resolution.allow.join(', '));
        throw new AppError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`, {
          allowed_methods: resolution.allow,
        });
      }
      const { route } = resolution.entry;
      const receiver = route.receiveBody;
      const body = receiver
        ? {
            parsed: await receiver(req, {
              blobs: options.blobs,
              execute: (document, variables = {}) =>
                execute({ document, variables, principal: caller.principal, requestId, client: caller.client }),
            }),
          }
        : await readJsonBody(req, method);
      const target = `${url.pathname}${url.search}`;
      const idempotent = await options.idempotency?.begin({
        req,
        method,
        target,
        principal: caller.principal,
        clientIp: caller.client.ip,
        rawBody: body.raw,
      });
      if (idempotent?.kind === 'replay') {
        res.setHeader(REPLAYED_HEADER, 'true');
        return send(res, idempotent.status, idempotent.body);
      }
      claim = idempotent ?? undefined;
      const { status, payload } = await runRoute(req, url, method, resolution, caller, body);
      if (route.redirect && !wantsJson(req)) {
        await claim?.release();
        return redirect(res, route.redirect(payload));
      }
      const answer = route.envelope === false ? payload : dialect.success(payload, context);
      await claim?.complete(status, answer);
      send(res, status, answer);
    } catch (error) {
      const appError = toAppError(error, logger, requestId);
      if (appError.code === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
      const answer = dialect.error(appError, context);
      await claim?.complete(appError.status, answer);
      send(res, appError.status, answer);
    }
  };
}

/** Our own errors are shown as they are; anything else is logged with the request id and masked. */
function toAppError(error: unknown, logger: Logger, requestId: string): AppError {
  if (error instanceof AppError) return error;
  logger.error({ err: error, requestId }, 'unexpected error in REST handler');
  return new AppError('INTERNAL_ERROR', 'Internal server error');
}

/**
 * Which documented route (its pattern, dialect and GraphQL operation name) a request is for,
 * resolved with the handler's own table: the gateway's request metrics label by it, never by the
 * raw path (unbounded label values).
 */
export function createRouteClassifier(
  routes: readonly RestRoute[],
): (method: string, pathname: string) => { route: string; dialect: string; operation: string } | null {
  const compiled = compileRoutes(routes);
  return (method, pathname) => {
    const resolved = resolveRoute(compiled, pathname, method);
    if (resolved.kind !== 'route') return null;
    const name = getOperationAST(resolved.entry.route.operation)?.name?.value ?? 'anonymous';
    return { route: resolved.entry.pattern, dialect: resolved.dialect.name, operation: name };
  };
}
