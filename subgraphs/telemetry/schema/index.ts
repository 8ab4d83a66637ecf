import { builder } from '../builder.js';

builder.subscriptionType({});
import './health.js';
import './event.js';
import './broadcast.js';
import './event-stream.js';
import './ingest.js';
import './system-metrics.js';
import './export.js';
import './metrics.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
