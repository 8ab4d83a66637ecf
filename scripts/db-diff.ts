import { relative } from 'node:path';
import { loadEnvOrExit } from '../lib/bootstrap.js';
import { runtimeEnv } from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { diffMigration } from '../lib/migrate.js';

// `npm run db:diff -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql taking
// the committed migrations to the current prisma/schema. Needs no database and no network.
const name = process.argv[2];
if (!name) {
  process.stderr.write('usage: npm run db:diff -- <migration_name>\n');
  process.exit(2);
}
const env = loadEnvOrExit(runtimeEnv);
const logger = createLogger({ level: env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL, name: 'db-diff' });
const file = await diffMigration(name, { logger });
process.stdout.write(
  file ? `${relative(process.cwd(), file)}\n` : 'no changes: the migrations already match prisma/schema\n',
);
