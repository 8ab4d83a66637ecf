import { builder } from '../builder.js';
import './certificates.js';
import './health-report.js';
import './marketplace.js';
import './mesh.js';
import './system-status.js';
import './tasks.js';
import './system-backups.js';
import './security.js';
import './services.js';
import './cache.js';
import './config.js';
import './secrets.js';
import './storage.js';
import './webhooks.js';
import './external-apis.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
