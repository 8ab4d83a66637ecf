import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * samlify's schema validator (@authenio/samlify-node-xmllint: libxml2's xmllint compiled to
 * JavaScript, so no Java) run on a worker thread. Its calls are synchronous, and the first one
 * compiles a 4.7 MB module: about ten seconds on a small machine, during which the event loop of
 * the whole process (gateway, every in-process subgraph) would stand still. On a worker the
 * process keeps serving while SAML messages are checked.
 */

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const xmllint = require(workerData.modulePath);
parentPort.on('message', ({ id, xml }) => {
  xmllint.validate(xml).then(
    (result) => parentPort.postMessage({ id, ok: true, result }),
    (error) => parentPort.postMessage({ id, ok: false, error: String(error && error.message || error) }),
  );
});
`;

/** A validation still waiting after this long is failed: the worker is replaced, not waited on. */
const VALIDATION_TIMEOUT_MS = 60_000;

interface Pending {
  resolve: (value: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, Pending>();

function failAll(error: Error): void {
  for (const [id, waiter] of pending) {
    clearTimeout(waiter.timer);
    waiter.reject(error);
    pending.delete(id);
  }
}

function getWorker(): Worker {
  if (worker) return worker;
  const modulePath = createRequire(import.meta.url).resolve('@authenio/samlify-node-xmllint');
  const created = new Worker(WORKER_SOURCE, { eval: true, workerData: { modulePath } });
  // Never the reason a process stays up: shutdown does not have to know about it.
  created.unref();
  created.on('message', (message: { id: number; ok: boolean; result?: string; error?: string }) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.ok) waiter.resolve(message.result ?? '');
    else waiter.reject(new Error(`ERR_EXCEPTION_VALIDATE_XML: ${message.error ?? 'invalid'}`));
  });
  const replace = (error: Error) => {
    if (worker === created) worker = null;
    failAll(error);
  };
  created.on('error', replace);
  created.on('exit', (code) => replace(new Error(`SAML schema validator exited with code ${code}`)));
  worker = created;
  return created;
}

/** Resolves when the XML is valid against the SAML 2.0 schemas; rejects otherwise (samlify's contract). */
export function validate(xml: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const id = (nextId += 1);
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error('SAML schema validation timed out'));
      // A validator that hangs is useless for every later message too.
      void worker?.terminate();
    }, VALIDATION_TIMEOUT_MS);
    timer.unref();
    pending.set(id, { resolve, reject, timer });
    getWorker().postMessage({ id, xml });
  });
}
