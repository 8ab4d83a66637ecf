import type { SubgraphDeps } from '../lib/subgraph/context.js';
import type { JobDefinition } from '../lib/runtime/jobs.js';
import { createBackupTenantJob } from './tenancy/jobs/backup-tenant.js';
import { createChangeIsolationJob } from './tenancy/jobs/change-isolation.js';
import { createRestoreTenantJob } from './tenancy/jobs/restore-tenant.js';
import { createRecordAuditJob } from './identity/jobs/record-audit.js';
import { createEraseUserDataJob } from './identity/jobs/erase-user-data.js';
import { createExportUserDataJob } from './identity/jobs/export-user-data.js';
import { createImportDataJob } from './tenancy/jobs/import-data.js';
import { createCleanupProvisioningJob } from './tenancy/jobs/cleanup-provisioning.js';
import { createDeployBlueprintJob } from './tenancy/jobs/deploy-blueprint.js';

/**
 * Every subgraph's job definitions (each in subgraphs/<name>/jobs/), registered with the one
 * queue. Handlers reach the database and Redis through `deps()`: a getter, because the deps hold
 * the queue itself and are built after it.
 */
export function createJobDefinitions(deps: () => SubgraphDeps): JobDefinition[] {
  return [
    createRecordAuditJob(deps),
    createExportUserDataJob(deps),
    createEraseUserDataJob(deps),
    createCleanupProvisioningJob(deps),
    createBackupTenantJob(deps),
    createRestoreTenantJob(deps),
    createChangeIsolationJob(deps),
    createImportDataJob(deps),
    createDeployBlueprintJob(deps),
  ];
}
