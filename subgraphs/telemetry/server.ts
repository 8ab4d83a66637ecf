import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { telemetryPrivacyHook } from './privacy.js';
import { schema } from './schema/index.js';

export const telemetrySubgraph: SubgraphModule = { name: 'telemetry', schema, privacy: telemetryPrivacyHook };
