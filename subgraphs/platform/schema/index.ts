import { builder } from '../builder.js';
import './health-report.js';
import './system-status.js';
import './tasks.js';
import './system-backups.js';
import './security.js';
import './services.js';
import './cache.js';
import './config.js';
import './secrets.js';
import './storage.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
