import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createSystemBackupJob, createSystemRestoreJob } from './jobs/system-backup.js';
import { createDiagnosticProbeJob } from './jobs/diagnostic-probe.js';
import { createSecurityScanJob } from './jobs/security-scan.js';
import { schema } from './schema/index.js';

export const platformSubgraph: SubgraphModule = {
  name: 'platform',
  schema,
  jobs: (deps) => [
    createSystemBackupJob(deps),
    createSystemRestoreJob(deps),
    createSecurityScanJob(deps),
    createDiagnosticProbeJob(),
  ],
};
