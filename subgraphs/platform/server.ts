import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createWebhookDeliverJob, createWebhookEmitJob } from './jobs/webhooks.js';
import { schema } from './schema/index.js';

export const platformSubgraph: SubgraphModule = {
  name: 'platform',
  schema,
  jobs: (deps) => [createWebhookEmitJob(deps), createWebhookDeliverJob(deps)],
};
