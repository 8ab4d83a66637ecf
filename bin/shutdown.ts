import type { Logger } from '../lib/logger.js';

/** Beyond the drain, the time closing pools, queues and the database may take before the process is forced out. */
const FORCE_EXIT_MARGIN_MS = 5_000;

/**
 * Graceful stop on SIGTERM/SIGINT: finish in-flight work (bounded by graceMs), close pools and
 * queues, then exit 0 at once. The force timer is only the backstop for a close that hangs.
 *
 * The entry points run as the node process itself (`exec node --import tsx ...` in package.json,
 * `node --import tsx ...` in the images), so the signal reaches this handler directly, whether it
 * was sent to the process group, to npm (which forwards it), or by the container runtime. A second
 * signal while closing (npm forwarding the group's) is ignored.
 */
export function onShutdown(logger: Logger, close: () => Promise<void>, { graceMs }: { graceMs: number }): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    const startedAt = Date.now();
    logger.info({ signal, graceMs }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ ms: Date.now() - startedAt }, 'shutdown took too long: forcing exit');
      process.exit(1);
    }, graceMs + FORCE_EXIT_MARGIN_MS);
    force.unref();
    close()
      .then(() => {
        logger.info({ ms: Date.now() - startedAt }, 'shutdown complete');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
