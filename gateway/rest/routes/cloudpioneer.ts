import type { RestRoute } from '../route.js';

/**
 * cloudpioneer's GET /health is the tenantsdb route (same path, same body), shared with this
 * dialect: it is served at /health and at /v1/health, and counted as served for both.
 */
export const cloudpioneerRoutes: RestRoute[] = [];
