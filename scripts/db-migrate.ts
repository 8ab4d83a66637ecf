import { loadEnvOrExit } from '../lib/bootstrap.js';
import { databaseEnv, runtimeEnv } from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { applyMigrations } from '../lib/migrate.js';

// `npm run db:migrate`: what `prisma migrate deploy` does, but offline and also on the embedded
// PGlite (DATABASE_URL unset: <DATA_DIR>/pglite). Safe to run from several processes at once.
const env = loadEnvOrExit(databaseEnv.extend(runtimeEnv.shape));
const logger = createLogger({ level: env.LOG_LEVEL, name: 'db-migrate' });
const started = performance.now();
const { applied } = await applyMigrations({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR, logger });
const ms = Math.round(performance.now() - started);
const target = env.DATABASE_URL ? 'postgres' : `pglite in ${env.DATA_DIR}/pglite`;
if (applied.length === 0) {
  process.stdout.write(`database is up to date (${target}, ${ms} ms)\n`);
} else {
  process.stdout.write(
    `applied ${applied.length} migration(s) to ${target} in ${ms} ms:\n${applied.map((n) => `  ${n}\n`).join('')}`,
  );
}
