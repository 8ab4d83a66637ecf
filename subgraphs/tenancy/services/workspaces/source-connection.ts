import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { getDriverHandle } from '../../../../lib/db.js';
import { AppError } from '../../../../lib/errors.js';
import type { Logger } from '../../../../lib/logger.js';
import { checkOutbound } from '../../../../lib/outbound-address.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';

/**
 * The one way tenancy connects to a database a caller names (data import, import-full, a
 * workspace schema from a live database). The platform opens these connections from inside its
 * own network, so without care the caller could read the platform's own database or use the
 * error messages to map which hosts and ports answer. Two walls:
 *
 * - Where: the host is resolved once and must be a public address (lib/outbound-address.ts), not
 *   one of the platform's own database servers, unless the operator listed it in
 *   DATA_IMPORT_ALLOWED_HOSTS. The client connects to that resolved address (the name is kept
 *   only as TLS servername), so a second DNS answer cannot redirect it.
 * - What comes back: every failure to connect (refused, timed out, TLS, wrong password, no such
 *   database) is the same SOURCE_UNREACHABLE with the same message, answered no sooner than the
 *   connect timeout, so neither the text nor the delay tells a closed port from an open one.
 *   A name that does not resolve is SOURCE_NOT_ALLOWED like a refused address, so the answer
 *   does not reveal which internal names exist either. The cause goes to the operator's log.
 */

export interface SourceTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  ssl?: boolean;
}

export const SOURCE_NOT_ALLOWED_MESSAGE =
  'The source host is not allowed: data can be imported only from public addresses (not loopback, private, link-local or the platform’s own database) unless the operator allows the host; it must also resolve';
export const SOURCE_UNREACHABLE_MESSAGE =
  'Could not connect to the source database with these connection details (host, port, database, user, password and SSL are checked together)';

/** Hosts of the platform's own PostgreSQL servers: its database and the dedicated tenant server. */
function ownDatabaseHosts(deps: SubgraphDeps): string[] {
  const urls: string[] = [];
  const handle = getDriverHandle(deps.db);
  if (handle.kind === 'postgres') urls.push(handle.connectionString);
  if (deps.tenantDatabaseUrl) urls.push(deps.tenantDatabaseUrl);
  return urls.flatMap((url) => {
    try {
      return [new URL(url).hostname];
    } catch {
      return [];
    }
  });
}

/**
 * A connected client to the caller's source, or SOURCE_NOT_ALLOWED / SOURCE_UNREACHABLE. The
 * password never appears in an error or a log line.
 */
export async function connectSourceDatabase(
  deps: SubgraphDeps,
  target: SourceTarget,
  options: { statementTimeoutMs?: number; logger?: Logger } = {},
): Promise<pg.Client> {
  const { connectTimeoutMs, allow } = deps.dataImport;
  const where = { host: target.host, port: target.port, database: target.database };
  const started = Date.now();
  const check = await checkOutbound(target.host, target.port, {
    allow,
    deny: ownDatabaseHosts(deps),
    timeoutMs: connectTimeoutMs,
  });
  if (!check.ok) {
    options.logger?.warn({ reason: check.reason, detail: check.detail }, 'data import source refused');
    throw new AppError('SOURCE_NOT_ALLOWED', SOURCE_NOT_ALLOWED_MESSAGE, { host: target.host, port: target.port });
  }
  const client = new pg.Client({
    host: check.address,
    port: check.port,
    database: target.database,
    user: target.user,
    password: target.password,
    // servername: the certificate is for the name, not the address connected to.
    ssl: target.ssl
      ? { rejectUnauthorized: false, ...(check.servername ? { servername: check.servername } : {}) }
      : false,
    connectionTimeoutMillis: Math.max(1, connectTimeoutMs - (Date.now() - started)),
    application_name: 'platform-data-import',
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // An error event on an idle client would otherwise crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    const cause = (error as { code?: string }).code ?? 'unknown';
    options.logger?.warn({ ...where, address: check.address, cause }, 'data import source unreachable');
    // Answer no sooner than a timeout would: a refused port (instant) looks like a silent one.
    const wait = connectTimeoutMs - (Date.now() - started);
    if (wait > 0) await sleep(wait);
    throw new AppError('SOURCE_UNREACHABLE', SOURCE_UNREACHABLE_MESSAGE, where);
  }
}
