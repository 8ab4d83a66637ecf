/**
 * The platform baseline every tenant schema starts from. It lives in code (reviewed, versioned
 * with the platform) rather than in `tenant_migration_scripts`, which holds the tenant's own
 * scripts. The SQL is unqualified: it runs with the tenant's schema as the only search path and
 * under the tenant's role, so the tables land in, and are owned by, the tenant.
 *
 * Versions are digit strings compared as numbers; the baseline keeps to versions below
 * BASELINE_VERSION_CEILING so tenant scripts (e.g. 20251124000101) always sort after it.
 */
export interface CodeMigration {
  version: string;
  name: string;
  up: string;
  down: string;
}

export const BASELINE_VERSION_CEILING = 1000n;

export const BASELINE_MIGRATIONS: readonly CodeMigration[] = [
  {
    version: '1',
    name: 'Platform baseline: users',
    // gen_random_uuid() is core since PostgreSQL 13 (PGlite is 18): no extension needed.
    up: `
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email varchar(255) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_key UNIQUE (email)
      );
      CREATE INDEX users_created_at_idx ON users (created_at);
    `,
    down: `DROP TABLE users;`,
  },
];
