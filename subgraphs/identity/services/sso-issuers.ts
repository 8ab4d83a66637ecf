import { AppError } from '../../../lib/errors.js';
import { OIDC_ISSUERS_SCOPE, requirePrincipal, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/** At most this many distinct issuers are listed (and probed by the platform's health check). */
export const MAX_OIDC_ISSUERS = 50;

export interface OidcIssuerEntry {
  issuer: string;
  /** Enabled OIDC connections (every tenant) that sign in through this issuer. */
  connections: number;
}

/**
 * The distinct OIDC issuers of the enabled SSO connections, for the platform's health probes
 * (external_apis). The platform subgraph's service principal only: no tenant or connection
 * detail leaves identity, only the issuer URLs and how many connections use each.
 */
export async function listOidcIssuers(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<OidcIssuerEntry[]> {
  const caller = requirePrincipal(options.principal);
  if (caller.kind !== 'service' || !caller.scopes.includes(OIDC_ISSUERS_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the platform service may list OIDC issuers');
  }
  const rows = await options.deps.db.prisma.$queryRaw<{ issuer: string; connections: bigint }[]>`
    SELECT config->>'issuer' AS issuer, count(*) AS connections
      FROM identity.sso_connections
     WHERE protocol = 'oidc' AND enabled AND config->>'issuer' IS NOT NULL
     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${MAX_OIDC_ISSUERS}`;
  return rows.map((r) => ({ issuer: r.issuer, connections: Number(r.connections) }));
}
