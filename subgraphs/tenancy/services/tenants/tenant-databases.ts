import pg from 'pg';
import { getDriverHandle } from '../../../../lib/db.js';
import { AppError } from '../../../../lib/errors.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import type { Tenant } from '../../../../prisma/generated/client.js';
import { pgSession, prismaSession, type SqlSession } from '../operations/tenant-dump.js';
import { assertSchemaName, quoteIdent } from '../sql/identifiers.js';

/** Long enough for a large dump or restore; Prisma's interactive transactions default to 5 s. */
export const LONG_TRANSACTION = { maxWait: 60_000, timeout: 60 * 60_000 } as const;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The PostgreSQL server dedicated (level 2) tenant databases live on: TENANT_DATABASE_URL, else
 * the platform's own server. The embedded default is one PGlite database in this process: it
 * cannot hold a second database, so level 2 needs real PostgreSQL.
 */
export function dedicatedServerUrl(deps: SubgraphDeps): string {
  if (deps.tenantDatabaseUrl) return deps.tenantDatabaseUrl;
  const handle = getDriverHandle(deps.db);
  if (handle.kind === 'postgres') return handle.connectionString;
  throw new AppError(
    'NOT_CONFIGURED',
    'A dedicated tenant database (isolation level 2) needs real PostgreSQL: the embedded database (PGlite) holds a single database. Set DATABASE_URL, or TENANT_DATABASE_URL for a separate server.',
    { needs: ['DATABASE_URL', 'TENANT_DATABASE_URL'] },
  );
}

/** Drops a dedicated tenant database. FORCE (PostgreSQL 13+): connections a tenant still holds must not keep it alive. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quoteIdent(assertSchemaName(name))} WITH (FORCE)`),
  );
}

/** The same server and credentials, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  url.searchParams.delete('schema');
  return url.toString();
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An error event on an idle client would otherwise crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `fn` in one transaction on a pg client; rolls back on any error. */
export async function inClientTransaction<T>(client: pg.Client, fn: (session: SqlSession) => Promise<T>): Promise<T> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    const result = await fn(pgSession(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * One transaction on the database that holds the tenant's data now: its dedicated database at
 * level 2, the platform's own database otherwise.
 */
export async function inTenantDatabase<T>(
  deps: SubgraphDeps,
  tenant: Pick<Tenant, 'isolationLevel' | 'databaseName'>,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  if (tenant.isolationLevel === 2 && tenant.databaseName) {
    const url = databaseUrl(dedicatedServerUrl(deps), tenant.databaseName);
    return withClient(url, (client) => inClientTransaction(client, fn));
  }
  return inPlatformDatabase(deps, fn);
}

export function inPlatformDatabase<T>(deps: SubgraphDeps, fn: (session: SqlSession) => Promise<T>): Promise<T> {
  return deps.db.prisma.$transaction(async (tx) => {
    // First statement of the transaction: one snapshot for the catalog and every table's data.
    await tx.$executeRawUnsafe('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    return fn(prismaSession(tx));
  }, LONG_TRANSACTION);
}
