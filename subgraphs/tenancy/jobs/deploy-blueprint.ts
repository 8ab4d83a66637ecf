import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { defineJob, UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { DEPLOY_JOB, runDeployment } from '../services/blueprints/deployments.js';

const payloadSchema = z.object({ deploymentId: z.string().min(1) });

/**
 * Rolls a blueprint version out to a deployment's tenants. A retry resumes: finished targets stay
 * as they are and each tenant's database is locked and version-checked before anything is applied.
 * Per-tenant failures are recorded on their targets, not thrown; only a missing deployment or
 * version (AppError) fails the job for good.
 */
export function createDeployBlueprintJob(deps: () => SubgraphDeps) {
  return defineJob({
    id: DEPLOY_JOB,
    schema: payloadSchema,
    attempts: 3,
    backoffMs: 2000,
    handler: async (payload, ctx) => {
      try {
        const deployment = await runDeployment({
          deps: deps(),
          deploymentId: payload.deploymentId,
          logger: ctx.logger,
          progress: (percent) => ctx.updateProgress(percent),
        });
        return { status: deployment.status };
      } catch (error) {
        if (error instanceof AppError) throw new UnrecoverableJobError(error.message, { cause: error });
        throw error;
      }
    },
  });
}
