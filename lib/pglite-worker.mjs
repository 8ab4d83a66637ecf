// The embedded database (PGlite) in a worker thread. PGlite is PostgreSQL compiled to WASM: it
// runs on the thread that calls it and cannot be interrupted (statement_timeout never fires), so a
// long statement would block the whole process. Here it blocks only this thread, which the main
// thread (lib/pglite-worker-client.ts) terminates when a statement passes its deadline and then
// starts again on the same data folder.
//
// Plain JavaScript on purpose: a worker is started from a file path, and Node runs .mjs as it is
// under tsx, vitest and a compiled build alike (no TypeScript loader inside the worker).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, messages } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp';

const { dataDir, loadDataDir, pgliteWasmModule, initdbWasmModule, fsBundle } = workerData;

const identity = (value) => value;

/** A PGlite DatabaseError as plain fields: the main thread rebuilds the class around them. */
function serializeError(error) {
  if (error && typeof error === 'object') {
    const fields = {};
    for (const key of [
      'message',
      'code',
      'severity',
      'detail',
      'hint',
      'position',
      'internalPosition',
      'internalQuery',
      'where',
      'schema',
      'table',
      'column',
      'dataType',
      'constraint',
      'file',
      'line',
      'routine',
    ]) {
      if (error[key] !== undefined) fields[key] = error[key];
    }
    fields.name = error.name;
    fields.database = error instanceof messages.DatabaseError;
    return fields;
  }
  return { message: String(error), database: false };
}

let pglite;
try {
  pglite = await PGlite.create({
    dataDir,
    ...(loadDataDir ? { loadDataDir: new Blob([loadDataDir]) } : {}),
    // Compiled once by the main thread and shared: compiling PGlite's WASM is most of a restart.
    ...(pgliteWasmModule ? { pgliteWasmModule } : {}),
    ...(initdbWasmModule ? { initdbWasmModule } : {}),
    ...(fsBundle ? { fsBundle: new Blob([fsBundle]) } : {}),
    extensions: { pgcrypto, uuid_ossp },
  });
} catch (error) {
  parentPort.postMessage({ type: 'failed', error: serializeError(error) });
  process.exit(1);
}

parentPort.on('message', async (message) => {
  const { id, op } = message;
  try {
    let result;
    if (op === 'query') {
      // Columns whose type the caller parses itself travel as the server's text (parsers are
      // functions, which cannot cross threads); every other type is parsed here.
      const parsers = Object.fromEntries((message.rawOids ?? []).map((oid) => [oid, identity]));
      const out = await pglite.query(message.sql, message.params ?? [], {
        rowMode: message.rowMode ?? 'object',
        parsers,
        ...(message.paramTypes ? { paramTypes: message.paramTypes } : {}),
      });
      result = { rows: out.rows, fields: out.fields, affectedRows: out.affectedRows };
    } else if (op === 'exec') {
      const outs = await pglite.exec(message.sql);
      result = outs.map((out) => ({ rows: out.rows, fields: out.fields, affectedRows: out.affectedRows }));
    } else if (op === 'close') {
      await pglite.close();
      result = null;
    } else {
      throw new Error(`unknown operation ${op}`);
    }
    parentPort.postMessage({ type: 'result', id, result });
  } catch (error) {
    parentPort.postMessage({ type: 'error', id, error: serializeError(error) });
  }
});

parentPort.postMessage({ type: 'ready' });
