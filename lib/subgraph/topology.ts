import type { SubgraphName } from '../env.js';

/**
 * Where each subgraph listens in production (docker-compose service names). They are written
 * into the checked-in supergraph; a gateway given SUBGRAPH_<NAME>_URL, or running a subgraph
 * in-process, overrides them. Subgraph and worker processes reach each other at the same URLs.
 */
export const DEFAULT_SUBGRAPH_PORTS: Record<SubgraphName, number> = {
  platform: 4001,
  tenancy: 4002,
  billing: 4003,
  identity: 4004,
  telemetry: 4005,
  edge: 4006,
};

export function defaultSubgraphUrl(name: SubgraphName): string {
  return `http://${name}:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`;
}
