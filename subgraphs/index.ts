import type { SubgraphName } from '../lib/env.js';
import type { SubgraphModule } from '../lib/subgraph/service.js';
import { billingSubgraph } from './billing/server.js';
import { edgeSubgraph } from './edge/server.js';
import { identitySubgraph } from './identity/server.js';
import { platformSubgraph } from './platform/server.js';
import { telemetrySubgraph } from './telemetry/server.js';
import { tenancySubgraph } from './tenancy/server.js';

export const SUBGRAPHS: Record<SubgraphName, SubgraphModule> = {
  platform: platformSubgraph,
  tenancy: tenancySubgraph,
  billing: billingSubgraph,
  identity: identitySubgraph,
  telemetry: telemetrySubgraph,
  edge: edgeSubgraph,
};
