import { z } from 'zod';
import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { ISOLATION_JOB, runIsolationChange } from '../services/tenants/isolation.js';

const payloadSchema = z.object({ operationId: z.string().min(1) });

/**
 * Moves a tenant between isolation levels (tenant_operations kind `isolation_change`). Not
 * retried: a failed move undoes itself (drops the half-made database) and records why.
 */
export function createChangeIsolationJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: ISOLATION_JOB,
    schema: payloadSchema,
    attempts: 1,
    handler: async (payload, ctx) => {
      try {
        return await runIsolationChange({
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
