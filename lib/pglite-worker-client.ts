import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { messages, type PGlite, type Results } from '@electric-sql/pglite';

/**
 * The main thread's side of the embedded database: PGlite runs in a worker thread
 * (lib/pglite-worker.mjs), so a statement that runs too long can be stopped by terminating that
 * thread, which a statement_timeout cannot do in PGlite (single-threaded WASM ignores it).
 *
 * It offers the part of PGlite's API the platform uses (query, exec, transaction, close), so
 * pglite-prisma-adapter and the migration runner take it as a PGlite. Like PGlite it is one
 * session: a lock here serialises callers, and a transaction holds the lock until it ends, so a
 * query issued outside an open transaction waits for it (as in PGlite itself).
 *
 * A query given `timeoutMs` that is still running at its deadline is cut: the worker is
 * terminated (its open transaction dies with it, like a crashed backend: never committed), the
 * caller gets SQLSTATE 57014 as from PostgreSQL's statement_timeout, and a new worker opens the
 * same data folder (PostgreSQL's crash recovery replays the WAL). Requests that arrive meanwhile
 * wait for the new worker instead of failing.
 */

export interface PgliteQueryOptions {
  rowMode?: 'array' | 'object';
  parsers?: Record<number, (value: string, typeId: number) => unknown>;
  paramTypes?: number[];
  /** Cut the statement after this many ms (terminate and restart the worker). */
  timeoutMs?: number;
}

/** PGlite's Transaction, with the deadline option on query(). */
export interface PgliteWorkerTransaction {
  query<T>(sql: string, params?: unknown[], options?: PgliteQueryOptions): Promise<Results<T>>;
  exec(sql: string): Promise<Results[]>;
  rollback(): Promise<void>;
  readonly closed: boolean;
}

interface WireResult {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

interface WireError {
  message: string;
  name?: string;
  database: boolean;
  [key: string]: unknown;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

interface WorkerSlot {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, Pending>;
  generation: number;
  dead: boolean;
  /** Opened its data folder once: only such a worker is replaced when it dies. */
  opened: boolean;
}

export interface PgliteWorkerStats {
  restarts: number;
  lastRestartMs: number | null;
}

const WORKER_FILE = new URL('./pglite-worker.mjs', import.meta.url);

interface PgliteAssets {
  pgliteWasmModule: WebAssembly.Module;
  initdbWasmModule: WebAssembly.Module;
  fsBundle: Uint8Array;
}

let assets: Promise<PgliteAssets> | undefined;

/**
 * PGlite's WASM compiled once per process: a WebAssembly.Module can be handed to any number of
 * workers, so a restart skips the compile (seconds on a busy machine) and only reopens the folder.
 */
function loadAssets(): Promise<PgliteAssets> {
  assets ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    const [pglite, initdb, fsBundle] = await Promise.all([
      readFile(join(dist, 'pglite.wasm')),
      readFile(join(dist, 'initdb.wasm')),
      readFile(join(dist, 'pglite.data')),
    ]);
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
      WebAssembly.compile(pglite),
      WebAssembly.compile(initdb),
    ]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: new Uint8Array(fsBundle) };
  })();
  assets.catch(() => {
    assets = undefined;
  });
  return assets;
}

/** The error PostgreSQL raises when statement_timeout fires; tenant SQL maps it to TIMEOUT. */
function timeoutError(timeoutMs: number): Error {
  return databaseError({
    message: `canceling statement due to statement timeout (${timeoutMs} ms)`,
    code: '57014',
    severity: 'ERROR',
    database: true,
  });
}

function databaseError(wire: WireError): Error {
  if (!wire.database) return Object.assign(new Error(wire.message), { name: wire.name ?? 'Error' });
  // The adapter (and our own error mapping) recognise PGlite's DatabaseError class.
  const { message, database: _database, name: _name, ...fields } = wire;
  return Object.assign(new messages.DatabaseError(message, 0, 'error'), fields);
}

export class PgliteWorkerClient {
  readonly #dataDir: string;
  #loadDataDir: Uint8Array | undefined;
  #slot: WorkerSlot;
  #nextId = 1;
  #lock: Promise<void> = Promise.resolve();
  /** Callers holding the session now (0 or 1), and callers queued for it. */
  #holders = 0;
  #waiting = 0;
  #closed = false;
  #stats: PgliteWorkerStats = { restarts: 0, lastRestartMs: null };

  readonly #assets: PgliteAssets;

  private constructor(dataDir: string, loadDataDir: Uint8Array | undefined, pgliteAssets: PgliteAssets) {
    this.#dataDir = dataDir;
    this.#loadDataDir = loadDataDir;
    this.#assets = pgliteAssets;
    this.#slot = this.#spawn(0);
  }

  /** Opens (or initialises from `loadDataDir`, a dumpDataDir tarball) the data folder in a worker. */
  static async create(options: { dataDir: string; loadDataDir?: Blob }): Promise<PgliteWorkerClient> {
    const tarball = options.loadDataDir ? new Uint8Array(await options.loadDataDir.arrayBuffer()) : undefined;
    const client = new PgliteWorkerClient(options.dataDir, tarball, await loadAssets());
    await client.#slot.ready;
    return client;
  }

  /**
   * `restarting`: a new worker is opening the folder. `busy`: the one session is held (a
   * statement or a transaction; a tenant statement is bounded by its deadline). `idle`: free.
   */
  get state(): 'idle' | 'busy' | 'restarting' {
    if (!this.#slot.opened) return 'restarting';
    return this.#holders > 0 ? 'busy' : 'idle';
  }

  /** PGlite is one session, so its "pool" is one connection: what a pool would report for it. */
  poolStats(): { active: number; idle: number; waiting: number; max: number } {
    const active = Math.min(this.#holders, 1);
    return { active, idle: 1 - active, waiting: this.#waiting, max: 1 };
  }

  get stats(): PgliteWorkerStats {
    return { ...this.#stats };
  }

  #spawn(generation: number): WorkerSlot {
    const worker = new Worker(WORKER_FILE, {
      workerData: { dataDir: this.#dataDir, loadDataDir: this.#loadDataDir, ...this.#assets },
    });
    // The tarball only seeds a new folder; a restart reopens what is on disk.
    this.#loadDataDir = undefined;
    const slot: WorkerSlot = {
      worker,
      ready: Promise.resolve(),
      pending: new Map(),
      generation,
      dead: false,
      opened: false,
    };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: { type: string; id?: number; result?: unknown; error?: WireError }) => {
        if (message.type === 'ready') {
          slot.opened = true;
          return resolve();
        }
        if (message.type === 'failed') return reject(databaseError(message.error!));
        const pending = slot.pending.get(message.id!);
        if (!pending) return;
        slot.pending.delete(message.id!);
        if (message.type === 'result') pending.resolve(message.result);
        else pending.reject(databaseError(message.error!));
      });
      const die = (error: Error) => {
        if (slot.dead) return;
        slot.dead = true;
        reject(error);
        for (const pending of slot.pending.values()) pending.reject(error);
        slot.pending.clear();
        // A worker that dies on its own (out of memory, a WASM trap) is replaced like a timed-out
        // one; one that could not even open the folder is not (it would fail again, forever).
        if (!this.#closed && this.#slot === slot && slot.opened) this.#restart();
      };
      worker.on('error', (error) => die(error));
      worker.on('exit', (code) =>
        die(
          databaseError({
            message: `the embedded database worker stopped (exit code ${code})`,
            code: '57P01',
            severity: 'FATAL',
            database: true,
          }),
        ),
      );
    });
    slot.ready.catch(() => undefined);
    return slot;
  }

  #restart(): void {
    const old = this.#slot;
    old.dead = true;
    // Under the session lock only the timed-out caller is in flight; anything else still
    // pending on the old worker fails the way a dropped connection would.
    for (const pending of old.pending.values()) {
      pending.reject(
        databaseError({
          message: 'the embedded database was restarted',
          code: '57P01',
          severity: 'FATAL',
          database: true,
        }),
      );
    }
    old.pending.clear();
    const started = performance.now();
    const slot = this.#spawn(old.generation + 1);
    this.#slot = slot;
    void old.worker.terminate();
    slot.ready.then(
      () => {
        this.#stats.restarts += 1;
        this.#stats.lastRestartMs = Math.round(performance.now() - started);
      },
      () => undefined,
    );
  }

  /** Sends one operation to the current worker, waiting for it to be ready (a restart). */
  async #send(op: Record<string, unknown>, timeoutMs?: number, generation?: number): Promise<unknown> {
    if (this.#closed) throw new Error('the embedded database is closed');
    let slot = this.#slot;
    if (generation !== undefined && slot.generation !== generation) {
      // The transaction this belongs to died with its worker.
      throw databaseError({
        message: 'the transaction was ended when the embedded database was restarted',
        code: '25P03',
        severity: 'ERROR',
        database: true,
      });
    }
    for (;;) {
      try {
        await slot.ready;
        break;
      } catch (error) {
        // The worker died before it was ready and has been replaced: wait for the new one.
        if (generation !== undefined || this.#slot === slot) throw error;
        slot = this.#slot;
      }
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        fn();
      };
      slot.pending.set(id, {
        resolve: (value) => settle(() => resolve(value)),
        reject: (error) => settle(() => reject(error)),
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (!slot.pending.delete(id)) return;
          reject(timeoutError(timeoutMs));
          if (this.#slot === slot) this.#restart();
        }, timeoutMs);
      }
      slot.worker.postMessage({ ...op, id });
    });
  }

  /** Runs `fn` holding the session (one caller at a time, as in PGlite). */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#waiting += 1;
    await previous;
    this.#waiting -= 1;
    this.#holders += 1;
    try {
      return await fn();
    } finally {
      this.#holders -= 1;
      release();
    }
  }

  async #query<T>(
    sql: string,
    params: unknown[] | undefined,
    options: PgliteQueryOptions | undefined,
    generation?: number,
  ): Promise<Results<T>> {
    const parsers = options?.parsers ?? {};
    const rawOids = Object.keys(parsers).map(Number);
    const rowMode = options?.rowMode ?? 'object';
    const wire = (await this.#send(
      {
        op: 'query',
        sql,
        params: params ?? [],
        rowMode,
        rawOids,
        ...(options?.paramTypes ? { paramTypes: options.paramTypes } : {}),
      },
      options?.timeoutMs,
      generation,
    )) as WireResult;
    if (rawOids.length > 0) applyParsers(wire, parsers, rowMode);
    return wire as unknown as Results<T>;
  }

  async #exec(sql: string, generation?: number): Promise<Results[]> {
    return (await this.#send({ op: 'exec', sql }, undefined, generation)) as Results[];
  }

  query<T>(sql: string, params?: unknown[], options?: PgliteQueryOptions): Promise<Results<T>> {
    return this.#exclusive(() => this.#query<T>(sql, params, options));
  }

  exec(sql: string): Promise<Results[]> {
    return this.#exclusive(() => this.#exec(sql));
  }

  /** PGlite's transaction(): BEGIN, the callback, then COMMIT, or ROLLBACK when it throws. */
  transaction<T>(callback: (tx: PgliteWorkerTransaction) => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      await this.#exec('BEGIN');
      const generation = this.#slot.generation;
      let closed = false;
      const open = () => {
        if (closed) throw new Error('Transaction is closed');
      };
      const tx = {
        query: async <R>(sql: string, params?: unknown[], options?: PgliteQueryOptions) => {
          open();
          return this.#query<R>(sql, params, options, generation);
        },
        exec: async (sql: string) => {
          open();
          return this.#exec(sql, generation);
        },
        rollback: async () => {
          open();
          await this.#exec('ROLLBACK', generation);
          closed = true;
        },
        sql: () => {
          throw new Error('tx.sql is not supported by the worker client');
        },
        listen: () => {
          throw new Error('LISTEN is not supported by the worker client');
        },
        get closed() {
          return closed;
        },
      } as unknown as PgliteWorkerTransaction;
      try {
        const value = await callback(tx);
        if (!closed) {
          closed = true;
          await this.#exec('COMMIT', generation);
        }
        return value;
      } catch (error) {
        // A transaction whose worker was restarted is already gone: nothing to roll back.
        if (!closed && this.#slot.generation === generation) {
          closed = true;
          await this.#exec('ROLLBACK', generation).catch(() => undefined);
        }
        throw error;
      }
    });
  }

  /**
   * A planned restart (POST /api/v1/services/database/restart): waits for the session (the
   * statement or transaction holding it finishes; callers queued behind it wait), closes PGlite
   * cleanly so everything committed is on disk, then opens the data folder in a new worker.
   * Nothing committed is lost and nothing in flight is cut off. Resolves once the new worker is ready.
   */
  async restart(): Promise<void> {
    if (this.#closed) throw new Error('the embedded database is closed');
    await this.#exclusive(async () => {
      const old = this.#slot;
      await this.#send({ op: 'close' });
      old.dead = true;
      const started = performance.now();
      const slot = this.#spawn(old.generation + 1);
      this.#slot = slot;
      await old.worker.terminate();
      await slot.ready;
      this.#stats.restarts += 1;
      this.#stats.lastRestartMs = Math.round(performance.now() - started);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#exclusive(async () => {
      try {
        await this.#send({ op: 'close' });
      } catch {
        // Closing is best effort: the worker is terminated below either way.
      }
      this.#closed = true;
      this.#slot.dead = true;
      await this.#slot.worker.terminate();
    });
  }

  /** The type the adapter and the migration runner expect; they use only what is above. */
  asPglite(): PGlite {
    return this as unknown as PGlite;
  }
}

function applyParsers(
  wire: WireResult,
  parsers: Record<number, (value: string, typeId: number) => unknown>,
  rowMode: 'array' | 'object',
): void {
  const columns = wire.fields
    .map((field, index) => ({ index, name: field.name, oid: field.dataTypeID, parse: parsers[field.dataTypeID] }))
    .filter((column) => column.parse !== undefined);
  if (columns.length === 0) return;
  for (const row of wire.rows) {
    for (const column of columns) {
      if (rowMode === 'array') {
        const values = row as unknown[];
        const value = values[column.index];
        if (value !== null && value !== undefined) values[column.index] = column.parse!(value as string, column.oid);
      } else {
        const values = row as Record<string, unknown>;
        const value = values[column.name];
        if (value !== null && value !== undefined) values[column.name] = column.parse!(value as string, column.oid);
      }
    }
  }
}
