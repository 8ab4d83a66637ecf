import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createBackupTenantJob } from './jobs/backup-tenant.js';
import { createChangeIsolationJob } from './jobs/change-isolation.js';
import { createCleanupProvisioningJob, scheduleTenantCleanup } from './jobs/cleanup-provisioning.js';
import { createDeployBlueprintJob } from './jobs/deploy-blueprint.js';
import { createImportDataJob } from './jobs/import-data.js';
import { createRestoreTenantJob } from './jobs/restore-tenant.js';
import { schema } from './schema/index.js';

export const tenancySubgraph: SubgraphModule = {
  name: 'tenancy',
  schema,
  jobs: (deps) => [
    createCleanupProvisioningJob(deps),
    createBackupTenantJob(deps),
    createRestoreTenantJob(deps),
    createChangeIsolationJob(deps),
    createImportDataJob(deps),
    createDeployBlueprintJob(deps),
  ],
  // The queue keeps no repeat schedules: this queues the cleanup of abandoned tenant creations,
  // which then reschedules itself.
  start: (deps) => scheduleTenantCleanup(deps.jobs),
};
