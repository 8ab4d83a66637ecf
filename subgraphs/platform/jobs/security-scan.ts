import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { runSecurityScan, SECURITY_SCAN_JOB } from '../services/security/scans.js';

export function createSecurityScanJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: SECURITY_SCAN_JOB,
    schema: z.object({ scanId: z.string().min(1).max(100) }),
    attempts: 2,
    backoffMs: 2000,
    handler: (payload, ctx) =>
      runSecurityScan({ deps: deps(), scanId: payload.scanId, logger: ctx.logger, progress: ctx }).catch(
        (error: unknown) => {
          if (error instanceof AppError) throw new UnrecoverableJobError(error.message, { cause: error });
          throw error;
        },
      ),
  });
}
