import type { SubgraphModule } from '../../lib/subgraph/service.js';
import { createEraseUserDataJob } from './jobs/erase-user-data.js';
import { createExportUserDataJob } from './jobs/export-user-data.js';
import { createRecordAuditJob } from './jobs/record-audit.js';
import { identityPrivacyHook } from './privacy.js';
import { schema } from './schema/index.js';

export const identitySubgraph: SubgraphModule = {
  name: 'identity',
  schema,
  jobs: (deps) => [createRecordAuditJob(deps), createExportUserDataJob(deps), createEraseUserDataJob(deps)],
  privacy: identityPrivacyHook,
};
