import { hasScope, type Principal } from '../../../../lib/principal.js';

/**
 * A database login's password (a workspace's, a tenant database's) lets its holder change that
 * database, so it goes only to a caller who may change it through the API too: write:tenants.
 * A read-only caller still sees where to connect, with the password replaced by this mask.
 * Checked here, in tenancy, which owns the data, never left to the REST layer.
 */
export const MASKED_PASSWORD = '********';

export const MASKED_PASSWORD_MESSAGE = 'The password is shown only to callers with the write:tenants scope.';

export function maySeeConnectionSecrets(principal: Principal | null): boolean {
  return principal !== null && hasScope(principal, 'write:tenants');
}

/** A postgresql:// URL with its password masked (no password stays no password). */
export function maskConnectionString(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.password) url.password = MASKED_PASSWORD;
  return url.toString();
}
