import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { composeSupergraph, printSubgraphSdl } from '../gateway/supergraph.js';
import { SUBGRAPHS } from '../app/subgraphs.js';
import { printApiIntrospection } from '../scripts/api-types.js';

// schema/ is the checked-in contract: a change to a subgraph's types must come with `npm run compose`.
describe('schema/ matches the code', () => {
  const modules = Object.values(SUBGRAPHS);

  it.each(modules.map((m) => [m.name, m] as const))('%s subgraph SDL', async (name, module) => {
    const checkedIn = await readFile(new URL(`../schema/${name}.graphql`, import.meta.url), 'utf8');
    expect(checkedIn, `schema/${name}.graphql is stale: run npm run compose`).toBe(`${printSubgraphSdl(module)}\n`);
  });

  it('composed supergraph', async () => {
    const checkedIn = await readFile(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
    expect(checkedIn, 'schema/supergraph.graphql is stale: run npm run compose').toBe(
      `${composeSupergraph(modules)}\n`,
    );
  });

  it('API schema types of the REST routes', async () => {
    const checkedIn = await readFile(new URL('../gateway/rest/graphql-env.d.ts', import.meta.url), 'utf8');
    expect(checkedIn, 'gateway/rest/graphql-env.d.ts is stale: run npm run compose').toBe(
      printApiIntrospection(composeSupergraph(modules)),
    );
  });
});
