import type { Database } from '../../lib/db.js';
import { waitFor } from './rest.js';

/**
 * A statement that keeps the database busy for `ms`, on PostgreSQL and PGlite alike: a recursive
 * CTE spinning on clock_timestamp(). pg_sleep would be simpler, but the tenant SQL guard refuses
 * it (it is not on the function allowlist); every function here is.
 */
export function busyFor(ms: number): string {
  return `WITH RECURSIVE spin(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM spin WHERE clock_timestamp() < statement_timestamp() + interval '${ms} milliseconds') SELECT count(*) FROM spin`;
}

/**
 * Resolves once a busyFor statement runs on `db`'s server. PostgreSQL shows it in
 * pg_stat_activity (tenant SQL runs it through its cursor, so there it shows as that cursor's
 * FETCH; subgraphs/tenancy/services/sql/tenant-sql.ts); PGlite is one session, so there the session being held is the sign (the few
 * short lookups before the statement hold it too, but only for milliseconds).
 */
export async function untilBusy(db: Database): Promise<void> {
  await waitFor(
    async () => {
      if (db.kind === 'pglite') return db.poolStats()?.active === 1 ? true : undefined;
      const [row] = await db.prisma.$queryRawUnsafe<{ running: number }[]>(
        `SELECT count(*)::int AS running FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
            AND (query LIKE '%WITH RECURSIVE spin(n)%' OR query LIKE 'FETCH % FROM tenant_query')`,
      );
      return row!.running > 0 ? true : undefined;
    },
    'a busy statement to start',
    { timeoutMs: 10_000, intervalMs: 10 },
  );
}
