import { requirePrincipal, requireScope, SECURITY_FIGURES_SCOPE, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { Threat } from '../../../prisma/generated/client.js';
import { tenantDirectory } from './auth.js';

/**
 * Identity's part of the platform's security status (nexus-core GET /api/v1/security/status),
 * counted from identity's own records: failed sign-ins, blocked addresses and accounts (threats
 * with a live block), live sessions (refresh tokens neither spent, revoked nor expired), API keys
 * used. A caller bound to a tenant sees its tenant's figures; the operator sees the platform's.
 */
export interface IdentitySecurityFigures {
  failedLogins24h: number;
  blockedAddresses: number;
  blockedAccounts: number;
  activeSessions: number;
  /** Keys whose last use is within 24 h (last_used_at moves at most once a minute per key): keys, not calls. */
  apiKeysUsed24h: number | null;
  /** Tenants whose self-registration is open; null for a caller bound to a tenant (it is one setting). */
  openRegistrationTenants: number | null;
  registrationOpen: boolean | null;
  activeThreats: Threat[];
}

const DAY_MS = 24 * 3600_000;
const MAX_ALERTS = 20;

export async function getIdentitySecurityFigures(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<IdentitySecurityFigures> {
  const caller = requirePrincipal(options.principal);
  const principal =
    caller.kind === 'service' && caller.scopes.includes(SECURITY_FIGURES_SCOPE)
      ? caller
      : requireScope(caller, 'admin:security');
  const { prisma } = options.deps.db;
  const now = new Date();
  const since = new Date(now.getTime() - DAY_MS);
  const tenantId = principal.tenantId;
  const threatScope = tenantId === null ? {} : { tenantId };
  const [failedLogins24h, blockedIps, blockedAccounts, activeSessions, apiKeysUsed24h, openTenants, settings, threats] =
    await Promise.all([
      prisma.loginAttempt.count({
        where: {
          success: false,
          createdAt: { gte: since },
          ...(tenantId === null ? {} : { directory: tenantDirectory(tenantId) }),
        },
      }),
      prisma.threat.findMany({
        where: { ...threatScope, status: 'active', blockedUntil: { gt: now }, ip: { not: null } },
        distinct: ['ip'],
        select: { ip: true },
        take: 100_000,
      }),
      prisma.threat.count({
        where: { ...threatScope, status: 'active', blockedUntil: { gt: now }, email: { not: null } },
      }),
      prisma.refreshToken.count({
        where: {
          usedAt: null,
          revokedAt: null,
          expiresAt: { gt: now },
          ...(tenantId === null ? {} : { user: { tenantId } }),
        },
      }),
      tenantId !== null
        ? Promise.resolve(null)
        : prisma.apiKey.count({
            where: {
              revokedAt: null,
              lastUsedAt: { gte: since },
              ...(principal.projectId === null ? {} : { projectId: principal.projectId }),
            },
          }),
      tenantId === null
        ? prisma.tenantAuthSettings.count({ where: { registrationOpen: true } })
        : Promise.resolve(null),
      tenantId === null ? Promise.resolve(null) : prisma.tenantAuthSettings.findUnique({ where: { tenantId } }),
      prisma.threat.findMany({
        where: { ...threatScope, status: 'active' },
        orderBy: { detectedAt: 'desc' },
        take: MAX_ALERTS,
      }),
    ]);
  return {
    failedLogins24h,
    blockedAddresses: blockedIps.length,
    blockedAccounts,
    activeSessions,
    apiKeysUsed24h,
    openRegistrationTenants: openTenants,
    registrationOpen: tenantId === null ? null : (settings?.registrationOpen ?? false),
    activeThreats: threats,
  };
}
