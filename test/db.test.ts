import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, createPgliteDatabase, type Database } from '../lib/db.js';
import { createLogger } from '../lib/logger.js';
import { applyMigrations, diffMigration, MIGRATIONS_DIR, SCHEMA_DIR } from '../lib/migrate.js';
import { waitFor } from './support/rest.js';

const logger = createLogger({ level: 'silent' });
const testDatabaseUrl = process.env.TEST_DATABASE_URL;

/** Every model's table, read off prisma/schema: `@@map("table")` and `@@schema("domain")` in one model block. */
const DOMAIN_TABLES = (
  await Promise.all(
    (await readdir(SCHEMA_DIR))
      .filter((file) => file.endsWith('.prisma'))
      .map((file) => readFile(join(SCHEMA_DIR, file), 'utf8')),
  )
)
  .flatMap((source) => source.split(/^model /m).slice(1))
  .map((block) => `${/@@schema\("(\w+)"\)/.exec(block)?.[1]}.${/@@map\("(\w+)"\)/.exec(block)?.[1]}`);

async function listTables(db: Database): Promise<string[]> {
  const rows = await db.prisma.$queryRawUnsafe<Array<{ name: string }>>(
    `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
     WHERE table_schema IN ('platform', 'tenancy', 'billing', 'identity', 'telemetry', 'edge', 'public')
     ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

async function listMigrationNames(): Promise<string[]> {
  const entries = await readdir(MIGRATIONS_DIR, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function createTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A migrations folder holding the committed migrations plus the given extra ones. */
async function createMigrationsCopy(extra: Record<string, string>): Promise<string> {
  const dir = await createTempDir('migrations-');
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

const FUNCTION_BODY_MIGRATION = `CREATE FUNCTION platform.test_suffix(t text) RETURNS text AS $$
BEGIN
  RETURN t || ';';
END;
$$ LANGUAGE plpgsql;
INSERT INTO platform.incidents (id, title) VALUES ('inc_semicolon', 'a;b');
`;
const FAILING_MIGRATION = `CREATE TABLE platform.must_roll_back (id int);
SELECT * FROM table_that_does_not_exist;
`;

/** Shared by both drivers: a migration with a failing statement is recorded as failed, not applied. */
async function expectFailingMigrationRecorded(db: Database): Promise<void> {
  const migrationsDir = await createMigrationsCopy({
    '29990101000000_function_body': FUNCTION_BODY_MIGRATION,
    '29990102000000_failing': FAILING_MIGRATION,
  });
  try {
    await expect(applyMigrations({ db, logger, migrationsDir })).rejects.toThrow(/table_that_does_not_exist/);
    // As `prisma migrate deploy`: a failed migration blocks later runs until resolved.
    await expect(applyMigrations({ db, logger, migrationsDir })).rejects.toThrow(/failed migrations/);
    const rows = await db.prisma.$queryRawUnsafe<Array<{ migration_name: string; finished: boolean }>>(
      `SELECT migration_name, finished_at IS NOT NULL AS finished FROM _prisma_migrations WHERE migration_name LIKE '2999%' ORDER BY 1`,
    );
    expect(rows).toEqual([
      { migration_name: '29990101000000_function_body', finished: true },
      { migration_name: '29990102000000_failing', finished: false },
    ]);
    const [state] = await db.prisma.$queryRawUnsafe<Array<{ rolled_back: string | null; title: string; fn: string }>>(
      `SELECT to_regclass('platform.must_roll_back')::text AS rolled_back,
              (SELECT title FROM platform.incidents WHERE id = 'inc_semicolon') AS title,
              platform.test_suffix('x') AS fn`,
    );
    // The failing file ran as one implicit transaction, and semicolons inside $$ and '' survived.
    expect(state).toEqual({ rolled_back: null, title: 'a;b', fn: 'x;' });
  } finally {
    await rm(migrationsDir, { recursive: true, force: true });
  }
}

describe('PGlite (embedded default)', () => {
  let dataDir: string;
  let db: Database;

  beforeAll(async () => {
    dataDir = await createTempDir('db-test-');
    db = await createDatabase({ dataDir, poolMax: 5, logger });
  });

  afterAll(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('applies every migration to a fresh database, tables in their own schemas', async () => {
    expect(db.kind).toBe('pglite');
    const { applied } = await applyMigrations({ db, logger });
    expect(applied).toEqual(await listMigrationNames());
    expect(await listTables(db)).toEqual([...DOMAIN_TABLES, 'public._prisma_migrations'].sort());
  });

  it('records migrations as prisma migrate deploy does, and applies nothing the second time', async () => {
    const rows = await db.prisma.$queryRawUnsafe<
      Array<{ migration_name: string; checksum: string; applied_steps_count: number }>
    >('SELECT migration_name, checksum, applied_steps_count FROM _prisma_migrations ORDER BY migration_name');
    const { createHash } = await import('node:crypto');
    const expected = await Promise.all(
      (await listMigrationNames()).map(async (name) => ({
        migration_name: name,
        checksum: createHash('sha256')
          .update(await readFile(join(MIGRATIONS_DIR, name, 'migration.sql')))
          .digest('hex'),
        applied_steps_count: 1,
      })),
    );
    expect(rows).toEqual(expected);
    expect(await applyMigrations({ db, logger })).toEqual({ applied: [] });
  });

  it('answers ping with a duration and reports its one in-process connection', async () => {
    const ms = await db.ping();
    expect(typeof ms).toBe('number');
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(db.poolStats()).toEqual({ active: 0, idle: 1, waiting: 0, max: 1 });

    // A transaction holds the one session; two queries queue behind it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const transaction = db.prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe('SELECT 1');
      entered();
      await held;
    });
    await inside;
    const queued = Promise.all([db.prisma.$queryRawUnsafe('SELECT 2'), db.prisma.$queryRawUnsafe('SELECT 3')]);
    await waitFor(async () => (db.poolStats()?.waiting === 2 ? true : undefined), 'two queued queries', {
      timeoutMs: 5_000,
      intervalMs: 5,
    });
    expect(db.poolStats()).toEqual({ active: 1, idle: 0, waiting: 2, max: 1 });
    release();
    await transaction;
    await queued;
    expect(db.poolStats()).toEqual({ active: 0, idle: 1, waiting: 0, max: 1 });
  });

  it('writes and reads a tenant through Prisma, and keeps it across close and reopen', async () => {
    const id = `ten_${randomBytes(6).toString('hex')}`;
    const created = await db.prisma.tenant.create({ data: { id, name: 'Acme', slug: id, schemaName: `tenant_${id}` } });
    expect(created).toMatchObject({ id, status: 'active', settings: {} });

    await db.close();
    // The runner opens the folder on its own when given only dataDir, as `npm run db:migrate` does.
    expect(await applyMigrations({ dataDir, logger })).toEqual({ applied: [] });
    db = await createDatabase({ dataDir, poolMax: 5, logger });
    expect(await db.prisma.tenant.findUnique({ where: { id } })).toMatchObject({ id, name: 'Acme', slug: id });
  });

  it('records a failing migration as failed and rolls it back', async () => {
    const scratch = await createPgliteDatabase({ logger, fromTemplate: true });
    try {
      await expectFailingMigrationRecorded(scratch);
    } finally {
      await scratch.close();
    }
  });
});

describe.skipIf(!testDatabaseUrl)('PostgreSQL (TEST_DATABASE_URL)', () => {
  const poolMax = 4;
  const createdDatabases: string[] = [];
  let admin: pg.Client;
  let databaseUrl: string;
  let db: Database;

  async function createScratchDatabase(): Promise<string> {
    const name = `test_db_${Date.now()}_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE "${name}"`);
    createdDatabases.push(name);
    const url = new URL(testDatabaseUrl!);
    url.pathname = `/${name}`;
    return url.toString();
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: testDatabaseUrl });
    await admin.connect();
    databaseUrl = await createScratchDatabase();
    db = await createDatabase({ databaseUrl, dataDir: 'unused', poolMax, logger });
  });

  afterAll(async () => {
    await db?.close();
    for (const name of createdDatabases) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin?.end();
  });

  it('applies migrations once when three processes start at the same moment', async () => {
    expect(db.kind).toBe('postgres');
    const results = await Promise.all([
      applyMigrations({ databaseUrl, logger }),
      applyMigrations({ databaseUrl, logger }),
      applyMigrations({ db, logger }),
    ]);
    const applied = results.flatMap((r) => r.applied);
    expect(applied).toEqual(await listMigrationNames());
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    expect(await listTables(db)).toEqual([...DOMAIN_TABLES, 'public._prisma_migrations'].sort());
  });

  it('applies nothing the second time', async () => {
    expect(await applyMigrations({ db, logger })).toEqual({ applied: [] });
  });

  it('answers ping and reports the real pool', async () => {
    expect(typeof (await db.ping())).toBe('number');
    // Twice as many slow queries as connections: mid-flight the pool is full and has a queue.
    const queries = Promise.all(
      Array.from({ length: poolMax * 2 }, () => db.prisma.$queryRawUnsafe('SELECT 1 FROM pg_sleep(0.3)')),
    );
    const busy = await waitFor(
      async () => {
        const stats = db.poolStats();
        return stats && stats.active === poolMax && stats.waiting > 0 ? stats : undefined;
      },
      'a full pool with a queue',
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    await queries;
    expect(busy).toMatchObject({ active: poolMax, max: poolMax });
    expect(db.poolStats()).toEqual({ active: 0, idle: poolMax, waiting: 0, max: poolMax });
  });

  it('writes and reads a tenant through Prisma', async () => {
    const id = `ten_${randomBytes(6).toString('hex')}`;
    await db.prisma.tenant.create({ data: { id, name: 'Acme', slug: id, schemaName: `tenant_${id}` } });
    expect(await db.prisma.tenant.findUnique({ where: { id } })).toMatchObject({ id, name: 'Acme' });
  });

  it('records a failing migration as failed and rolls it back', async () => {
    const scratch = await createDatabase({
      databaseUrl: await createScratchDatabase(),
      dataDir: 'unused',
      poolMax: 2,
      logger,
    });
    try {
      await expectFailingMigrationRecorded(scratch);
    } finally {
      await scratch.close();
    }
  });

  it('throws from ping when the server is unreachable', async () => {
    const url = new URL(databaseUrl);
    url.port = '1';
    const unreachable = await createDatabase({ databaseUrl: url.toString(), dataDir: 'unused', poolMax: 1, logger });
    try {
      await expect(unreachable.ping()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await unreachable.close();
    }
  });
});

describe('diffMigration', () => {
  it('returns null when the schema matches the committed migrations', async () => {
    // A copy, so a schema that has drifted fails this test instead of writing into the repo.
    const migrationsDir = await createMigrationsCopy({});
    try {
      expect(await diffMigration('nothing', { migrationsDir })).toBeNull();
      expect((await readdir(migrationsDir)).sort()).toEqual(
        [...(await listMigrationNames()), 'migration_lock.toml'].sort(),
      );
    } finally {
      await rm(migrationsDir, { recursive: true, force: true });
    }
  });

  it('writes a timestamped migration for a changed schema', async () => {
    const migrationsDir = await createMigrationsCopy({});
    const schemaDir = await createTempDir('schema-');
    try {
      await cp(SCHEMA_DIR, schemaDir, { recursive: true });
      await writeFile(
        join(schemaDir, 'scratch.prisma'),
        'model Scratch {\n  id String @id\n  note String?\n\n  @@map("scratch")\n  @@schema("platform")\n}\n',
      );
      const file = await diffMigration('Add Scratch!', {
        migrationsDir,
        schemaDir,
        now: new Date('2999-01-02T03:04:05Z'),
      });
      expect(file).toBe(join(migrationsDir, '29990102030405_add_scratch', 'migration.sql'));
      const sql = await readFile(file!, 'utf8');
      expect(sql).toContain('CREATE TABLE "platform"."scratch"');
      expect(sql).not.toContain('CREATE SCHEMA');
      expect(await diffMigration('again', { migrationsDir, schemaDir })).toBeNull();
    } finally {
      await rm(migrationsDir, { recursive: true, force: true });
      await rm(schemaDir, { recursive: true, force: true });
    }
  });
});
