import { createRequire } from 'node:module';
import type { DefinitionNode, DocumentNode, OperationDefinitionNode } from 'graphql';

/**
 * Two costs of @apollo/gateway 2.14.4's query plan execution that are paid again on every request,
 * removed without changing what it answers:
 *
 * 1. `executeQueryPlan` rebuilds the federation `Operation` of the request from its AST on every
 *    call (`operationFromDocument(apiSchema, {operation, ...fragments}, { validate: false })`),
 *    although Apollo Server hands it the same parsed nodes for every request of a document. The
 *    Operation is only read afterwards (result shaping, @defer/@include conditions), so it is
 *    built once per (schema, operation node, fragment nodes) and reused.
 * 2. `computeResponse` (resultShaping.js), which shapes the merged subgraph data into the answer,
 *    re-reads each selection's @skip/@include directives (two filtered arrays per selection per
 *    object), allocates a result record per value, and reaches every helper of
 *    @apollo/federation-internals through its index's re-export getters. The replacement below is
 *    the same algorithm, line for line (same checks, same errors, same null bubbling, same order),
 *    over selection sets compiled once each: the directive conditions, response name, field type
 *    and kind are read once, results travel in two flags instead of objects, and the helpers are
 *    bound once.
 *
 * Both are installed by replacing the modules' exports, which their callers read at call time
 * (`(0, resultShaping_1.computeResponse)(…)`; the index getters read `operations.js`). They are
 * installed only on the exact versions they were written against; any other version runs Apollo's
 * own code.
 */

const require = createRequire(import.meta.url);
const SUPPORTED_GATEWAY = '2.14.4';

/* eslint-disable @typescript-eslint/no-explicit-any -- federation-internals objects, used as Apollo's own JS does */
type Any = any;

interface Internals {
  assert: (condition: unknown, message: string | (() => string)) => void;
  isNonNullType: (type: Any) => boolean;
  isListType: (type: Any) => boolean;
  isCompositeType: (type: Any) => boolean;
  isObjectType: (type: Any) => boolean;
  isSubtype: (type: Any, maybeSubType: Any) => boolean;
  isValidLeafValue: (schema: Any, value: unknown, type: Any) => boolean;
  typenameFieldName: string;
  Variable: new (...args: Any[]) => { name: string };
  ERRORS: { INVALID_GRAPHQL: { err: (message: string, options: { path: (string | number)[] }) => Error } };
}

const OK = 0;
const NULL_BUBBLE_UP = 1;

/** A directive condition: absent, a constant, or a variable read at run time. */
type Condition = undefined | boolean | { variable: string; text: string };

interface FieldEntry {
  field: true;
  skip: Condition;
  include: Condition;
  /** `directive.toString()` for the same assertion message as Apollo's. */
  skipText: string;
  includeText: string;
  selection: Any;
  responseName: string;
  type: Any;
  isIntrospection: boolean;
  isTypename: boolean;
  selectionSet: Any;
}

interface FragmentEntry {
  field: false;
  skip: Condition;
  include: Condition;
  skipText: string;
  includeText: string;
  typeCondition: Any;
  selectionSet: Any;
}

type Entry = FieldEntry | FragmentEntry;

interface ShapeParameters {
  schema: Any;
  variables: Record<string, unknown>;
  errors: Error[];
  introspectionHandling: (selection: Any) => unknown;
}

export function createResultShaper(fi: Internals) {
  const { assert, isNonNullType, isListType, isCompositeType, isObjectType, isSubtype, isValidLeafValue, ERRORS } = fi;
  const TYPENAME = fi.typenameFieldName;
  const hasOwnProperty = Object.prototype.hasOwnProperty;
  const compiled = new WeakMap<object, Entry[]>();

  const condition = (directive: Any): Condition => {
    if (!directive) return undefined;
    const ifArg = directive.arguments().if;
    if (ifArg instanceof fi.Variable) return { variable: ifArg.name, text: String(ifArg) };
    return ifArg as boolean;
  };

  const compile = (selectionSet: Any, schema: Any): Entry[] => {
    let entries = compiled.get(selectionSet);
    if (entries) return entries;
    entries = [];
    for (const selection of selectionSet.selections()) {
      const element = selection.element;
      const skipDirective = element.appliedDirectivesOf(schema.skipDirective())[0];
      const includeDirective = element.appliedDirectivesOf(schema.includeDirective())[0];
      const base = {
        skip: condition(skipDirective),
        include: condition(includeDirective),
        skipText: skipDirective ? String(skipDirective) : '',
        includeText: includeDirective ? String(includeDirective) : '',
      };
      if (selection.kind === 'FieldSelection') {
        entries.push({
          field: true,
          ...base,
          selection,
          responseName: element.responseName(),
          type: element.definition.type,
          isIntrospection: element.definition.isSchemaIntrospectionField(),
          isTypename: element.name === TYPENAME,
          selectionSet: selection.selectionSet,
        });
      } else {
        entries.push({
          field: false,
          ...base,
          typeCondition: element.typeCondition,
          selectionSet: selection.selectionSet,
        });
      }
    }
    compiled.set(selectionSet, entries);
    return entries;
  };

  const ifValue = (value: Condition, text: string, variables: Record<string, unknown>): boolean => {
    if (typeof value !== 'object') return value as boolean;
    const resolved = variables[value.variable];
    assert(
      resolved !== undefined && typeof resolved === 'boolean',
      () => `Unexpected value ${String(resolved)} for variable ${value.text} of ${text}`,
    );
    return resolved as boolean;
  };

  const shouldSkip = (entry: Entry, variables: Record<string, unknown>): boolean =>
    (entry.skip !== undefined && ifValue(entry.skip, entry.skipText, variables)) ||
    (entry.include !== undefined && !ifValue(entry.include, entry.includeText, variables));

  const typeConditionApplies = (schema: Any, typeCondition: Any, typename: unknown, parentType: Any): boolean => {
    if (!typeCondition) return true;
    if (typename) {
      const type = schema.type(typename);
      return !!type && isSubtype(typeCondition, type);
    }
    return isSubtype(typeCondition, parentType);
  };

  const pathLastElementDescription = (path: (string | number)[], currentType: Any, parentType: Any): string => {
    const element = path[path.length - 1];
    assert(element !== undefined, 'Should not have been called on an empty path');
    return typeof element === 'string'
      ? `field ${String(parentType)}.${element}`
      : `array element of type ${String(currentType)} at index ${element}`;
  };

  // updateOutputValue's `hasErrors` and `isInvalid`, returned beside its value.
  let hasErrorsOut = false;
  let isInvalidOut = false;

  const applySelectionSet = (
    input: Any,
    selectionSet: Any,
    output: Any,
    parameters: ShapeParameters,
    path: (string | number)[],
    parentType: Any,
  ): number => {
    const entries = compile(selectionSet, parameters.schema);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (shouldSkip(entry, parameters.variables)) continue;
      if (entry.field) {
        const responseName = entry.responseName;
        const outputValue = output[responseName];
        if (entry.isIntrospection) {
          if (outputValue === undefined) output[responseName] = parameters.introspectionHandling(entry.selection);
          continue;
        }
        let inputValue = (hasOwnProperty.call(input, responseName) ? input[responseName] : undefined) ?? null;
        if (entry.isTypename) {
          if (outputValue === undefined) {
            if (inputValue === null && responseName !== TYPENAME) inputValue = input[TYPENAME] ?? null;
            const type =
              inputValue !== null && typeof inputValue === 'string'
                ? (parameters.schema.type(inputValue) ?? parentType)
                : parentType;
            if (!isObjectType(type)) return NULL_BUBBLE_UP;
            output[responseName] = type.name;
          }
          continue;
        }
        path.push(responseName);
        const updated = updateOutputValue(
          outputValue,
          entry.type,
          inputValue,
          entry.selectionSet,
          path,
          parameters,
          parentType,
        );
        const isInvalid = isInvalidOut;
        output[responseName] = updated;
        path.pop();
        if (isInvalid) return NULL_BUBBLE_UP;
      } else {
        const typename = input[TYPENAME];
        assert(!typename || typeof typename === 'string', () => `Got unexpected value for __typename: ${typename}`);
        if (typeConditionApplies(parameters.schema, entry.typeCondition, typename, parentType)) {
          const res = applySelectionSet(
            input,
            entry.selectionSet,
            output,
            parameters,
            path,
            entry.typeCondition ?? parentType,
          );
          if (res === NULL_BUBBLE_UP) return NULL_BUBBLE_UP;
        }
      }
    }
    return OK;
  };

  const done = (value: unknown, hasErrors: boolean, isInvalid: boolean): Any => {
    hasErrorsOut = hasErrors;
    isInvalidOut = isInvalid;
    return value;
  };

  const updateOutputValue = (
    outputValue: Any,
    type: Any,
    inputValue: Any,
    selectionSet: Any,
    path: (string | number)[],
    parameters: ShapeParameters,
    parentType: Any,
  ): Any => {
    assert(inputValue !== undefined, 'Should not pass undefined for `inputValue` to this method');
    if (outputValue === null || (outputValue !== undefined && !selectionSet)) return done(outputValue, false, false);
    if (isNonNullType(type)) {
      const updated = updateOutputValue(
        outputValue,
        type.ofType,
        inputValue,
        selectionSet,
        path,
        parameters,
        parentType,
      );
      if (updated === null) {
        if (!hasErrorsOut) {
          parameters.errors.push(
            ERRORS.INVALID_GRAPHQL.err(
              `Cannot return null for non-nullable ${pathLastElementDescription(path, type.ofType, parentType)}.`,
              { path: Array.from(path) },
            ),
          );
        }
        return done(updated, true, true);
      }
      // Apollo returns `{ updated }` here: neither flag is carried up.
      return done(updated, false, false);
    }
    if (inputValue === null) return done(null, false, false);
    if (isListType(type)) {
      assert(
        Array.isArray(inputValue),
        () => `Invalid non-list value ${inputValue} returned by subgraph for list type ${String(type)}`,
      );
      assert(
        outputValue === undefined || Array.isArray(outputValue),
        () => `Invalid non-list value ${outputValue} returned by subgraph for list type ${String(type)}`,
      );
      const length = inputValue.length;
      assert(
        outputValue === undefined || outputValue.length === length,
        () => `[${inputValue}].length (${length}) !== [${outputValue}].length (${outputValue.length})`,
      );
      let shouldNullify = false;
      let hasErrors = false;
      const updated = new Array(length);
      for (let idx = 0; idx < length; idx++) {
        path.push(idx);
        updated[idx] = updateOutputValue(
          outputValue === undefined ? undefined : outputValue[idx],
          type.ofType,
          inputValue[idx],
          selectionSet,
          path,
          parameters,
          parentType,
        );
        path.pop();
        shouldNullify ||= isInvalidOut;
        hasErrors ||= hasErrorsOut;
      }
      return done(shouldNullify ? null : updated, hasErrors, false);
    }
    if (isCompositeType(type)) {
      assert(selectionSet, () => `Invalid empty selection set for composite type ${String(type)}`);
      assert(
        typeof inputValue === 'object',
        () => `Invalid non-object value ${inputValue} returned by subgraph for composite type ${String(type)}`,
      );
      assert(
        outputValue === undefined || typeof outputValue === 'object',
        () => `Invalid non-object value ${inputValue} returned by subgraph for composite type ${String(type)}`,
      );
      const inputTypename = inputValue[TYPENAME];
      assert(
        inputTypename === undefined || typeof inputTypename === 'string',
        () => `Invalid non-string value ${inputTypename} for __typename at ${String(path)}`,
      );
      let objType = type;
      if (inputTypename) {
        const typenameType = parameters.schema.type(inputTypename);
        if (!typenameType || !isCompositeType(typenameType)) {
          parameters.errors.push(
            ERRORS.INVALID_GRAPHQL.err(
              `Invalid __typename found for object at ${pathLastElementDescription(path, type, parentType)}.`,
              { path: Array.from(path) },
            ),
          );
          return done(null, true, false);
        }
        objType = typenameType;
      }
      const outputValueObject = outputValue === undefined ? Object.create(null) : outputValue;
      const res = applySelectionSet(inputValue, selectionSet, outputValueObject, parameters, path, objType);
      const hasErrors = res === NULL_BUBBLE_UP;
      return done(hasErrors ? null : outputValueObject, hasErrors, false);
    }
    assert(
      outputValue === undefined,
      () => `Excepted output to be undefined but got ${String(type)} for type ${String(type)}`,
    );
    const isValidValue = isValidLeafValue(parameters.schema, inputValue, type);
    if (!isValidValue) {
      parameters.errors.push(
        ERRORS.INVALID_GRAPHQL.err(`Invalid value found for ${pathLastElementDescription(path, type, parentType)}.`, {
          path: Array.from(path),
        }),
      );
    }
    return done(isValidValue ? inputValue : null, !isValidValue, false);
  };

  /** resultShaping.computeResponse, same arguments and answer. */
  return function computeResponse({
    operation,
    variables,
    input,
    introspectionHandling,
  }: {
    operation: Any;
    variables?: Record<string, unknown>;
    input: Any;
    introspectionHandling: (selection: Any) => unknown;
  }): { data: Any; errors: Error[] } {
    if (!input) return { data: input, errors: [] };
    const schema = operation.schema();
    const parameters: ShapeParameters = {
      schema,
      variables: { __proto__: null, ...operation.collectDefaultedVariableValues(), ...variables } as Record<
        string,
        unknown
      >,
      errors: [],
      introspectionHandling,
    };
    const data = Object.create(null);
    const res = applySelectionSet(
      input,
      operation.selectionSet,
      data,
      parameters,
      [],
      schema.schemaDefinition.rootType(operation.rootKind),
    );
    return { data: res === NULL_BUBBLE_UP ? null : data, errors: parameters.errors };
  };
}

/**
 * operationFromDocument, remembering the Operations of executeQueryPlan's calls: those documents
 * are built per request around the same operation and fragment nodes, passed with `validate: false`
 * and no operation name. Any other call goes straight through.
 */
export function memoizeOperationFromDocument(
  original: (schema: object, document: DocumentNode, options?: Record<string, unknown>) => unknown,
) {
  const bySchema = new WeakMap<object, WeakMap<OperationDefinitionNode, { rest: DefinitionNode[]; op: unknown }>>();
  return function operationFromDocument(
    schema: object,
    document: DocumentNode,
    options?: Record<string, unknown>,
  ): unknown {
    const first = document.definitions[0];
    const eligible =
      options?.validate === false &&
      options.operationName === undefined &&
      Object.keys(options).length === 1 &&
      first?.kind === 'OperationDefinition';
    if (!eligible) return original(schema, document, options);
    const rest = document.definitions.slice(1);
    let byNode = bySchema.get(schema);
    const known = byNode?.get(first);
    if (known && known.rest.length === rest.length && known.rest.every((node, i) => node === rest[i])) return known.op;
    const op = original(schema, document, options);
    if (!byNode) bySchema.set(schema, (byNode = new WeakMap()));
    byNode.set(first, { rest, op });
    return op;
  };
}

let installed = false;

/** Installs both on @apollo/gateway's modules (once per process); false when not installed. */
export function installApolloFastPath(): boolean {
  if (installed) return true;
  const gatewayVersion = (require('@apollo/gateway/package.json') as { version: string }).version;
  if (gatewayVersion !== SUPPORTED_GATEWAY) return false;
  const shaping = require('@apollo/gateway/dist/resultShaping.js') as { computeResponse: unknown };
  const operations = require('@apollo/federation-internals/dist/operations.js') as {
    operationFromDocument: Parameters<typeof memoizeOperationFromDocument>[0];
  };
  const internals = require('@apollo/federation-internals') as Internals;
  if (typeof shaping.computeResponse !== 'function' || typeof operations.operationFromDocument !== 'function') {
    return false;
  }
  shaping.computeResponse = createResultShaper(internals);
  operations.operationFromDocument = memoizeOperationFromDocument(operations.operationFromDocument);
  installed = true;
  return true;
}
