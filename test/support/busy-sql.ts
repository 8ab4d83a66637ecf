/**
 * A statement that keeps the database busy for `ms`, on PostgreSQL and PGlite alike: a recursive
 * CTE spinning on clock_timestamp(). pg_sleep would be simpler, but the tenant SQL guard refuses
 * it (it is not on the function allowlist); every function here is.
 */
export function busyFor(ms: number): string {
  return `WITH RECURSIVE spin(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM spin WHERE clock_timestamp() < statement_timestamp() + interval '${ms} milliseconds') SELECT count(*) FROM spin`;
}
