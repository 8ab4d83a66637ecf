import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../prisma/generated/client.js';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface PoolStats {
  active: number;
  idle: number;
  waiting: number;
  max: number;
}

export interface Database {
  kind: DatabaseKind;
  /** The one client of the process, built on the driver adapter that matches `kind`. */
  prisma: PrismaClient;
  /** Runs `SELECT 1` and returns how long it took in ms; throws AppError SERVICE_UNAVAILABLE. */
  ping(): Promise<number>;
  /**
   * Live figures: from the pg Pool on PostgreSQL; on PGlite, its one in-process session (`max` 1,
   * `active` 1 while a query or transaction holds it, `waiting` the callers queued behind it).
   * null only when the figures cannot be read.
   */
  poolStats(): PoolStats | null;
  /** Idempotent. Without it an open pool or PGlite instance keeps the process alive. */
  close(): Promise<void>;
}

export interface CreateDatabaseOptions {
  /** Set: PostgreSQL. Unset: embedded PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  dataDir: string;
  poolMax: number;
  logger: Logger;
  /** PGlite only: see CreatePgliteDatabaseOptions.fromTemplate (tests). */
  fromTemplate?: boolean;
}

/**
 * What the migration runner needs beyond the public interface: the PGlite instance itself
 * (a data folder can only be opened once per process) or the connection string (the runner
 * wants its own single-connection pool so its advisory lock and scripts share one session).
 */
export type DriverHandle = { kind: 'pglite'; pglite: PGlite } | { kind: 'postgres'; connectionString: string };

const driverHandles = new WeakMap<Database, DriverHandle>();

export function getDriverHandle(db: Database): DriverHandle {
  const handle = driverHandles.get(db);
  if (!handle) throw new Error('Not a Database made by lib/db.ts');
  return handle;
}

/** A PING that hangs is as bad as one that fails: health checks must answer. */
const PING_TIMEOUT_MS = 5_000;
/** pg waits forever for a TCP connect by default; an unreachable host would hang every query. */
const CONNECT_TIMEOUT_MS = 5_000;

export const PGLITE_EXTENSIONS = { pgcrypto, uuid_ossp };

export async function createDatabase(options: CreateDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    return createPostgresDatabase({
      databaseUrl: options.databaseUrl,
      poolMax: options.poolMax,
      logger: options.logger,
    });
  }
  return createPgliteDatabase({
    dataDir: join(options.dataDir, 'pglite'),
    logger: options.logger,
    fromTemplate: options.fromTemplate,
  });
}

export async function createPostgresDatabase(options: {
  databaseUrl: string;
  poolMax: number;
  logger: Logger;
}): Promise<Database> {
  const logger = options.logger.child({ component: 'db', driver: 'postgres' });
  const pool = createPgPool(options.databaseUrl, options.poolMax);
  // An idle client losing its server emits 'error' on the pool; unhandled, it would kill the process.
  pool.on('error', (error) => logger.error({ err: error }, 'idle postgres connection failed'));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, pgAdapterOptions(options.databaseUrl)) });
  let closing: Promise<void> | undefined;
  const db: Database = {
    kind: 'postgres',
    prisma,
    ping: () => pingDatabase(prisma, 'postgres'),
    poolStats: () => ({
      active: pool.totalCount - pool.idleCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: options.poolMax,
    }),
    close: () =>
      (closing ??= (async () => {
        await prisma.$disconnect();
        await pool.end();
      })()),
  };
  driverHandles.set(db, { kind: 'postgres', connectionString: options.databaseUrl });
  return db;
}

export interface CreatePgliteDatabaseOptions {
  /** The PGlite data folder itself (created when missing). Unset: in memory, gone on close. */
  dataDir?: string;
  logger: Logger;
  /**
   * Start a new data folder from a cached copy of an empty cluster instead of running initdb
   * (about 1 s instead of 4 s). Meant for tests; the cache lives in the OS temp folder.
   */
  fromTemplate?: boolean;
}

/** Embedded PostgreSQL. Also the quick way for tests to get a fresh database (`fromTemplate`). */
export async function createPgliteDatabase(options: CreatePgliteDatabaseOptions): Promise<Database> {
  const logger = options.logger.child({ component: 'db', driver: 'pglite' });
  const started = performance.now();
  const pglite = await openPglite({ dataDir: options.dataDir, fromTemplate: options.fromTemplate });
  logger.debug({ dataDir: options.dataDir ?? 'memory', ms: Math.round(performance.now() - started) }, 'pglite open');
  const sessionStats = trackPgliteSession(pglite);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  let closing: Promise<void> | undefined;
  const db: Database = {
    kind: 'pglite',
    prisma,
    ping: () => pingDatabase(prisma, 'pglite'),
    poolStats: sessionStats,
    close: () =>
      (closing ??= (async () => {
        await prisma.$disconnect();
        await pglite.close();
      })()),
  };
  driverHandles.set(db, { kind: 'pglite', pglite });
  return db;
}

/**
 * PGlite is one session, so its "pool" is one connection. Every `query`, `exec` and `transaction`
 * (Prisma's adapter and the tenant-SQL executor alike) takes the instance's one lock through
 * `_runExclusiveTransaction`; counting around that lock gives what a pool would report: 1 active
 * while someone holds the session, the rest waiting. Should a PGlite release drop that method,
 * the figures fall back to whether the session is inside a transaction (waiting then unknown: 0).
 */
function trackPgliteSession(pglite: PGlite): () => PoolStats {
  let active = 0;
  let waiting = 0;
  const exclusive = (pglite as unknown as Partial<Record<'_runExclusiveTransaction', ExclusiveRunner>>)
    ._runExclusiveTransaction;
  if (typeof exclusive !== 'function') {
    return () => {
      const busy = pglite.isInTransaction() ? 1 : 0;
      return { active: busy, idle: 1 - busy, waiting: 0, max: 1 };
    };
  }
  const run = exclusive.bind(pglite);
  (pglite as unknown as Record<'_runExclusiveTransaction', ExclusiveRunner>)._runExclusiveTransaction = (fn) => {
    waiting += 1;
    let started = false;
    return run(async () => {
      started = true;
      waiting -= 1;
      active += 1;
      try {
        return await fn();
      } finally {
        active -= 1;
      }
    }).finally(() => {
      // The lock refused the caller (the instance closed) before running it: no longer waiting.
      if (!started) waiting -= 1;
    });
  };
  return () => ({ active, idle: 1 - active, waiting, max: 1 });
}

type ExclusiveRunner = <T>(fn: () => Promise<T>) => Promise<T>;

/** Opens (or initialises) a PGlite cluster with the extensions migrations may ask for. */
export async function openPglite(options: { dataDir?: string; fromTemplate?: boolean } = {}): Promise<PGlite> {
  const { dataDir } = options;
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const isNew = !dataDir || !existsSync(join(dataDir, 'PG_VERSION'));
  const loadDataDir = isNew && options.fromTemplate ? await loadEmptyClusterTemplate() : undefined;
  return PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(loadDataDir ? { loadDataDir } : {}),
    extensions: PGLITE_EXTENSIONS,
  });
}

export function createPgPool(connectionString: string, max: number): pg.Pool {
  return new pg.Pool({ connectionString, max, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
}

/**
 * `?schema=` in the URL is where the Prisma CLI puts `_prisma_migrations` and unqualified tables;
 * pg itself ignores it, so hand it to the adapter to keep both tools in the same place.
 */
export function pgAdapterOptions(connectionString: string): { schema?: string } {
  try {
    const schema = new URL(connectionString).searchParams.get('schema');
    return schema ? { schema } : {};
  } catch {
    return {};
  }
}

async function pingDatabase(prisma: PrismaClient, kind: DatabaseKind): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      prisma.$queryRawUnsafe('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    throw Object.assign(new AppError('SERVICE_UNAVAILABLE', 'Database unreachable', { driver: kind }), {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - started;
}

let templateInProcess: Promise<Blob> | undefined;

/**
 * initdb is most of PGlite's start-up cost and its result never varies for one PGlite version,
 * so tests restore a dump of it. Cached on disk too, because vitest runs files in separate
 * processes.
 */
function loadEmptyClusterTemplate(): Promise<Blob> {
  templateInProcess ??= (async () => {
    const file = join(tmpdir(), `pglite-empty-cluster-${readPgliteVersion()}.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch {
      const pglite = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
      const dump = await pglite.dumpDataDir('none');
      await pglite.close();
      const partial = `${file}.${process.pid}.partial`;
      await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
      // rename is atomic: a concurrent reader sees no file or the whole file, never half of one.
      await rename(partial, file);
      return dump;
    }
  })();
  templateInProcess.catch(() => {
    templateInProcess = undefined;
  });
  return templateInProcess;
}

function readPgliteVersion(): string {
  const require = createRequire(import.meta.url);
  // The package's exports hide package.json; the entry point sits in <package>/dist.
  const packageJson = join(dirname(dirname(require.resolve('@electric-sql/pglite'))), 'package.json');
  return (require(packageJson) as { version: string }).version;
}
