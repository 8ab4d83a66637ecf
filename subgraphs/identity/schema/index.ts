import { builder } from '../builder.js';
import './health.js';
import './user.js';
import './auth.js';
import './accounts.js';
import './api-keys.js';
import './sso.js';
import './privacy.js';
import './threats.js';
import './mfa.js';
import './audit.js';
import './admin-users.js';
import './tenant-admin.js';
import './security-status.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
