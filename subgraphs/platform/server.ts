import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createRotateSecretsJob, scheduleSecretRotation } from './jobs/rotate-secrets.js';
import { schema } from './schema/index.js';

export const platformSubgraph: SubgraphModule = {
  name: 'platform',
  schema,
  jobs: (deps) => [createRotateSecretsJob(deps)],
  start: async (deps) => {
    await scheduleSecretRotation(deps);
  },
};
