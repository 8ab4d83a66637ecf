import { AppError } from '../../../../lib/errors.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { Scope } from '../../../../lib/scopes.js';

/**
 * A platform-wide capability (the internal CA, the mesh registry, the marketplace catalogue):
 * the scope, held by a caller not bound to a tenant. A tenant admin holds admin:security for its
 * own tenant's users, which must not reach the CA every service trusts.
 */
export function requirePlatformScope(principal: Principal | null, scope: Scope): Principal {
  const caller = requireScope(principal, scope);
  if (caller.tenantId !== null) {
    throw new AppError('FORBIDDEN', 'Only platform operators may do this', { required_scope: scope });
  }
  return caller;
}
