import { builder } from '../builder.js';
import './health.js';
import './plan.js';
import './customer.js';
import './subscription.js';
import './invoice.js';
import './stripe-webhook.js';
import './tenant-usage.js';

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
