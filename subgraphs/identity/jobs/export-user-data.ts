import { z } from 'zod';
import { defineJob } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { EXPORT_USER_DATA_JOB, runUserDataExport } from '../services/privacy.js';

const payloadSchema = z.object({ requestId: z.string().min(1) });

const ATTEMPTS = 3;

/**
 * Builds the archive of an export request from every subgraph's privacy hook. Idempotent: a
 * request already completed is left as it is; the payload is only the request id.
 */
export function createExportUserDataJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: EXPORT_USER_DATA_JOB,
    schema: payloadSchema,
    attempts: ATTEMPTS,
    backoffMs: 2000,
    handler: (payload, ctx) =>
      runUserDataExport({
        deps: deps(),
        hooks: deps().privacyHooks,
        requestId: payload.requestId,
        logger: ctx.logger,
        isFinalAttempt: ctx.attempt >= ATTEMPTS,
      }),
  });
}
