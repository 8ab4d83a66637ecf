import { builder } from '../builder.js';
import './backups.js';
import './data-import.js';
import './blueprint.js';
import './deployment.js';
import './health.js';
import './operations.js';
import './query-logs.js';
import './tenant.js';
import './tenant-sql.js';
import './workspace.js';
import './whitelabel.js';
import './progress.js';
import './catalog.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
