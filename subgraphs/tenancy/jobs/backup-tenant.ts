import { z } from 'zod';
import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { AppError } from '../../../lib/errors.js';
import { BACKUP_JOB, runTenantBackup } from '../services/operations/backups.js';

const payloadSchema = z.object({ backupId: z.string().min(1) });

/**
 * Writes a tenant backup's dump to file storage and completes its record. Idempotent: a completed
 * backup is left as it is, a retry rewrites the same file. Refusals (an unsupported object in the
 * schema, a missing tenant) are not retried.
 */
export function createBackupTenantJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: BACKUP_JOB,
    schema: payloadSchema,
    attempts: 2,
    backoffMs: 5000,
    handler: async (payload, ctx) => {
      try {
        return await runTenantBackup({
          deps: deps(),
          backupId: payload.backupId,
          logger: ctx.logger,
          progress: (percent) => ctx.updateProgress(percent),
        });
      } catch (error) {
        if (error instanceof AppError) throw new UnrecoverableJobError(error.message, { cause: error });
        throw error;
      }
    },
  });
}
