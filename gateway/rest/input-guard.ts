import { AppError } from '../../lib/errors.js';
import { unstorableReason } from '../../lib/storable-text.js';

/**
 * Structural checks on every REST request's input, before route schemas, GraphQL or a database
 * see it (issue 8 part 9: a NUL byte in a path id was a 500 on 26 routes, and deeply nested
 * `parameters` a 500 too). PostgreSQL refuses NUL in text and lone UTF-16 surrogates cannot be
 * encoded as UTF-8, so no route can use such a string: refusing them here, once, is simpler and
 * surer than teaching every route and service. Depth and key count bound the work the route
 * schemas, variable coercion and JSON columns do on a body that is within the size limit.
 */
export const MAX_JSON_DEPTH = 64;
export const MAX_JSON_KEYS = 10_000;

export interface InputIssue {
  in: 'params' | 'query' | 'body';
  path: string;
  message: string;
}

function stringProblem(value: string): string | undefined {
  switch (unstorableReason(value)) {
    case 'nul':
      return 'must not contain NUL (\\u0000) characters';
    case 'lone_surrogate':
      return 'must be valid Unicode (it contains a lone surrogate)';
    default:
      return undefined;
  }
}

/** Reported at most; a body of a million bad strings would otherwise answer with a million issues. */
const MAX_ISSUES = 20;

interface Walk {
  issues: InputIssue[];
  keys: number;
  /** Set once the key limit is passed: nothing further is looked at. */
  stopped: boolean;
}

/**
 * Collects problems; stops descending past the depth limit and stops walking past the key limit.
 * `path` is one stack pushed and popped on the way (joined only for an issue): a batch body holds
 * thousands of values, and a copied path per value cost more than the checks.
 */
function inspect(location: InputIssue['in'], value: unknown, path: string[], walk: Walk): void {
  if (walk.stopped || walk.issues.length >= MAX_ISSUES) return;
  const { issues } = walk;
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    if (problem) issues.push({ in: location, path: path.join('.'), message: `String ${problem}` });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (path.length >= MAX_JSON_DEPTH) {
    issues.push({ in: location, path: path.join('.'), message: `Nested deeper than ${MAX_JSON_DEPTH} levels` });
    return;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      path.push(String(index));
      inspect(location, value[index], path, walk);
      path.pop();
    }
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    walk.keys += 1;
    if (walk.keys > MAX_JSON_KEYS) {
      issues.push({
        in: location,
        path: path.join('.'),
        message: `More than ${MAX_JSON_KEYS} keys in the ${location}`,
      });
      walk.stopped = true;
      return;
    }
    path.push(key);
    const problem = stringProblem(key);
    if (problem) issues.push({ in: location, path: path.join('.'), message: `Key ${problem}` });
    inspect(location, record[key], path, walk);
    path.pop();
  }
}

/** Throws VALIDATION_ERROR listing the problems (the first 20) in the params, query and body. */
export function guardRestInput(input: {
  params: Record<string, string>;
  query: Record<string, string | string[]>;
  body: unknown;
}): void {
  const issues: InputIssue[] = [];
  for (const location of ['params', 'query', 'body'] as const) {
    inspect(location, input[location], [], { issues, keys: 0, stopped: false });
  }
  if (issues.length === 0) return;
  throw new AppError(
    'VALIDATION_ERROR',
    `Invalid request: ${issues.length === 1 ? '1 issue' : `${issues.length} issues`}`,
    { fields: issues },
  );
}
