import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse } from '@apollo/server';
import {
  getArgumentValues,
  getNamedType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLFormattedError,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import { sanitizeAuditEntry, type AuditEntry } from '../../subgraphs/identity/contract.js';
import type { GatewayContext } from '../context.js';

/**
 * The audit trail of every state-changing operation, recorded in one place: the gateway sees
 * every mutation of every subgraph, from /graphql and from the REST layer alike (both run through
 * this Apollo Server), so no resolver writes audit rows by hand and none can forget to.
 *
 * One entry per mutation root field, built when the response is ready (so the outcome is known)
 * and handed to a sink that queues it for identity, which owns the audit_logs table. The sink is
 * never awaited by the response: auditing must not slow down or fail the caller's request.
 */
export type AuditSink = (entries: AuditEntry[]) => Promise<void>;

export interface AuditPluginOptions {
  sink: AuditSink;
  logger: Logger;
  /** Waits between sink attempts when queueing fails (Redis briefly away). Tests shorten them. */
  retryDelaysMs?: readonly number[];
}

/** Fields whose names do not say `verb + Resource`, or whose resource is the sign-in itself. */
const KNOWN_ACTIONS: Readonly<Record<string, { action: string; resource: string }>> = {
  login: { action: 'user.login', resource: 'auth' },
  register: { action: 'user.register', resource: 'auth' },
  logout: { action: 'user.logout', resource: 'auth' },
  refreshSession: { action: 'user.token_refresh', resource: 'auth' },
  completeOidcLogin: { action: 'user.sso_login', resource: 'auth' },
  completeSamlLogin: { action: 'user.sso_login', resource: 'auth' },
  signupAccount: { action: 'account.signup', resource: 'auth' },
  loginAccount: { action: 'account.login', resource: 'auth' },
};

/** Trailing words that name an attribute of the resource rather than the resource itself. */
const ATTRIBUTE_WORDS = new Set([
  'status',
  'settings',
  'password',
  'roles',
  'role',
  'config',
  'configuration',
  'limits',
  'flags',
  'profile',
  'metadata',
]);

/** Return-type suffixes that wrap a resource rather than being one. */
const WRAPPER_SUFFIX = /(Payload|Result|Response|Connection|Page)$/;

function words(name: string): string[] {
  return (name.match(/[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])/g) ?? [name]).map((w) => w.toLowerCase());
}

/**
 * The action and resource of a mutation field, from the small table above or deterministically
 * from its name: the first word is the verb, the resource is the return type when the name spells
 * it (`createApiKey` → `api_key.create`, `updateIncidentStatus` returning Incident →
 * `incident.update_status`), otherwise the words after the verb without a trailing attribute word
 * (`updateTenantSettings` → `tenant.update_settings`).
 */
export function describeMutation(
  fieldName: string,
  returnTypeName: string | null,
): { action: string; resource: string } {
  const known = KNOWN_ACTIONS[fieldName];
  if (known) return known;
  const [verb = fieldName.toLowerCase(), ...rest] = words(fieldName);
  if (rest.length === 0) {
    const resource = returnTypeName ? words(returnTypeName.replace(WRAPPER_SUFFIX, '')).join('_') : 'system';
    return { action: `${resource || 'system'}.${verb}`, resource: resource || 'system' };
  }
  let resourceWords: string[];
  const typeWords = returnTypeName ? words(returnTypeName.replace(WRAPPER_SUFFIX, '')) : [];
  if (typeWords.length > 0 && typeWords.length <= rest.length && typeWords.every((w, i) => rest[i] === w)) {
    resourceWords = typeWords;
  } else {
    let end = rest.length;
    while (end > 1 && ATTRIBUTE_WORDS.has(rest[end - 1]!)) end -= 1;
    resourceWords = rest.slice(0, end);
  }
  const resource = resourceWords.join('_');
  const verbPhrase = [verb, ...rest.slice(resourceWords.length)].join('_');
  return { action: `${resource}.${verbPhrase}`, resource };
}

/** Only identifiers are ever copied out of arguments: never values that could be secrets or personal data. */
const ID_ARGUMENT = /^(id|[a-zA-Z]+Id)$/;
const NEVER_COPY = /token|secret|password|code/i;

function idArguments(args: Record<string, unknown>): Record<string, string> {
  const ids: Record<string, string> = {};
  const collect = (source: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(source)) {
      if (!ID_ARGUMENT.test(name) || NEVER_COPY.test(name)) continue;
      if ((typeof value === 'string' || typeof value === 'number') && String(value).length <= 200) {
        ids[`${prefix}${name}`] = String(value);
      }
    }
  };
  collect(args, '');
  if (isRecord(args.input)) collect(args.input, 'input.');
  return ids;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(value: unknown, key: string): string | null {
  if (!isRecord(value)) return null;
  const field = value[key];
  return typeof field === 'string' || typeof field === 'number' ? String(field) : null;
}

/** Root fields as the operation selects them, through inline fragments and fragment spreads. */
function rootFields(operation: OperationDefinitionNode, document: DocumentNode | undefined): FieldNode[] {
  const fragments = new Map(
    (document?.definitions ?? []).flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d]] : [])),
  );
  const fields: FieldNode[] = [];
  const seen = new Set<string>();
  const walk = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        if (!seen.has(key) && !selection.name.value.startsWith('__')) {
          seen.add(key);
          fields.push(selection);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return fields;
}

function errorCode(error: GraphQLFormattedError | undefined): string {
  const code = error?.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_ERROR';
}

/** Builds the entries of one finished mutation; exported for focused tests. */
export function buildAuditEntries(
  requestContext: Pick<
    GraphQLRequestContextWillSendResponse<GatewayContext>,
    'operation' | 'document' | 'request' | 'response' | 'contextValue' | 'schema'
  >,
  now = new Date(),
): AuditEntry[] {
  const { operation, contextValue, response } = requestContext;
  if (!operation || operation.operation !== 'mutation') return [];
  const { principal, client, requestId } = contextValue;
  // The gateway's own bookkeeping calls (credential resolution) are not actions of a caller, and
  // an edge device's heartbeats and state reports (thousands a rollout) are recorded by edge itself.
  if (principal?.kind === 'service' && (principal.id === 'gateway' || principal.id.startsWith('device:'))) return [];
  if (response.body.kind !== 'single') return [];
  const { data, errors = [] } = response.body.singleResult;
  const mutationType = requestContext.schema.getMutationType();
  const variables = requestContext.request.variables ?? {};
  const unplacedError = errors.find((e) => !e.path || e.path.length === 0);

  return rootFields(operation, requestContext.document).map((node) => {
    const name = node.name.value;
    const key = node.alias?.value ?? name;
    const fieldDef = mutationType?.getFields()[name];
    const namedType = fieldDef ? getNamedType(fieldDef.type) : null;
    const { action, resource } = describeMutation(name, namedType && isObjectType(namedType) ? namedType.name : null);
    let args: Record<string, unknown> = {};
    try {
      // Only the arguments an entry can copy from (ids, and `input` for its ids) are coerced: a
      // batch argument (2,500 ingested events) would otherwise be coerced once more just to be dropped.
      if (fieldDef) {
        const copied = fieldDef.args.filter((arg) => arg.name === 'input' || ID_ARGUMENT.test(arg.name));
        args = getArgumentValues({ ...fieldDef, args: copied }, node, variables);
      }
    } catch {
      // Arguments that did not coerce never reached a resolver; the entry records the failure without them.
    }
    const result = isRecord(data) ? data[key] : undefined;
    // The field's own error (its path starts at its key), or an error for the whole operation
    // when the field produced nothing (a subgraph that could not be reached).
    const ownError = errors.find((e) => e.path?.[0] === key && e.path.length === 1);
    const failed = ownError ?? (result === undefined || result === null ? unplacedError : undefined);
    const user = isRecord(result) && isRecord(result.user) ? result.user : null;
    // Sign-in mutations run without a principal: their actor is the user the answer names.
    const actorId = principal?.id ?? stringField(user, 'id') ?? stringField(result, 'userId');
    const resourceId =
      stringField(args, 'id') ?? stringField(args.input, 'id') ?? stringField(result, 'id') ?? stringField(user, 'id');
    const ids = idArguments(args);
    // Ids come from the caller: a NUL byte or an overlong id must not make this entry (and the
    // batch it travels in) unstorable, or one aliased field could erase its siblings' entries.
    return sanitizeAuditEntry({
      id: newId('aud'),
      // Tenant and project come from the principal; from the answer only when the caller is not
      // bound to one (the operator, a sign-in), never from an id the caller typed.
      tenantId: principal?.tenantId ?? stringField(result, 'tenantId') ?? stringField(user, 'tenantId'),
      projectId: principal?.projectId ?? stringField(result, 'projectId') ?? stringField(user, 'projectId'),
      actorId,
      actorKind: principal?.kind ?? (actorId ? 'user' : null),
      action,
      resource,
      resourceId,
      outcome: failed ? 'failure' : 'success',
      errorCode: failed ? errorCode(failed) : null,
      ip: client.ip,
      userAgent: client.userAgent ? client.userAgent.slice(0, 1000) : null,
      requestId,
      details: {
        field: name,
        // The operation's name is the client's choice: kept short, it only helps find the call site.
        ...(operation.name ? { operation: operation.name.value.slice(0, 100) } : {}),
        ...(Object.keys(ids).length > 0 ? { ids } : {}),
      },
      createdAt: now.toISOString(),
    });
  });
}

const BATCH = 100;
const DEFAULT_RETRY_DELAYS_MS = [200, 1000, 3000] as const;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export function createAuditPlugin(options: AuditPluginOptions): ApolloServerPlugin<GatewayContext> {
  const { sink, logger } = options;
  const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const pending = new Set<Promise<void>>();

  const deliverOne = async (entry: AuditEntry, batchError: unknown) => {
    try {
      await sink([entry]);
    } catch (error) {
      logger.error({ err: error, batchErr: batchError, auditEntries: [entry] }, 'audit entry could not be queued');
    }
  };
  // Retries cover a blip in the queue's connection; after that the entries go to the error log,
  // which is the last durable place left, so an outage leaves a trace rather than nothing.
  const deliver = async (entries: AuditEntry[]) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await sink(entries);
        return;
      } catch (error) {
        const delay = retryDelays[attempt];
        if (delay === undefined) {
          if (entries.length > 1) {
            // Whatever made the batch fail must cost only the entry that caused it: each is
            // handed over alone, and only those refused even then end in the error log.
            for (const entry of entries) await deliverOne(entry, error);
            return;
          }
          logger.error({ err: error, auditEntries: entries }, 'audit entries could not be queued');
          return;
        }
        logger.warn({ err: error, attempt: attempt + 1 }, 'queueing audit entries failed; retrying');
        await sleep(delay);
      }
    }
  };

  return {
    async serverWillStart() {
      return {
        // A graceful stop waits for entries still being handed over.
        async serverWillStop() {
          await Promise.allSettled([...pending]);
        },
      };
    },
    async requestDidStart() {
      return {
        async willSendResponse(requestContext) {
          let entries: AuditEntry[];
          try {
            entries = buildAuditEntries(requestContext);
          } catch (error) {
            // A bug here must not turn a successful mutation into a failed response.
            logger.error(
              { err: error, requestId: requestContext.contextValue.requestId },
              'building audit entries failed',
            );
            return;
          }
          for (let i = 0; i < entries.length; i += BATCH) {
            const work = deliver(entries.slice(i, i + BATCH)).finally(() => pending.delete(work));
            pending.add(work);
          }
        },
      };
    },
  };
}
