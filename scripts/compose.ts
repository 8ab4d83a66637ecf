import { writeFile } from 'node:fs/promises';
import { composeSupergraph, printSubgraphSdl } from '../gateway/supergraph.js';
import { SUBGRAPHS } from '../app/subgraphs.js';

// `npm run compose`: writes each subgraph's SDL and the composed supergraph into schema/, the
// checked-in contract that test/schema-drift.test.ts compares with the code.
const modules = Object.values(SUBGRAPHS);
for (const module of modules) {
  await writeFile(new URL(`../schema/${module.name}.graphql`, import.meta.url), `${printSubgraphSdl(module)}\n`);
}
await writeFile(new URL('../schema/supergraph.graphql', import.meta.url), `${composeSupergraph(modules)}\n`);
process.stdout.write(`wrote schema/{${modules.map((m) => m.name).join(',')},supergraph}.graphql\n`);
