import type { Server } from 'node:http';
import type { Logger } from '../logger.js';

/** How long a stopping server lets in-flight requests finish when the caller names no bound. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** How often idle keep-alive sockets are swept while draining: a request that just finished leaves one. */
const IDLE_SWEEP_MS = 50;

/**
 * Stops an HTTP server without cutting off the requests it is answering: it stops accepting
 * connections at once, closes idle keep-alive sockets at once (a pooled client such as the gateway
 * would otherwise hold `server.close()` open until its own idle timeout), answers anything arriving
 * on a still-open socket with `Connection: close`, and lets in-flight requests (long responses
 * included) run for at most `graceMs`, after which the remaining sockets are destroyed. Resolves
 * as soon as the last socket is gone, never later than the bound.
 */
export async function closeServerGracefully(
  server: Server,
  { graceMs = DEFAULT_SHUTDOWN_GRACE_MS, logger, name }: { graceMs?: number; logger: Logger; name: string },
): Promise<void> {
  if (!server.listening) return;
  const startedAt = Date.now();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A request still arriving on a kept-alive socket is served, then its socket closes behind it.
  server.on('request', (_req, res) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
  });
  server.closeIdleConnections();
  const active = await connectionCount(server);
  logger.info({ server: name, connections: active, graceMs }, 'stopped accepting connections; draining');
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), graceMs);
  });
  try {
    if ((await Promise.race([closed, expired])) === 'expired') {
      const left = await connectionCount(server);
      logger.warn({ server: name, connections: left, graceMs }, 'grace period over: closing remaining connections');
      server.closeAllConnections();
      await closed;
    }
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
  logger.info({ server: name, ms: Date.now() - startedAt }, 'drained');
}

function connectionCount(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error ? -1 : count)));
}
