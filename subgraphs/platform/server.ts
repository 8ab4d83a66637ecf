import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createSystemBackupJob, createSystemRestoreJob } from './jobs/system-backup.js';
import { createDiagnosticProbeJob } from './jobs/diagnostic-probe.js';
import { createSecurityScanJob } from './jobs/security-scan.js';
import { createRotateSecretsJob, scheduleSecretRotation } from './jobs/rotate-secrets.js';
import { createMeshHealthJob, scheduleMeshHealth } from './jobs/mesh-health.js';
import { createWebhookDeliverJob, createWebhookEmitJob } from './jobs/webhooks.js';
import { createSweepStagingJob, scheduleStagingSweep } from './jobs/sweep-staging.js';
import { schema } from './schema/index.js';
import { loadConfigIntoCache } from './services/config/runtime-config.js';

export const platformSubgraph: SubgraphModule = {
  name: 'platform',
  schema,
  jobs: (deps) => [
    createSystemBackupJob(deps),
    createSystemRestoreJob(deps),
    createSecurityScanJob(deps),
    createDiagnosticProbeJob(),
    createRotateSecretsJob(deps),
    createWebhookEmitJob(deps),
    createWebhookDeliverJob(deps),
    createMeshHealthJob(deps),
    createSweepStagingJob(deps),
  ],
  // The queue keeps no repeat schedules: start queues the secret rotation and mesh health sweeps.
  start: async (deps) => {
    await scheduleSecretRotation(deps);
    await scheduleMeshHealth(deps);
    await scheduleStagingSweep(deps);
    // The gateways' response cache settings (api_responses) into the kv.
    await loadConfigIntoCache(deps);
  },
};
