import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createReportUsageJob, scheduleUsageReports } from './jobs/report-usage.js';
import { schema } from './schema/index.js';
import { publishAllTenantLimits } from './services/limits.js';

export const billingSubgraph: SubgraphModule = {
  name: 'billing',
  schema,
  jobs: (deps) => [createReportUsageJob(deps)],
  start: async (deps) => {
    // The limits record lives in Redis or memory: a fresh one learns every tenant's plan again.
    await publishAllTenantLimits(deps);
    await scheduleUsageReports(deps.jobs);
  },
};
