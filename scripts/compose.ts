import { writeFile } from 'node:fs/promises';
import { composeSupergraph, printSubgraphSdl } from '../gateway/supergraph.js';
import { SUBGRAPHS } from '../app/subgraphs.js';
import { printApiIntrospection } from './api-types.js';

// `npm run compose`: writes each subgraph's SDL and the composed supergraph into schema/, the
// checked-in contract that test/schema-drift.test.ts compares with the code, and the API schema's
// types that the REST routes' GraphQL documents are checked against (gateway/rest/graphql.ts).
const modules = Object.values(SUBGRAPHS);
for (const module of modules) {
  await writeFile(new URL(`../schema/${module.name}.graphql`, import.meta.url), `${printSubgraphSdl(module)}\n`);
}
const supergraph = composeSupergraph(modules);
await writeFile(new URL('../schema/supergraph.graphql', import.meta.url), `${supergraph}\n`);
await writeFile(new URL('../gateway/rest/graphql-env.d.ts', import.meta.url), printApiIntrospection(supergraph));
process.stdout.write(
  `wrote schema/{${modules.map((m) => m.name).join(',')},supergraph}.graphql and gateway/rest/graphql-env.d.ts\n`,
);
