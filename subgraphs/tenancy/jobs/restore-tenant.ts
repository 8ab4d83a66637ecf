import { z } from 'zod';
import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { RESTORE_JOB, runTenantRestore } from '../services/operations/backups.js';

const payloadSchema = z.object({ operationId: z.string().min(1) });

/**
 * Rolls a tenant back to a backup (tenant_operations kind `restore`). Never retried: the restore
 * is all or nothing, and its failure is recorded on the operation for the caller to read.
 */
export function createRestoreTenantJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: RESTORE_JOB,
    schema: payloadSchema,
    attempts: 1,
    handler: async (payload, ctx) => {
      try {
        return await runTenantRestore({
          deps: deps(),
          operationId: payload.operationId,
          logger: ctx.logger,
          reportProgress: (percent) => ctx.updateProgress(percent),
        });
      } catch (error) {
        throw new UnrecoverableJobError(error instanceof Error ? error.message : String(error), { cause: error });
      }
    },
  });
}
