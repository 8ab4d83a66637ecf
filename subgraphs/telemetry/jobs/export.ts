import { defineJob } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { EXPORT_JOB, exportJobPayload, runExportJob } from '../services/export.js';

/** Large telemetry exports (services/export.ts): written page by page, progress after each. */
export function createExportJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: EXPORT_JOB,
    schema: exportJobPayload,
    attempts: 2,
    handler: (payload, ctx) => runExportJob(deps(), payload, (progress) => ctx.updateProgress(progress)),
  });
}
