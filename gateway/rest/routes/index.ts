import type { RestRoute } from '../route.js';
import { cloudpioneerRoutes } from './cloudpioneer.js';
import { cloudpioneerEventRoutes } from './cloudpioneer-events.js';
import { corePlatformEventRoutes } from './core-platform-events.js';
import { corePlatformRoutes } from './core-platform.js';
import { corePlatformDatabaseRoutes } from './core-platform-database.js';
import { corePlatformTenantRoutes } from './core-platform-tenants.js';
import { nexusCoreRoutes } from './nexus-core.js';
import { nexusCoreTaskRoutes } from './nexus-core-tasks.js';
import { nexusCoreBackupRoutes } from './nexus-core-backups.js';
import { securityOpsRoutes } from './security-ops.js';
import { nexusCoreServiceRoutes } from './nexus-core-services.js';
import { platformForgeRoutes } from './platform-forge.js';
import { platformForgeAuthRoutes } from './platform-forge-auth.js';
import { platformForgeBillingRoutes } from './platform-forge-billing.js';
import { platformForgeEdgeRoutes } from './platform-forge-edge.js';
import { platformForgeWhitelabelRoutes } from './platform-forge-whitelabel.js';
import { platformForgePrivacyRoutes } from './platform-forge-privacy.js';
import { platformForgeMfaRoutes } from './platform-forge-mfa.js';
import { platformForgeSecurityRoutes } from './platform-forge-security.js';
import { platformForgeAdminRoutes } from './platform-forge-admin.js';
import { platformForgeSsoRoutes } from './platform-forge-sso.js';
import { platformForgeTrustRoutes } from './platform-forge-trust.js';
import { telemetryRoutes } from './telemetry.js';
import { telemetryExportRoutes } from './telemetry-export.js';
import { tenantsdbRoutes } from './tenantsdb.js';
import { tenantsdbAccountRoutes } from './tenantsdb-accounts.js';
import { tenantsdbTenantOpsRoutes } from './tenantsdb-tenant-ops.js';
import { tenantsdbTenantRoutes } from './tenantsdb-tenants.js';
import { tenantsdbAdminRoutes } from './tenantsdb-admin.js';
import { tenantsdbBlueprintRoutes } from './tenantsdb-blueprints.js';
import { tenantsdbDataImportRoutes } from './tenantsdb-data-import.js';
import { tenantsdbWorkspaceRoutes } from './tenantsdb-workspaces.js';
import { cacheConfigRoutes } from './platform-cache-config.js';
import { corePlatformSecretRoutes } from './core-platform-secrets.js';
import { corePlatformStorageRoutes } from './core-platform-storage.js';

/** Every REST route, one table per dialect. */
export const allRoutes: readonly RestRoute[] = [
  ...corePlatformRoutes,
  ...corePlatformEventRoutes,
  ...cloudpioneerEventRoutes,
  ...corePlatformDatabaseRoutes,
  ...corePlatformTenantRoutes,
  ...platformForgeRoutes,
  ...platformForgeAuthRoutes,
  ...platformForgePrivacyRoutes,
  ...platformForgeMfaRoutes,
  ...platformForgeSecurityRoutes,
  ...platformForgeAdminRoutes,
  ...platformForgeSsoRoutes,
  ...platformForgeTrustRoutes,
  ...platformForgeBillingRoutes,
  ...platformForgeEdgeRoutes,
  ...platformForgeWhitelabelRoutes,
  ...nexusCoreRoutes,
  ...nexusCoreTaskRoutes,
  ...nexusCoreBackupRoutes,
  ...securityOpsRoutes,
  ...nexusCoreServiceRoutes,
  ...tenantsdbRoutes,
  ...tenantsdbAccountRoutes,
  ...tenantsdbTenantOpsRoutes,
  ...tenantsdbTenantRoutes,
  ...tenantsdbAdminRoutes,
  ...tenantsdbBlueprintRoutes,
  ...tenantsdbDataImportRoutes,
  ...tenantsdbWorkspaceRoutes,
  ...cloudpioneerRoutes,
  ...cacheConfigRoutes,
  ...corePlatformSecretRoutes,
  ...corePlatformStorageRoutes,
  ...telemetryRoutes,
  ...telemetryExportRoutes,
];
