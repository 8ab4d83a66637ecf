import type { JobDefinition } from '../lib/runtime/jobs.js';

/**
 * Every subgraph's job definitions (each in subgraphs/<name>/jobs/), registered with the one queue.
 * None yet: the first jobs arrive with tenant provisioning and privacy exports.
 */
export const JOB_DEFINITIONS: JobDefinition[] = [];
