import { z } from 'zod';
import { getDialect, type DialectName, type JsonSchema } from './dialects.js';
import type { RestRoute } from './route.js';

/**
 * OpenAPI 3.1 per dialect, generated from the same route table the handler serves, so the
 * document cannot describe an endpoint differently from how it answers.
 */

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
  security: Record<string, string[]>[];
}

const SECURITY_SCHEMES = {
  bearer: {
    name: 'bearerAuth',
    scheme: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <token or API key>' },
  },
  'api-key': { name: 'apiKeyAuth', scheme: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
} as const;

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'Invalid request: VALIDATION_ERROR (details.fields lists every issue) or MALFORMED_JSON',
  '401': 'Missing or invalid credentials',
  '403': 'Authenticated, but not allowed (missing scope, or another tenant)',
  '404': 'Not found',
  '413': 'Request body over 1 MiB',
  '415': 'Request body is not JSON',
  '429': 'Rate limit exceeded; see Retry-After',
  '500': 'Internal error (details are logged under the request id, never shown)',
};

const RATE_LIMIT_HEADERS = {
  'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' },
  'X-RateLimit-Limit': { $ref: '#/components/headers/X-RateLimit-Limit' },
  'X-RateLimit-Remaining': { $ref: '#/components/headers/X-RateLimit-Remaining' },
  'X-RateLimit-Reset': { $ref: '#/components/headers/X-RateLimit-Reset' },
};

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    // zod bounds every int to the safe-integer range; in a reference that is noise.
    override: ({ jsonSchema }) => {
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
    },
  }) as JsonSchema;
  return rest;
}

/** Path and query parameters from an object schema: one parameter per property. */
function describeParameters(location: 'path' | 'query', schema: z.ZodType | undefined, path: string): unknown[] {
  const json = schema ? toJsonSchema(schema, 'input') : { properties: {}, required: [] };
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  if (location === 'path') {
    // Every `{name}` in the path is a parameter, whether or not the route validates it.
    return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: properties[name!] ?? { type: 'string' },
    }));
  }
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

function tagFor(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && !s.startsWith('{'));
  const withoutBase = segments[0] === 'api' ? segments.slice(segments[1] === 'v1' ? 2 : 1) : segments;
  return withoutBase[0] ?? 'service';
}

function toOperationId(method: string, path: string): string {
  const words = path
    .replace(/[{}]/g, '')
    .split(/[/_-]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return `${method.toLowerCase()}${words.join('') || 'Root'}`;
}

function describeOperation(route: RestRoute, dialectName: DialectName): Record<string, unknown> {
  const dialect = getDialect(dialectName);
  const payload = route.response ? toJsonSchema(route.response, 'output') : {};
  const body = route.envelope === false ? payload : dialect.successSchema(payload);
  const hasBody = route.input?.body !== undefined;
  const success = {
    description: route.redirect ? 'Only with Accept: application/json: the payload instead of the redirect' : 'Success',
    headers: RATE_LIMIT_HEADERS,
    content: { 'application/json': { schema: body } },
  };
  const errorCodes = [
    ...(route.input || hasBody ? ['400'] : []),
    '401',
    '403',
    ...(route.path.includes('{') ? ['404'] : []),
    ...(hasBody ? ['413', '415'] : []),
    '429',
    '500',
  ];
  const responses: Record<string, unknown> = { [String(route.status ?? 200)]: success };
  if (route.statusFrom) responses['503'] = { ...success, description: 'Reported unhealthy (same body)' };
  if (route.redirect) {
    responses['302'] = {
      description: 'Redirect (the default answer)',
      headers: {
        ...RATE_LIMIT_HEADERS,
        Location: { description: 'Where the browser goes next', schema: { type: 'string' } },
      },
    };
  }
  for (const code of errorCodes) {
    responses[code] = {
      description: ERROR_RESPONSES[code],
      headers: RATE_LIMIT_HEADERS,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return {
    operationId: toOperationId(route.method, route.path),
    summary: route.summary,
    tags: [tagFor(route.path)],
    parameters: [
      ...describeParameters('path', route.input?.params, route.path),
      ...describeParameters('query', route.input?.query, route.path),
      ...(dialect.versionHeader ? [{ $ref: '#/components/parameters/VersionHeader' }] : []),
    ],
    ...(hasBody
      ? {
          requestBody: {
            required: true,
            content: {
              [route.receiveBody ? 'multipart/form-data' : 'application/json']: {
                schema: toJsonSchema(route.input!.body!, 'input'),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/** The routes a dialect documents: its own, plus any another dialect serves on its behalf. */
function selectRoutes(dialect: DialectName, routes: readonly RestRoute[]): RestRoute[] {
  return routes.filter((route) => route.dialect === dialect || route.sharedWith?.includes(dialect));
}

export function buildOpenApi(dialect: DialectName, routes: readonly RestRoute[]): OpenApiDocument {
  const definition = getDialect(dialect);
  const security = SECURITY_SCHEMES[definition.credential];
  const paths: OpenApiDocument['paths'] = {};
  const tags = new Set<string>();
  for (const route of selectRoutes(dialect, routes)) {
    const operation = describeOperation(route, dialect);
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
    tags.add((operation.tags as string[])[0]!);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: definition.title,
      version: definition.versionHeader?.fallback ?? '1.0.0',
      description: `The ${definition.title} as served by this platform's REST compatibility layer.`,
    },
    servers: definition.mounts.map((mount) => ({ url: mount === '' ? '/' : mount })),
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas: { Error: definition.errorSchema },
      securitySchemes: { [security.name]: security.scheme },
      headers: {
        'X-Request-Id': {
          description: 'Echoes a valid caller X-Request-Id, else a new id',
          schema: { type: 'string' },
        },
        'X-RateLimit-Limit': { description: 'Requests allowed in the window', schema: { type: 'integer' } },
        'X-RateLimit-Remaining': { description: 'Requests left in the window', schema: { type: 'integer' } },
        'X-RateLimit-Reset': { description: 'When the window resets, unix seconds', schema: { type: 'integer' } },
      },
      parameters: definition.versionHeader
        ? {
            VersionHeader: {
              name: definition.versionHeader.name,
              in: 'header',
              required: false,
              description: `Echoed on the response; ${definition.versionHeader.fallback} when absent`,
              schema: { type: 'string' },
            },
          }
        : {},
    },
    security: [{ [security.name]: [] }],
  };
}

/**
 * A self-contained reference page: no CDN, no build step. It fetches the JSON document and lists
 * every operation with its parameters, body and responses.
 */
export function renderOpenApiHtml(dialect: DialectName): string {
  const { title } = getDialect(dialect);
  // JSON inside <script>: escape '<' so no value can close the tag.
  const specUrl = JSON.stringify(`/openapi/${dialect}.json`).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 24px; color: #1d2330; }
  h1 { margin-bottom: 4px; } .muted { color: #5b6475; }
  section.op { border: 1px solid #d7dce5; border-radius: 6px; margin: 12px 0; padding: 10px 14px; }
  .method { display: inline-block; min-width: 64px; font-weight: 700; font-family: ui-monospace, monospace; }
  .GET { color: #1a7f37; } .POST { color: #0550ae; } .PUT, .PATCH { color: #9a6700; } .DELETE { color: #cf222e; }
  code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
  pre { background: #f4f6f9; padding: 8px; overflow-x: auto; border-radius: 4px; }
  table { border-collapse: collapse; margin: 6px 0; } td, th { border: 1px solid #d7dce5; padding: 3px 8px; text-align: left; }
  h2 { margin-top: 28px; text-transform: capitalize; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">OpenAPI document: <a href="/openapi/${escapeHtml(dialect)}.json">/openapi/${escapeHtml(dialect)}.json</a></p>
<main id="ops"><p class="muted">Loading…</p></main>
<script>
(async () => {
  const main = document.getElementById('ops');
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    for (const child of children) node.append(child);
    return node;
  };
  const pretty = (value) => el('pre', {}, JSON.stringify(value, null, 2));
  const resolve = (doc, value) => {
    if (!value || typeof value !== 'object' || typeof value.$ref !== 'string') return value;
    return value.$ref.slice(2).split('/').reduce((node, key) => node && node[key], doc);
  };
  let doc;
  try {
    const response = await fetch(${specUrl});
    if (!response.ok) throw new Error('HTTP ' + response.status);
    doc = await response.json();
  } catch (error) {
    main.replaceChildren(el('p', {}, 'Could not load the OpenAPI document: ' + error.message));
    return;
  }
  const servers = (doc.servers || []).map((s) => s.url).join(', ');
  const security = Object.values(doc.components.securitySchemes || {})
    .map((s) => (s.type === 'apiKey' ? 'header ' + s.name : s.scheme + ' token')).join(' or ');
  main.replaceChildren(el('p', { class: 'muted' }, 'Servers: ' + servers + ' · Auth: ' + security));
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method: method.toUpperCase(), op });
    }
  }
  if (byTag.size === 0) main.append(el('p', {}, 'No operations served yet.'));
  for (const [tag, ops] of byTag) {
    main.append(el('h2', {}, tag));
    for (const { path, method, op } of ops) {
      const section = el('section', { class: 'op' },
        el('div', {}, el('span', { class: 'method ' + method }, method), el('code', {}, path)),
        el('div', {}, op.summary || ''));
      const params = (op.parameters || []).map((p) => resolve(doc, p));
      if (params.length) {
        const table = el('table', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'required'), el('th', {}, 'schema')));
        for (const p of params) table.append(el('tr', {}, el('td', {}, p.name), el('td', {}, p.in), el('td', {}, p.required ? 'yes' : 'no'), el('td', {}, el('code', {}, JSON.stringify(p.schema)))));
        section.append(table);
      }
      const body = op.requestBody && op.requestBody.content['application/json'];
      if (body) section.append(el('details', {}, el('summary', {}, 'Request body'), pretty(body.schema)));
      for (const [code, response] of Object.entries(op.responses || {})) {
        const content = response.content && response.content['application/json'];
        const schema = content ? resolve(doc, content.schema) : null;
        section.append(el('details', {}, el('summary', {}, code + ' ' + (response.description || '')), schema ? pretty(schema) : ''));
      }
      main.append(section);
    }
  }
})();
</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
