import { z } from 'zod';
import { defineJob } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { ERASE_USER_DATA_JOB, runUserDataErasure } from '../services/privacy.js';
import { revokeUserSessions } from '../services/sessions.js';

const payloadSchema = z.object({ requestId: z.string().min(1) });

/** More attempts than an export: an erasure the user asked for must not be given up lightly. */
const ATTEMPTS = 5;

/**
 * Runs every subgraph's erase hook for a deletion request and records what each did. Idempotent:
 * the hooks are, and a completed request is left as it is.
 */
export function createEraseUserDataJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: ERASE_USER_DATA_JOB,
    schema: payloadSchema,
    attempts: ATTEMPTS,
    backoffMs: 2000,
    handler: (payload, ctx) =>
      runUserDataErasure({
        deps: deps(),
        hooks: deps().privacyHooks,
        requestId: payload.requestId,
        logger: ctx.logger,
        isFinalAttempt: ctx.attempt >= ATTEMPTS,
        revokeSessions: (userId) => revokeUserSessions({ deps: deps(), userId }),
      }),
  });
}
