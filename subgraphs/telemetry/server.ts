import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createExportJob } from './jobs/export.js';
import { createRecordMetricsJob } from './jobs/record-metrics.js';
import { telemetryPrivacyHook } from './privacy.js';
import { schema } from './schema/index.js';

export const telemetrySubgraph: SubgraphModule = {
  name: 'telemetry',
  schema,
  privacy: telemetryPrivacyHook,
  jobs: (deps) => [createExportJob(deps), createRecordMetricsJob(deps)],
};
