import { builder } from '../builder.js';

builder.subscriptionType({});
import './health.js';
import './event.js';
import './ingest.js';
import './system-metrics.js';
import './metrics.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
