import { z } from 'zod';
import { defineJob } from '../../../lib/runtime/jobs.js';
import { DIAGNOSTIC_PROBE_JOB } from '../services/services/diagnostics.js';

/** Does nothing: component diagnostics time its round trip through the queue and a worker. */
export function createDiagnosticProbeJob() {
  return defineJob({
    id: DIAGNOSTIC_PROBE_JOB,
    schema: z.object({ runId: z.string().max(100) }),
    attempts: 1,
    handler: async () => ({ ok: true }),
  });
}
