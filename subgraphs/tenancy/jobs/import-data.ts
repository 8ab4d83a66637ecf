import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { DATA_IMPORT_JOB, importJobPayload, runDataImport } from '../services/workspaces/data-import.js';

/**
 * Copies a source database's rows into tenants, one routing value per tenant (data_imports).
 * Never retried: the source password is deleted from kv as soon as the first run reads it, and
 * per-tenant failures are recorded on the import, not thrown.
 */
export function createImportDataJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: DATA_IMPORT_JOB,
    schema: importJobPayload,
    attempts: 1,
    handler: async (payload, ctx) => {
      try {
        return await runDataImport({
          deps: deps(),
          payload,
          logger: ctx.logger,
          reportProgress: (percent) => ctx.updateProgress(percent),
        });
      } catch (error) {
        throw new UnrecoverableJobError(error instanceof Error ? error.message : String(error), { cause: error });
      }
    },
  });
}
