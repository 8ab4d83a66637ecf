import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type * as EngineGlue from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaContainer, SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { createPgPool, getDriverHandle, openPglite, pgAdapterOptions, type Database } from './db.js';
import type { Logger } from './logger.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../prisma/migrations/', import.meta.url));
export const SCHEMA_DIR = fileURLToPath(new URL('../prisma/schema/', import.meta.url));

/**
 * Serialises our runners across processes. Deliberately not Prisma's own key (72707369): the
 * engine takes that one itself on its connection, with a 10 s timeout, and would time out
 * against a runner that merely waits here.
 */
const RUNNER_LOCK_KEY = 72707369_01;

const NO_FILTERS = { externalTables: [], externalEnums: [] };

export interface ApplyMigrationsOptions {
  logger: Logger;
  /** The process's database. Required for PGlite when it is already open (one opener per folder). */
  db?: Database;
  /** Without `db`: PostgreSQL at this URL, or else PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  dataDir?: string;
  migrationsDir?: string;
}

/**
 * What `prisma migrate deploy` does, offline and on both drivers: applies every migration folder
 * not yet in `_prisma_migrations`, in name order, and records it there the way the CLI does (the
 * rows are written by the same engine). Like the CLI it refuses to go on past a recorded failed
 * migration, and like the CLI it does not notice a migration edited after it was applied.
 */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<{ applied: string[] }> {
  const logger = options.logger.child({ component: 'migrate' });
  const started = performance.now();
  const migrationsList = await readMigrationList(options.migrationsDir ?? MIGRATIONS_DIR);
  if (migrationsList.migrationDirectories.length === 0) return { applied: [] };

  const target = options.db
    ? getDriverHandle(options.db)
    : options.databaseUrl
      ? ({ kind: 'postgres', connectionString: options.databaseUrl } as const)
      : undefined;
  let applied: string[];
  if (target?.kind === 'postgres') {
    applied = await applyOnPostgres(target.connectionString, migrationsList, logger);
  } else if (target?.kind === 'pglite') {
    applied = await applyOnPglite(target.pglite.asPglite(), migrationsList, logger);
  } else {
    if (!options.dataDir) throw new Error('applyMigrations needs db, databaseUrl or dataDir');
    const pglite = await openPglite({ dataDir: join(options.dataDir, 'pglite') });
    try {
      applied = await applyOnPglite(pglite, migrationsList, logger);
    } finally {
      await pglite.close();
    }
  }
  logger.debug({ applied, ms: Math.round(performance.now() - started) }, 'migrations checked');
  return { applied };
}

async function applyOnPostgres(
  connectionString: string,
  migrationsList: MigrationList,
  logger: Logger,
): Promise<string[]> {
  const lock = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await lock.connect();
  try {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      RUNNER_LOCK_KEY,
    ]);
    if (!rows[0]?.locked) {
      logger.info('another process is applying migrations; waiting for it');
      await lock.query('SELECT pg_advisory_lock($1)', [RUNNER_LOCK_KEY]);
    }
    // One connection: the engine's own advisory lock is session-scoped, and a pool would take
    // it on one connection and run the scripts on others.
    const pool = createPgPool(connectionString, 1);
    pool.on('error', (error) => logger.warn({ err: error }, 'migration connection failed'));
    try {
      const factory = createPgMigrationFactory(pool, connectionString);
      return await runApply(factory, migrationsList, logger);
    } finally {
      await pool.end();
    }
  } finally {
    // Ending the session releases the lock as well; unlocking first just frees it sooner.
    await lock.query('SELECT pg_advisory_unlock($1)', [RUNNER_LOCK_KEY]).catch(() => undefined);
    await lock.end();
  }
}

/** PGlite is one session in this process, so a promise chain is the whole of the locking. */
const pgliteQueues = new WeakMap<PGlite, Promise<unknown>>();

async function applyOnPglite(pglite: PGlite, migrationsList: MigrationList, logger: Logger): Promise<string[]> {
  const previous = pgliteQueues.get(pglite) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(() =>
      runApply(
        createPgliteMigrationFactory(async () => pglite),
        migrationsList,
        logger,
      ),
    );
  pgliteQueues.set(pglite, run);
  return run;
}

async function runApply(
  factory: SqlMigrationAwareDriverAdapterFactory,
  migrationsList: MigrationList,
  logger: Logger,
): Promise<string[]> {
  // The engine refuses to start without a datamodel; the CLI passes the project's schema too.
  const schemaFiles = await readSchemaFiles(SCHEMA_DIR);
  return withEngine(factory, schemaFiles, logger, async (engine) => {
    const { appliedMigrationNames } = await callEngine('apply migrations', () =>
      engine.applyMigrations({ migrationsList, filters: NO_FILTERS }),
    );
    return appliedMigrationNames;
  });
}

export interface DiffMigrationOptions {
  migrationsDir?: string;
  schemaDir?: string;
  logger?: Logger;
  /** The migration folder's timestamp; tests pin it. */
  now?: Date;
}

/**
 * What `prisma migrate dev --create-only` does, offline: writes
 * `<migrationsDir>/<UTC timestamp>_<name>/migration.sql` taking the migrations to the current
 * datamodel, and `migration_lock.toml` when missing. Returns the file's path, or null when the
 * migrations already match the schema.
 */
export async function diffMigration(name: string, options: DiffMigrationOptions = {}): Promise<string | null> {
  const slug = toMigrationSlug(name);
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const sql = await diffSchema(options);
  if (sql === null) return null;

  const existing = await readMigrationList(migrationsDir);
  const folder = `${nextTimestamp(options.now ?? new Date(), existing)}_${slug}`;
  const dir = join(migrationsDir, folder);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'migration.sql');
  await writeFile(file, sql, { flag: 'wx' });
  if (existing.lockfile.content === null) {
    // Prisma's exact text: the CLI compares the provider line and rewrites files that differ.
    await writeFile(
      join(migrationsDir, 'migration_lock.toml'),
      '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
    );
  }
  return file;
}

/**
 * The SQL that would take the committed migrations to the current datamodel (all .prisma files),
 * or null when there is nothing to do. Writes nothing; the migrations are replayed on a
 * throwaway in-memory PGlite.
 */
export async function diffSchema(options: Omit<DiffMigrationOptions, 'now'> = {}): Promise<string | null> {
  const logger = options.logger;
  const migrationsList = await readMigrationList(options.migrationsDir ?? MIGRATIONS_DIR);
  const schemaFiles = await readSchemaFiles(options.schemaDir ?? SCHEMA_DIR);
  // The engine connects to a main database even for a diff that never reads it, then replays the
  // migrations on the shadow one; one throwaway instance serves as both (a second costs ~1 s).
  let throwaway: Promise<PGlite> | undefined;
  const openThrowaway = () => (throwaway ??= openPglite({ fromTemplate: true }));
  const factory = createPgliteMigrationFactory(openThrowaway, openThrowaway);
  try {
    return await withEngine(factory, schemaFiles, logger, async (engine) => {
      const result = await callEngine('diff', () =>
        engine.diff({
          from:
            migrationsList.migrationDirectories.length > 0
              ? { tag: 'migrations', ...migrationsList }
              : { tag: 'empty' },
          to: { tag: 'schemaDatamodel', files: schemaFiles },
          script: true,
          // exitCode 2 is the engine's own "the diff is not empty"; the script text of an empty
          // diff is a comment, not an empty string.
          exitCode: true,
          filters: NO_FILTERS,
        }),
      );
      return result.exitCode === 2 && result.stdout ? result.stdout : null;
    });
  } finally {
    await throwaway?.then((pglite) => pglite.close()).catch(() => undefined);
  }
}

/** Migration folders as the Prisma CLI reads them: every directory, sorted by name. */
export async function readMigrationList(migrationsDir: string): Promise<MigrationList> {
  const lockfilePath = 'migration_lock.toml';
  const lockfile = {
    path: lockfilePath,
    content: await readFile(join(migrationsDir, lockfilePath), 'utf8').catch(() => null),
  };
  const entries = existsSync(migrationsDir) ? await readdir(migrationsDir, { withFileTypes: true }) : [];
  const directories = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry) => ({
        path: entry.name,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(join(migrationsDir, entry.name, 'migration.sql'), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: Error) => ({ tag: 'error' as const, value: error.message }),
          ),
        },
      })),
  );
  directories.sort((a, b) => a.path.localeCompare(b.path));
  return { baseDir: migrationsDir, lockfile, shadowDbInitScript: '', migrationDirectories: directories };
}

async function readSchemaFiles(schemaDir: string): Promise<SchemaContainer[]> {
  const names = (await readdir(schemaDir)).filter((n) => n.endsWith('.prisma')).sort();
  return Promise.all(
    names.map(async (n) => ({ path: join(schemaDir, n), content: await readFile(join(schemaDir, n), 'utf8') })),
  );
}

function toMigrationSlug(name: string): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!slug) throw new Error(`Migration name "${name}" has no letters or digits`);
  return slug.slice(0, 200);
}

/** UTC yyyyMMddHHmmss, as Prisma names folders; bumped past the newest one so order stays true. */
function nextTimestamp(now: Date, existing: MigrationList): string {
  const format = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const latest = existing.migrationDirectories.at(-1)?.path.slice(0, 14);
  let candidate = now;
  while (latest && /^\d{14}$/.test(latest) && format(candidate) <= latest) {
    candidate = new Date(candidate.getTime() + 1000);
  }
  return format(candidate);
}

// ---------------------------------------------------------------------------------------------
// The WASM schema engine

type EngineModule = typeof EngineGlue;

let engineModule: Promise<EngineModule> | undefined;

/**
 * The package's entry imports the .wasm as an ES module, which Node 20 cannot do without a flag;
 * the `_bg` glue plus a manual instantiate is the same thing. Compiled once per process (~40 ms).
 */
function loadEngineModule(): Promise<EngineModule> {
  engineModule ??= (async () => {
    const glue = await import('@prisma/schema-engine-wasm/schema_engine_bg');
    const require = createRequire(import.meta.url);
    const wasmPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg').replace(/\.js$/, '.wasm');
    const imports: Record<string, unknown> = { ...glue };
    // The engine races its advisory-lock query against a 10 s setTimeout it never clears; left
    // referenced, that timer keeps every short-lived process (db:migrate, tests) alive 10 s more.
    for (const name of Object.keys(imports).filter((n) => n.startsWith('__wbg_setTimeout_'))) {
      imports[name] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
    }
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
      './schema_engine_bg.js': imports as WebAssembly.ModuleImports,
    });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
    return glue;
  })();
  engineModule.catch(() => {
    engineModule = undefined;
  });
  return engineModule;
}

async function withEngine<T>(
  factory: SqlMigrationAwareDriverAdapterFactory,
  schemaFiles: SchemaContainer[],
  logger: Logger | undefined,
  run: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const glue = await loadEngineModule();
  const engine = await glue.SchemaEngine.new(
    { datamodels: schemaFiles.map((f) => [f.path, f.content]) },
    (line: string) => forwardEngineLog(line, logger),
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  try {
    return await run(engine);
  } finally {
    engine.free();
  }
}

function forwardEngineLog(line: string, logger: Logger | undefined): void {
  if (!logger) return;
  try {
    const entry = JSON.parse(line) as { level?: string; fields?: { message?: string } & Record<string, unknown> };
    const { message, ...fields } = entry.fields ?? {};
    const level = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : 'debug';
    logger[level]({ engine: fields }, message ?? 'schema engine');
  } catch {
    logger.debug({ engine: line }, 'schema engine');
  }
}

/** The engine rejects with plain objects or strings; turn them into Errors that say what failed. */
async function callEngine<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const message =
      error instanceof Error
        ? error.message
        : typeof error === 'object' && error !== null && 'message' in error
          ? String((error as { message: unknown }).message)
          : String(error);
    throw new Error(`Schema engine could not ${what}: ${message}`, { cause: error });
  }
}

/**
 * PrismaPg's executeScript splits the file on ';', which breaks function bodies and string
 * literals. One simple-protocol query runs the whole file in an implicit transaction, exactly as
 * the native engine does.
 */
function createPgMigrationFactory(pool: pg.Pool, connectionString: string): SqlMigrationAwareDriverAdapterFactory {
  const inner = new PrismaPg(pool, pgAdapterOptions(connectionString));
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => {
      const adapter = await inner.connect();
      return withScriptRunner(adapter, async (script) => {
        await adapter.underlyingDriver().query(script);
      });
    },
    connectToShadowDb: async () => {
      const adapter = await inner.connectToShadowDb();
      return withScriptRunner(adapter, async (script) => {
        await adapter.underlyingDriver().query(script);
      });
    },
  };
}

/**
 * pglite-prisma-adapter does not await exec() in executeScript: a failing migration would be
 * recorded as applied and its error surface later as an unhandled rejection. Its shadow database
 * (a new in-memory PGlite without our extensions) is also never closed; here the caller supplies
 * the shadow and closes it.
 */
function createPgliteMigrationFactory(
  openMain: () => Promise<PGlite>,
  openShadow?: () => Promise<PGlite>,
): SqlMigrationAwareDriverAdapterFactory {
  const connectTo = async (pglite: PGlite): Promise<SqlDriverAdapter> =>
    withScriptRunner(await new PrismaPGlite(pglite).connect(), async (script) => {
      await pglite.exec(script);
    });
  return {
    provider: 'postgres',
    adapterName: 'pglite-prisma-adapter',
    connect: async () => connectTo(await openMain()),
    connectToShadowDb: async () => {
      if (!openShadow) throw new Error('no shadow database for this operation');
      return connectTo(await openShadow());
    },
  };
}

/** The adapter with executeScript replaced; errors still go through the adapter's own mapping,
 * so the engine reports the database's message and code. */
function withScriptRunner(adapter: SqlDriverAdapter, runScript: (script: string) => Promise<void>): SqlDriverAdapter {
  const mapError = (adapter as unknown as { onError?: (error: unknown) => never }).onError?.bind(adapter);
  return {
    adapterName: adapter.adapterName,
    provider: adapter.provider,
    queryRaw: (query) => adapter.queryRaw(query),
    executeRaw: (query) => adapter.executeRaw(query),
    startTransaction: (isolationLevel) => adapter.startTransaction(isolationLevel),
    ...(adapter.getConnectionInfo ? { getConnectionInfo: () => adapter.getConnectionInfo!() } : {}),
    dispose: () => adapter.dispose(),
    executeScript: async (script) => {
      try {
        await runScript(script);
      } catch (error) {
        if (mapError) mapError(error);
        throw error;
      }
    },
  };
}
