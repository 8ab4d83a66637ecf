import { assertRoleName, assertSchemaName, quoteIdent, tenantRoleName, type Tx } from '../sql/identifiers.js';

/**
 * Database-level tenant isolation. Each tenant owns one role that can reach only its own schema,
 * so a statement naming another tenant's schema fails in PostgreSQL itself with
 * `permission denied for schema`, whatever the parser upstream let through. The role is made
 * NOLOGIN here; on real PostgreSQL tenant-session.ts turns it into a LOGIN role on first use and
 * tenant SQL runs logged in as it. `SET LOCAL ROLE` (below) remains for the platform's own
 * statements (the baseline at creation) and for the embedded PGlite, which has one session.
 */

/**
 * Creates the tenant's role and gives it its schema: USAGE and CREATE on the schema, all
 * privileges on what exists in it now and (ALTER DEFAULT PRIVILEGES) on what the platform's own
 * connection user creates there later. The schema must already exist. Runs in the caller's
 * transaction, so a failed tenant creation leaves no role behind. Returns the role name to store
 * in `tenants.db_role`.
 *
 * PUBLIC keeps no CREATE on the schema, and the role is given nothing outside it: the platform's
 * own schemas (identity, tenancy, …) grant nothing to PUBLIC, so the role cannot read them.
 */
/**
 * The privileges a tenant role holds on its schema, and nobody else: granted at creation and
 * again whenever a schema is swapped in (rollback, isolation change), since grants belong to the
 * schema object.
 */
export function schemaGrantStatements(input: { role: string; schemaName: string }): string[] {
  const schema = quoteIdent(assertSchemaName(input.schemaName));
  const r = quoteIdent(assertRoleName(input.role));
  return [
    `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC`,
    `GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${r}`,
    `GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA ${schema} TO ${r}`,
    `GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA ${schema} TO ${r}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${schema} TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT ALL PRIVILEGES ON TABLES TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT ALL PRIVILEGES ON SEQUENCES TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT EXECUTE ON FUNCTIONS TO ${r}`,
  ];
}

export async function provisionTenantRole(tx: Tx, input: { tenantId: string; schemaName: string }): Promise<string> {
  const role = tenantRoleName(input.tenantId);
  const r = quoteIdent(role);
  await tx.$executeRawUnsafe(`CREATE ROLE ${r} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS`);
  for (const statement of schemaGrantStatements({ role, schemaName: input.schemaName })) {
    await tx.$executeRawUnsafe(statement);
  }
  // A superuser may SET ROLE to anything; a plain connection user must be a member of the role.
  // (PostgreSQL 16+ makes the creator an ADMIN member already when createrole_self_grant says so.)
  const [membership] = await tx.$queryRawUnsafe<{ member: boolean }[]>(
    `SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`,
    role,
  );
  if (!membership?.member) await tx.$executeRawUnsafe(`GRANT ${r} TO CURRENT_USER`);
  return role;
}

/**
 * Removes the role (hard delete, or compensation when creation fails after the role was made
 * outside the creation transaction). `DROP OWNED BY` drops what the role owns in this database
 * (its tables in the tenant schema) and its grants, which `DROP ROLE` otherwise refuses over.
 */
export async function dropTenantRole(tx: Tx, input: { role: string }): Promise<void> {
  const role = assertRoleName(input.role);
  const [exists] = await tx.$queryRawUnsafe<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1`,
    role,
  );
  if (!exists || exists.n === 0) return;
  await tx.$executeRawUnsafe(`DROP OWNED BY ${quoteIdent(role)} CASCADE`);
  await tx.$executeRawUnsafe(`DROP ROLE ${quoteIdent(role)}`);
}

/**
 * Enters the tenant's sandbox for the rest of the transaction: its role and its schema first on
 * the search path. Both are LOCAL: they end with the transaction, so a pooled connection never
 * carries a tenant's identity into the next request. `pg_temp` is named last on purpose: left
 * out, PostgreSQL searches the session's temporary schema first, so a temporary table left on a
 * pooled connection could shadow the tenant's own tables.
 */
export async function enterTenantContext(tx: Tx, input: { role: string; schemaName: string }): Promise<void> {
  const role = assertRoleName(input.role);
  const schema = assertSchemaName(input.schemaName);
  await tx.$executeRawUnsafe(`SET LOCAL search_path TO ${quoteIdent(schema)}, pg_temp`);
  await tx.$executeRawUnsafe(`SET LOCAL ROLE ${quoteIdent(role)}`);
}

/**
 * Leaves the sandbox inside a longer transaction (tenant creation goes on with platform writes
 * after the baseline). `set_config(..., true)` keeps the change transaction-local like SET LOCAL.
 */
export async function leaveTenantContext(tx: Tx, previousSearchPath: string): Promise<void> {
  await tx.$executeRawUnsafe(`SET LOCAL ROLE NONE`);
  await tx.$queryRawUnsafe(`SELECT set_config('search_path', $1, true)`, previousSearchPath);
}

export async function currentSearchPath(tx: Tx): Promise<string> {
  const [row] = await tx.$queryRawUnsafe<{ path: string }[]>(`SELECT current_setting('search_path') AS path`);
  return row?.path ?? '"$user", public';
}
