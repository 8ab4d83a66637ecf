import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
import { PgliteWorkerClient } from './pglite-worker-client.js';
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
  /**
   * One statement straight on the driver under Prisma (node-postgres' pool on PostgreSQL, the
   * PGlite session on PGlite), its rows as that driver parses them. For hot paths whose
   * parameters Prisma's raw-query handling costs more than the statement: a 2,500-event ingest
   * batch in text[] parameters spent more CPU in Prisma than in node-postgres (bench:ingest).
   */
  query<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
  /** Runs `SELECT 1` and returns how long it took in ms; throws AppError SERVICE_UNAVAILABLE. */
  ping(): Promise<number>;
  /**
   * Live figures: from the pg Pool on PostgreSQL; on PGlite, its one in-process session (`max` 1,
   * `active` 1 while a query or transaction holds it, `waiting` the callers queued behind it).
   * null only when the figures cannot be read.
   */
  poolStats(): PoolStats | null;
  /**
   * Restarts this process's connection to the database in place (POST
   * /api/v1/services/database/restart). PostgreSQL: a new pool and client take every new query;
   * the old pool is drained (its checked-out connections finish their queries and transactions)
   * and then closed. PGlite: the embedded database is one in-process session with no pool; its
   * worker thread closes PGlite once the session is free (committed data on disk) and a new one
   * reopens the data folder; callers wait meanwhile. Returns what was done, in words.
   */
  restart(): Promise<string>;
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
export type DriverHandle =
  { kind: 'pglite'; pglite: PgliteWorkerClient } | { kind: 'postgres'; connectionString: string };

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
/** How long a restart waits for the old pool's connections to be given back before ending it. */
const RESTART_DRAIN_MS = 30_000;

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
  const open = () => {
    const pool = createPgPool(options.databaseUrl, options.poolMax);
    // An idle client losing its server emits 'error' on the pool; unhandled, it would kill the process.
    pool.on('error', (error) => logger.error({ err: error }, 'idle postgres connection failed'));
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool, pgAdapterOptions(options.databaseUrl)) });
    return { pool, prisma };
  };
  // Swapped by restart(): callers read `db.prisma` per use, so the next query takes the new pool.
  let current = open();
  let closing: Promise<void> | undefined;
  const retire = async (old: ReturnType<typeof open>, graceMs: number) => {
    // Drained: every connection checked out of the old pool (a query, an interactive transaction)
    // is given back before the pool is ended; past the grace period it is ended regardless.
    const deadline = Date.now() + graceMs;
    while (old.pool.totalCount > old.pool.idleCount || old.pool.waitingCount > 0) {
      if (Date.now() > deadline) {
        logger.warn({ active: old.pool.totalCount - old.pool.idleCount }, 'old pool still busy at restart deadline');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await old.prisma.$disconnect();
    await old.pool.end();
  };
  const db: Database = {
    kind: 'postgres',
    get prisma() {
      return current.prisma;
    },
    query: async <T>(sql: string, params: readonly unknown[]) =>
      (await current.pool.query(sql, params as unknown[])).rows as T[],
    ping: () => pingDatabase(current.prisma, 'postgres'),
    poolStats: () => ({
      active: current.pool.totalCount - current.pool.idleCount,
      idle: current.pool.idleCount,
      waiting: current.pool.waitingCount,
      max: options.poolMax,
    }),
    restart: async () => {
      if (closing) throw new Error('The database connection is closed');
      const old = current;
      const drained = old.pool.totalCount;
      const fresh = open();
      // The new pool must reach the server before it takes traffic.
      await pingDatabase(fresh.prisma, 'postgres');
      current = fresh;
      await retire(old, RESTART_DRAIN_MS);
      return `new connection pool (max ${options.poolMax}) in use; the old one drained and closed (${drained} connections)`;
    },
    close: () =>
      (closing ??= (async () => {
        await current.prisma.$disconnect();
        await current.pool.end();
      })()),
  };
  driverHandles.set(db, { kind: 'postgres', connectionString: options.databaseUrl });
  return db;
}

export interface CreatePgliteDatabaseOptions {
  /**
   * The PGlite data folder itself (created when missing). Unset: a private folder in the OS temp
   * folder, removed on close. Not PGlite's in-memory mode: the database runs in a worker thread
   * that is restarted when a statement passes its deadline, and a restart must find the data.
   */
  dataDir?: string;
  logger: Logger;
  /**
   * Start a new data folder from a cached copy of an empty cluster instead of running initdb
   * (about 1 s instead of 4 s). Meant for tests; the cache lives in the OS temp folder.
   */
  fromTemplate?: boolean;
}

/**
 * Embedded PostgreSQL, in a worker thread (lib/pglite-worker-client.ts) so that a long statement
 * blocks neither the event loop nor, past its deadline, the database. Also the quick way for
 * tests to get a fresh database (`fromTemplate`).
 */
export async function createPgliteDatabase(options: CreatePgliteDatabaseOptions): Promise<Database> {
  const logger = options.logger.child({ component: 'db', driver: 'pglite' });
  const started = performance.now();
  const scratch = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), 'pglite-'));
  const dataDir = options.dataDir ?? scratch!;
  await mkdir(dataDir, { recursive: true });
  const isNew = !existsSync(join(dataDir, 'PG_VERSION'));
  const loadDataDir = isNew && options.fromTemplate ? await loadEmptyClusterTemplate() : undefined;
  const pglite = await PgliteWorkerClient.create({ dataDir, ...(loadDataDir ? { loadDataDir } : {}) });
  logger.debug({ dataDir: options.dataDir ?? 'temporary', ms: Math.round(performance.now() - started) }, 'pglite open');
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite.asPglite()) });
  let closing: Promise<void> | undefined;
  const db: Database = {
    kind: 'pglite',
    prisma,
    query: async <T>(sql: string, params: readonly unknown[]) => (await pglite.query<T>(sql, [...params])).rows,
    // A held session (a tenant statement runs, bounded by its deadline) means up but busy: a
    // ping queued behind it would report a live instance dead to its load balancer. Idle or
    // restarting, the ping goes through (and a restart past PING_TIMEOUT_MS is unhealthy).
    ping: async () => (pglite.state === 'busy' ? 0 : pingDatabase(prisma, 'pglite')),
    poolStats: () => pglite.poolStats(),
    restart: async () => {
      await pglite.restart();
      return 'embedded database (one in-process session, no pool): PGlite closed once its session was free and its data folder reopened in a new worker thread; callers waited, committed data kept';
    },
    close: () =>
      (closing ??= (async () => {
        await prisma.$disconnect();
        await pglite.close();
        if (scratch) await rm(scratch, { recursive: true, force: true });
      })()),
  };
  driverHandles.set(db, { kind: 'pglite', pglite });
  return db;
}

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
