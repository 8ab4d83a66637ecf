import type { RestRoute } from '../route.js';
import { cloudpioneerRoutes } from './cloudpioneer.js';
import { corePlatformRoutes } from './core-platform.js';
import { nexusCoreRoutes } from './nexus-core.js';
import { platformForgeRoutes } from './platform-forge.js';
import { tenantsdbRoutes } from './tenantsdb.js';

/** Every REST route, one table per dialect. */
export const allRoutes: readonly RestRoute[] = [
  ...corePlatformRoutes,
  ...platformForgeRoutes,
  ...nexusCoreRoutes,
  ...tenantsdbRoutes,
  ...cloudpioneerRoutes,
];
