import { AppError } from '../errors.js';
import type { SubgraphName } from '../env.js';
import { newId } from '../ids.js';
import { PRINCIPAL_HEADER, signPrincipal, type Principal } from '../principal.js';
import type { SubgraphService } from './service.js';

/**
 * Subgraph-to-subgraph calls: one subgraph asking another to do something it owns (tenancy asking
 * identity for a tenant's first admin). Always as a service principal with a dedicated internal
 * scope, never with the end caller's principal: the target decides from that scope alone, so a
 * caller cannot borrow a subgraph's rights, and the subgraph cannot borrow the caller's.
 *
 * The call goes through the target's own pipeline (signed header → verified context → resolvers
 * → error masking), in-process or over HTTP, exactly like a gateway fetch.
 */

export interface SubgraphCallError {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface SubgraphCallResult<T> {
  data?: T | null;
  errors?: readonly SubgraphCallError[];
}

export interface SubgraphCallOptions {
  document: string;
  variables?: Record<string, unknown>;
  /** Must be a service principal (kind 'service'). */
  principal: Principal;
  /** Ties the call to the request that caused it in both subgraphs' logs. */
  requestId?: string;
}

export interface SubgraphClient {
  call<T = Record<string, unknown>>(name: SubgraphName, options: SubgraphCallOptions): Promise<SubgraphCallResult<T>>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function signed(options: SubgraphCallOptions, secret: string): { requestId: string; header: string } {
  if (options.principal.kind !== 'service') {
    // A bug, not a caller error: forwarding a user's principal would let it act with a subgraph's reach.
    throw new AppError('INTERNAL_ERROR', 'Subgraph calls are made as a service principal only');
  }
  const requestId = options.requestId ?? newId('svc');
  return { requestId, header: signPrincipal(options.principal, requestId, secret) };
}

/** Embedded transport: the target's Apollo Server in this process, context built from the signed header. */
export function createInProcessSubgraphClient(options: {
  services: () => Partial<Record<SubgraphName, SubgraphService>>;
  signingSecret: string;
}): SubgraphClient {
  return {
    async call<T>(name: SubgraphName, call: SubgraphCallOptions): Promise<SubgraphCallResult<T>> {
      const service = options.services()[name];
      if (!service) throw new AppError('SERVICE_UNAVAILABLE', `The ${name} service is not running`);
      const { requestId, header } = signed(call, options.signingSecret);
      const contextValue = await service.contextFromHeaders({ [PRINCIPAL_HEADER]: header, 'x-request-id': requestId });
      const response = await service.apollo.executeOperation(
        { query: call.document, variables: call.variables ?? {} },
        { contextValue },
      );
      if (response.body.kind !== 'single') throw new Error('In-process subgraph returned an incremental response');
      const { data, errors } = response.body.singleResult;
      return {
        data: (data ?? null) as T | null,
        ...(errors ? { errors: errors.map((e) => ({ message: e.message, extensions: e.extensions })) } : {}),
      };
    },
  };
}

/** Production transport: POST to the target subgraph's URL with the signed principal header. */
export function createHttpSubgraphClient(options: {
  urls: () => Partial<Record<SubgraphName, string>>;
  signingSecret: string;
  timeoutMs?: number;
}): SubgraphClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    async call<T>(name: SubgraphName, call: SubgraphCallOptions): Promise<SubgraphCallResult<T>> {
      const url = options.urls()[name];
      if (!url) {
        throw new AppError('NOT_CONFIGURED', `No URL for the ${name} subgraph`, {
          variable: `SUBGRAPH_${name.toUpperCase()}_URL`,
        });
      }
      const { requestId, header } = signed(call, options.signingSecret);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [PRINCIPAL_HEADER]: header, 'x-request-id': requestId },
          body: JSON.stringify({ query: call.document, variables: call.variables ?? {} }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const name_ = (error as Error).name;
        if (name_ === 'TimeoutError' || name_ === 'AbortError') {
          throw new AppError('TIMEOUT', `The ${name} service did not answer in time`);
        }
        throw new AppError('SERVICE_UNAVAILABLE', `The ${name} service is unavailable`);
      }
      let body: SubgraphCallResult<T>;
      try {
        body = (await response.json()) as SubgraphCallResult<T>;
      } catch {
        throw new AppError('SERVICE_UNAVAILABLE', `The ${name} service answered with something other than JSON`, {
          status: response.status,
        });
      }
      return body;
    },
  };
}
