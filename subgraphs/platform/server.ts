import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createMeshHealthJob, scheduleMeshHealth } from './jobs/mesh-health.js';
import { createWebhookDeliverJob, createWebhookEmitJob } from './jobs/webhooks.js';
import { schema } from './schema/index.js';

export const platformSubgraph: SubgraphModule = {
  name: 'platform',
  schema,
  jobs: (deps) => [createWebhookEmitJob(deps), createWebhookDeliverJob(deps), createMeshHealthJob(deps)],
  // The queue keeps no repeat schedules: this queues the mesh health sweep, which reschedules itself.
  start: (deps) => scheduleMeshHealth(deps),
};
