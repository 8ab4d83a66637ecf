import { defineConfig } from 'prisma/config';

// No datasource URL here: migrations are applied by our own runner (lib/migrate.ts), which works
// offline on both PGlite and PostgreSQL; `prisma generate` needs only the schema.
export default defineConfig({
  schema: 'prisma/schema',
  migrations: { path: 'prisma/migrations' },
});
