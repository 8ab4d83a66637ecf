import { AppError } from '../../../../lib/errors.js';
import type { Prisma } from '../../../../prisma/generated/client.js';

/**
 * Pure SQL naming and quoting for the tenancy services: the tenant role and schema names the
 * platform will interpolate into statements, and the quoting of identifiers and literals. No
 * database access here; role provisioning itself lives in tenants/tenant-roles.ts.
 */

export type Tx = Prisma.TransactionClient;

/** Roles are cluster-wide, so the name comes from the tenant id (random, unique), never the slug. */
const ROLE_NAME = /^tenant_[a-z0-9_]{1,55}$/;
/** Schema names this module will quote: tenant schemas are derived from validated slugs. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `ten_4f3a…` → `tenant_ten_4f3a…`: lower-case identifier characters only, so it never needs escaping. */
export function tenantRoleName(tenantId: string): string {
  const role = `tenant_${tenantId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  return assertRoleName(role);
}

export function assertRoleName(role: string): string {
  if (!ROLE_NAME.test(role)) throw new AppError('INTERNAL_ERROR', 'Unsafe tenant role name', { role });
  return role;
}

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new AppError('VALIDATION_ERROR', 'Invalid schema name', { schema });
  return schema;
}

/** Double-quoted identifier; the regexes above already exclude quotes, this is belt and braces. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single-quoted string literal (standard_conforming_strings on): doubles embedded quotes. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
