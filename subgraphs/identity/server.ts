import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { schema } from './schema/index.js';

export const identitySubgraph: SubgraphModule = { name: 'identity', schema };
