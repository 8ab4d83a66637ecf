import { builder } from '../builder.js';
import './health.js';
import './device.js';
import './deployment.js';
import './resource.js';
import './progress.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
