import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { SubgraphName } from '../lib/env.js';
import type { SubgraphModule } from '../lib/subgraph/service.js';

/**
 * Where each subgraph listens in production (docker-compose service names). They are written
 * into the checked-in supergraph; a gateway given SUBGRAPH_<NAME>_URL, or running a subgraph
 * in-process, overrides them.
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

export function printSubgraphSdl(module: SubgraphModule): string {
  return printSubgraphSchema(module.schema);
}

/** Composes the supergraph in JS (the rover CLI cannot be installed here); fails with every composition error. */
export function composeSupergraph(modules: SubgraphModule[]): string {
  const result = composeServices(
    modules.map((m) => ({ name: m.name, url: defaultSubgraphUrl(m.name), typeDefs: parse(printSubgraphSdl(m)) })),
  );
  if (result.errors) {
    throw new Error(`Supergraph composition failed:\n${result.errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}
