import type { RestRoute } from '../route.js';

/** None yet: the first slice covers health, which platform-forge does not document. */
export const platformForgeRoutes: RestRoute[] = [];
