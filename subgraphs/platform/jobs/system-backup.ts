import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import {
  runSystemBackup,
  runSystemRestore,
  SYSTEM_BACKUP_JOB,
  SYSTEM_RESTORE_JOB,
} from '../services/backups/system-backups.js';

/** Refusals (a missing record, a checksum mismatch, an oversized archive) are not retried. */
function unrecoverable(error: unknown): never {
  if (error instanceof AppError) throw new UnrecoverableJobError(error.message, { cause: error });
  throw error;
}

export function createSystemBackupJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: SYSTEM_BACKUP_JOB,
    schema: z.object({ backupId: z.string().min(1).max(100) }),
    attempts: 2,
    backoffMs: 5000,
    handler: (payload, ctx) =>
      runSystemBackup({ deps: deps(), backupId: payload.backupId, logger: ctx.logger, progress: ctx }).catch(
        unrecoverable,
      ),
  });
}

/** One attempt: a restore that failed left everything as it was; running it again is the operator's call. */
export function createSystemRestoreJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: SYSTEM_RESTORE_JOB,
    schema: z.object({ restoreId: z.string().min(1).max(100) }),
    attempts: 1,
    handler: (payload, ctx) =>
      runSystemRestore({ deps: deps(), restoreId: payload.restoreId, logger: ctx.logger, progress: ctx }).catch(
        unrecoverable,
      ),
  });
}
