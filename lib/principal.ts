import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError } from './errors.js';
import type { Scope } from './scopes.js';

/** Who is calling. Every resolver decides from this alone. */
export const principalSchema = z.object({
  kind: z.enum(['operator', 'user', 'api_key', 'service']),
  id: z.string(),
  projectId: z.string().nullable(),
  tenantId: z.string().nullable(),
  roles: z.array(z.string()),
  scopes: z.array(z.string()),
});
export type Principal = z.infer<typeof principalSchema>;

export const PRINCIPAL_HEADER = 'x-principal';

/**
 * Scope held only by the gateway's own service principal: resolving credentials (API keys,
 * signing keys) through identity. Not in SCOPES, so no operator, user or key can hold it.
 */
export const AUTHENTICATE_SCOPE = 'internal:authenticate';

/** The gateway calling a subgraph for itself (credential resolution), never on a caller's behalf. */
export const GATEWAY_PRINCIPAL: Principal = {
  kind: 'service',
  id: 'gateway',
  projectId: null,
  tenantId: null,
  roles: ['gateway'],
  scopes: [AUTHENTICATE_SCOPE],
};

/**
 * Scope held only by tenancy's service principal: identity's createTenantAdmin accepts it, so the
 * tenancy subgraph can create a new tenant's first admin while provisioning it. Not in SCOPES.
 */
export const PROVISION_TENANT_ADMIN_SCOPE = 'internal:provision-tenant-admin';

/** Tenancy calling identity for itself (tenant provisioning), never on a caller's behalf. */
export const TENANCY_SERVICE_PRINCIPAL: Principal = {
  kind: 'service',
  id: 'tenancy',
  projectId: null,
  tenantId: null,
  roles: ['tenancy'],
  scopes: [PROVISION_TENANT_ADMIN_SCOPE],
};

/**
 * Scope held only by the platform subgraph's service principal: reading identity's security
 * figures (failed sign-ins, blocks, sessions, open registration) for a security scan job, which
 * has no caller to act for. Not in SCOPES.
 */
export const SECURITY_FIGURES_SCOPE = 'internal:security-figures';

/**
 * Scope held only by the platform subgraph's service principal: listing the OIDC issuers of the
 * enabled SSO connections (identity's records) for the health external_apis probes. Not in SCOPES.
 */
export const OIDC_ISSUERS_SCOPE = 'internal:oidc-issuers';

/** The platform subgraph calling identity for itself (security scans, health probes), never on a caller's behalf. */
export const PLATFORM_SERVICE_PRINCIPAL: Principal = {
  kind: 'service',
  id: 'platform',
  projectId: null,
  tenantId: null,
  roles: ['platform'],
  scopes: [SECURITY_FIGURES_SCOPE, OIDC_ISSUERS_SCOPE],
};

/**
 * Scope held only by edge's service principal: listing the platform's resources (cloudpioneer
 * /resources) it reads the owners' records: tenancy's databases, platform's services, telemetry's
 * series. Read only, and edge narrows every answer to its caller's tenant. Not in SCOPES.
 */
export const RESOURCE_CATALOG_SCOPE = 'internal:resource-catalog';

/** The edge subgraph gathering the resource catalog from the subgraphs that own the records. */
export const EDGE_SERVICE_PRINCIPAL: Principal = {
  kind: 'service',
  id: 'edge',
  projectId: null,
  tenantId: null,
  roles: ['edge'],
  scopes: [RESOURCE_CATALOG_SCOPE],
};

/**
 * Scope held only by the telemetry subgraph's service principal: asking tenancy which project owns
 * a tenant, so a project's API key may act on its own tenants' telemetry (telemetry cannot see
 * tenants' projects). Not in SCOPES.
 */
export const TENANT_OWNERSHIP_SCOPE = 'internal:tenant-ownership';

/** The telemetry subgraph asking tenancy about tenant ownership, never on a caller's behalf. */
export const TELEMETRY_SERVICE_PRINCIPAL: Principal = {
  kind: 'service',
  id: 'telemetry',
  projectId: null,
  tenantId: null,
  roles: ['telemetry'],
  scopes: [TENANT_OWNERSHIP_SCOPE],
};

/** How long a signed principal stays valid: long enough for one request's fetches, short enough to make replay useless. */
const SIGNATURE_TTL_MS = 5 * 60_000;

/** Where the request came from, as the gateway saw it: for audit entries and login threat detection. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

export const NO_CLIENT: ClientInfo = { ip: null, userAgent: null };

const envelopeSchema = z.object({
  p: principalSchema.nullable(),
  rid: z.string(),
  exp: z.number(),
  c: z.object({ ip: z.string().nullable(), ua: z.string().nullable() }).optional(),
});

function mac(payload: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/** The header value the gateway sends: base64url(JSON).base64url(HMAC-SHA256). Anonymous callers are signed too. */
export function signPrincipal(
  principal: Principal | null,
  requestId: string,
  secret: string,
  now = Date.now(),
  client: ClientInfo = NO_CLIENT,
): string {
  const envelope = {
    p: principal,
    rid: requestId,
    exp: now + SIGNATURE_TTL_MS,
    c: { ip: client.ip, ua: client.userAgent },
  };
  const payload = Buffer.from(JSON.stringify(envelope)).toString('base64url');
  return `${payload}.${mac(payload, secret).toString('base64url')}`;
}

/** Verifies a signed principal header; anything unsigned, forged, or stale is refused. */
export function verifyPrincipal(
  header: string | undefined,
  secret: string,
  now = Date.now(),
): { principal: Principal | null; requestId: string; client: ClientInfo } {
  if (!header)
    throw new AppError('UNAUTHORIZED', 'Missing signed principal: subgraphs accept requests only from the gateway');
  const [payload, signature, extra] = header.split('.');
  if (!payload || !signature || extra !== undefined) throw new AppError('UNAUTHORIZED', 'Malformed signed principal');
  const expected = mac(payload, secret);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError('UNAUTHORIZED', 'Invalid principal signature');
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('UNAUTHORIZED', 'Malformed signed principal');
  }
  const parsed = envelopeSchema.safeParse(decoded);
  if (!parsed.success) throw new AppError('UNAUTHORIZED', 'Malformed signed principal');
  if (parsed.data.exp < now) throw new AppError('UNAUTHORIZED', 'Signed principal has expired');
  const c = parsed.data.c;
  return {
    principal: parsed.data.p,
    requestId: parsed.data.rid,
    client: c ? { ip: c.ip, userAgent: c.ua } : NO_CLIENT,
  };
}

export function requirePrincipal(principal: Principal | null): Principal {
  if (!principal) throw new AppError('UNAUTHORIZED', 'Authentication required');
  return principal;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope);
}

/** Throws unless the caller is authenticated and holds the scope. */
export function requireScope(principal: Principal | null, scope: Scope): Principal {
  const p = requirePrincipal(principal);
  if (!hasScope(p, scope))
    throw new AppError('FORBIDDEN', `Missing required scope ${scope}`, { required_scope: scope });
  return p;
}

/**
 * Tenant scoping comes from the principal, never from an id the caller typed: a principal bound
 * to a tenant (or project) may touch only that tenant.
 */
export function assertTenantAccess(principal: Principal, tenant: { id: string; projectId: string | null }): void {
  const wrongTenant = principal.tenantId !== null && principal.tenantId !== tenant.id;
  const wrongProject = principal.projectId !== null && principal.projectId !== tenant.projectId;
  if (wrongTenant || wrongProject) {
    throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: tenant.id });
  }
}

/**
 * The tenant a tenant-scoped write or read acts on, decided from the principal. A subgraph other
 * than tenancy cannot see which project a tenant belongs to, so a caller not bound to a tenant
 * must be the operator to name one.
 */
export function tenantScopeFor(principal: Principal, requestedTenantId?: string | null): string {
  if (principal.tenantId !== null) {
    if (requestedTenantId && requestedTenantId !== principal.tenantId) {
      throw new AppError('TENANT_MISMATCH', 'Cross-tenant access attempt', { tenant_id: requestedTenantId });
    }
    return principal.tenantId;
  }
  if (!requestedTenantId)
    throw new AppError('VALIDATION_ERROR', 'tenantId is required for a caller not bound to a tenant');
  if (principal.kind !== 'operator') {
    throw new AppError('FORBIDDEN', 'Only a caller bound to the tenant may act on it');
  }
  return requestedTenantId;
}
