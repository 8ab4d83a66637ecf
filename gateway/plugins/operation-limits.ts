import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  visit,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { GraphQLLimits, SchemaVisibility } from '../../lib/env.js';
import { AppError } from '../../lib/errors.js';
import type { Principal } from '../../lib/principal.js';
import type { GatewayContext } from '../context.js';

/**
 * Operation limits for /graphql, checked on the raw request before Apollo parses, validates or
 * plans it: validation and planning cost grows with the document, and execution with its aliases
 * (issue 8: 10,000 aliased `__schema` fields from an anonymous caller built a 184 MB answer, took
 * 3 GB and blocked /health for minutes). graphql-armor offers the same checks for Apollo only as
 * validation rules, which run inside validation beside every other rule, and it has no per-caller
 * introspection; the checks below are the same ideas, run first.
 *
 * Tokens are counted by a lexer pass that stops at the limit, so an oversized document is neither
 * lexed whole nor parsed; only a document within it is parsed into the tree the other limits walk.
 */

type CountedLimit = 'maxAliases' | 'maxDepth' | 'maxRootFields' | 'maxDirectives';

const LIMIT_NOUN: Record<CountedLimit | 'maxTokens', string> = {
  maxTokens: 'tokens',
  maxAliases: 'aliases',
  maxDepth: 'levels of nesting',
  maxRootFields: 'root fields',
  maxDirectives: 'directives',
};

function limitExceeded(limit: CountedLimit | 'maxTokens', max: number, actual?: number): AppError {
  const has = actual === undefined ? '' : `: it has ${actual}`;
  return new AppError(
    'OPERATION_LIMIT_EXCEEDED',
    `Operation exceeds the limit of ${max} ${LIMIT_NOUN[limit]} (${limit})${has}`,
    { limit, max, ...(actual === undefined ? {} : { actual }) },
  );
}

interface SelectionShape {
  /** Aliased fields, each fragment spread counted again (that is what execution does). */
  aliases: number;
  /** Deepest field nesting below this selection set. */
  depth: number;
  /** Fields at this level, fragments flattened: the root fields when measured at the root. */
  fields: number;
}

/**
 * Measures a selection set through its fragments. Each fragment is measured once and reused, so
 * the walk stays linear even when spreads nest (counts may grow, which is the point: they are
 * what execution would do). A spread of an unknown or cyclic fragment counts as empty: validation
 * refuses those documents anyway.
 */
function measure(
  set: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  memo: Map<string, SelectionShape>,
  visiting: Set<string>,
): SelectionShape {
  const shape: SelectionShape = { aliases: 0, depth: 0, fields: 0 };
  const add = (inner: SelectionShape) => {
    shape.aliases += inner.aliases;
    shape.fields += inner.fields;
    shape.depth = Math.max(shape.depth, inner.depth);
  };
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      shape.fields += 1;
      if (selection.alias) shape.aliases += 1;
      const inner = selection.selectionSet
        ? measure(selection.selectionSet, fragments, memo, visiting)
        : { aliases: 0, depth: 0, fields: 0 };
      shape.aliases += inner.aliases;
      shape.depth = Math.max(shape.depth, 1 + inner.depth);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      add(measure(selection.selectionSet, fragments, memo, visiting));
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visiting.has(name)) continue;
      let inner = memo.get(name);
      if (!inner) {
        visiting.add(name);
        inner = measure(fragment.selectionSet, fragments, memo, visiting);
        visiting.delete(name);
        memo.set(name, inner);
      }
      add(inner);
    }
  }
  return shape;
}

export interface CheckedOperation {
  document: DocumentNode;
  /** Selects `__schema` or `__type` somewhere: introspection. */
  usesIntrospection: boolean;
}

/**
 * Tokens in the document, stopping one past `max`; undefined when it does not lex (Apollo reports
 * that syntax error itself).
 */
function countTokens(source: string, max: number): number | undefined {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF && count <= max) count += 1;
  } catch (error) {
    if (error instanceof GraphQLError) return undefined;
    throw error;
  }
  return count;
}

/**
 * Throws OPERATION_LIMIT_EXCEEDED (naming the limit and its value) for a document over a limit.
 * Returns undefined for a document that does not parse: Apollo reports the syntax error itself.
 */
export function checkOperationLimits(source: string, limits: GraphQLLimits): CheckedOperation | undefined {
  const tokens = countTokens(source, limits.maxTokens);
  if (tokens === undefined) return undefined;
  if (tokens > limits.maxTokens) throw limitExceeded('maxTokens', limits.maxTokens);
  let document: DocumentNode;
  try {
    document = parse(source, { maxTokens: limits.maxTokens, noLocation: true });
  } catch (error) {
    if (error instanceof GraphQLError) return undefined;
    throw error;
  }

  let directives = 0;
  let usesIntrospection = false;
  visit(document, {
    Directive() {
      directives += 1;
    },
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') usesIntrospection = true;
    },
  });
  if (directives > limits.maxDirectives) throw limitExceeded('maxDirectives', limits.maxDirectives, directives);

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const memo = new Map<string, SelectionShape>();
  let aliases = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const shape = measure(definition.selectionSet, fragments, memo, new Set());
    if (shape.fields > limits.maxRootFields) throw limitExceeded('maxRootFields', limits.maxRootFields, shape.fields);
    if (shape.depth > limits.maxDepth) throw limitExceeded('maxDepth', limits.maxDepth, shape.depth);
    // Only one operation runs, but a document is validated whole: count them all.
    aliases += shape.aliases;
  }
  if (aliases > limits.maxAliases) throw limitExceeded('maxAliases', limits.maxAliases, aliases);
  return { document, usesIntrospection };
}

/** Whether this caller may see the schema: introspection and "Did you mean" suggestions. */
export function canSeeSchema(visibility: SchemaVisibility, principal: Principal | null): boolean {
  if (visibility === 'public') return true;
  if (visibility === 'none') return false;
  return principal !== null;
}

/** Refuses introspection to a caller who may not see the schema. */
export function checkIntrospectionAllowed(visibility: SchemaVisibility, principal: Principal | null): void {
  if (canSeeSchema(visibility, principal)) return;
  if (visibility === 'none') throw new AppError('FORBIDDEN', 'Introspection is disabled on this gateway');
  throw new AppError('UNAUTHORIZED', 'Introspection needs an authenticated caller (API key or access token)');
}

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * Strips graphql-js's "Did you mean ...?" hints from errors sent to callers who may not see the
 * schema: they name fields, types and enum values, which is introspection by another door.
 */
export function createSchemaVisibilityPlugin(visibility: SchemaVisibility): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      if (canSeeSchema(visibility, contextValue.principal)) return;
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          response.body.singleResult.errors = response.body.singleResult.errors.map((error) => ({
            ...error,
            message: error.message.replace(SUGGESTION, ''),
          }));
        },
      };
    },
  };
}
