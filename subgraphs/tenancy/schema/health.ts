import { addHealthTypes } from '../../../lib/subgraph/health.js';
import { builder } from '../builder.js';

addHealthTypes(builder, 'tenancy');
