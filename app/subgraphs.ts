import type { SubgraphName } from '../lib/env.js';
import type { JobDefinition } from '../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import type { PrivacyHook } from '../lib/subgraph/privacy.js';
import type { SubgraphModule } from '../lib/subgraph/service.js';
import { billingSubgraph } from '../subgraphs/billing/server.js';
import { edgeSubgraph } from '../subgraphs/edge/server.js';
import { identitySubgraph } from '../subgraphs/identity/server.js';
import { platformSubgraph } from '../subgraphs/platform/server.js';
import { telemetrySubgraph } from '../subgraphs/telemetry/server.js';
import { tenancySubgraph } from '../subgraphs/tenancy/server.js';

/** The one list of subgraphs. Each declares its schema, jobs, privacy hook and start-up work. */
export const SUBGRAPHS: Record<SubgraphName, SubgraphModule> = {
  platform: platformSubgraph,
  tenancy: tenancySubgraph,
  billing: billingSubgraph,
  identity: identitySubgraph,
  telemetry: telemetrySubgraph,
  edge: edgeSubgraph,
};

/**
 * Every subgraph's job definitions, registered with the one queue. Handlers reach the database
 * and Redis through `deps()`: a getter, because the deps hold the queue itself and are built after it.
 */
export function subgraphJobs(deps: () => SubgraphDeps): JobDefinition[] {
  return Object.values(SUBGRAPHS).flatMap((module) => module.jobs?.(deps) ?? []);
}

/**
 * Every subgraph that holds data about a person, for export and erasure requests. The others'
 * models hold no per-user data: platform (incidents), tenancy (tenants), billing (plans), edge
 * (devices, which belong to a tenant, not a person).
 */
export const PRIVACY_HOOKS: readonly PrivacyHook[] = Object.values(SUBGRAPHS).flatMap((module) =>
  module.privacy ? [module.privacy] : [],
);
