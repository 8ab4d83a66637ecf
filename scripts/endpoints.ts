/**
 * `npm run endpoints`: how much of each documented REST dialect the route tables serve, what is
 * left, and any route that serves an endpoint the catalog does not document. Exits 1 on the latter,
 * so CI catches a typo in a route's method or path.
 */
import { ENDPOINT_CATALOG, endpointKey } from '../gateway/rest/catalog.js';
import { DIALECT_NAMES } from '../gateway/rest/dialects.js';
import { allRoutes } from '../gateway/rest/routes/index.js';
import { PROMETHEUS_ENDPOINT } from '../gateway/plugins/use-metrics.js';
import { EVENT_STREAM_ENDPOINT } from '../gateway/subscriptions/event-streams.js';

const documented = new Set(ENDPOINT_CATALOG.map(endpointKey));

// A shared route (one GET /health for tenantsdb and cloudpioneer) serves each dialect it names.
// The WebSocket endpoint (the gateway's upgrade dispatcher) and Prometheus' text exposition are
// served by the gateway itself, not by the route tables.
const served = new Set([
  ...allRoutes.flatMap((route) =>
    [route.dialect, ...(route.sharedWith ?? [])].map((dialect) =>
      endpointKey({ dialect, method: route.method, path: route.path }),
    ),
  ),
  endpointKey(EVENT_STREAM_ENDPOINT),
  endpointKey(PROMETHEUS_ENDPOINT),
]);

let servedTotal = 0;
for (const dialect of DIALECT_NAMES) {
  const endpoints = ENDPOINT_CATALOG.filter((endpoint) => endpoint.dialect === dialect);
  const missing = endpoints.filter((endpoint) => !served.has(endpointKey(endpoint)));
  servedTotal += endpoints.length - missing.length;
  console.log(`\n${dialect}: ${endpoints.length - missing.length}/${endpoints.length} served`);
  for (const endpoint of missing) console.log(`  - ${endpoint.method.padEnd(6)} ${endpoint.path}  (${endpoint.owner})`);
}
console.log(`\ntotal: ${servedTotal}/${ENDPOINT_CATALOG.length} served`);

const undocumented = [...served].filter((key) => !documented.has(key));
if (undocumented.length > 0) {
  console.log('\nroutes not in the catalog (check method and path against the spec):');
  for (const key of undocumented) console.log(`  ! ${key}`);
  process.exitCode = 1;
}
