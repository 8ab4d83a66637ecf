import type { SubgraphName } from '../env.js';
import type { SubgraphDeps } from './context.js';

/** Whose data a hook exports or erases. tenantId is null for project owners (tenantsdb accounts). */
export interface PrivacySubject {
  deps: SubgraphDeps;
  userId: string;
  tenantId: string | null;
}

/** What one subgraph did for an erasure request, recorded per subgraph in the request's result. */
export interface ErasureOutcome {
  /** Rows deleted. */
  erased: number;
  /** Rows kept with the personal data replaced (records that must survive, e.g. the audit trail). */
  anonymized: number;
  /** What the hook could not do or prove, in words, so the record is honest about its limits. */
  notes?: string[];
}

/**
 * The one shape by which a subgraph takes part in data-subject requests (GDPR access and
 * erasure). Each subgraph that holds user data has a `subgraphs/<name>/privacy.ts` exporting one;
 * its `server.ts` declares it. A hook touches only its own subgraph's schema, like the rest
 * of that subgraph's code; the privacy jobs run every hook from the worker.
 *
 * Both functions must be idempotent: a job retried after a partial failure runs them again.
 */
export interface PrivacyHook {
  subgraph: SubgraphName;
  /** Everything the subgraph holds about the user, as plain JSON (no secrets, no hashes). */
  exportUserData(subject: PrivacySubject): Promise<Record<string, unknown>>;
  eraseUserData(subject: PrivacySubject): Promise<ErasureOutcome>;
}
