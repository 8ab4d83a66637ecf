import { createBuilder } from '../../lib/subgraph/builder.js';

export const builder = createBuilder();
