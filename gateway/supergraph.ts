import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { SubgraphModule } from '../lib/subgraph/service.js';
import { defaultSubgraphUrl } from '../lib/subgraph/topology.js';

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
