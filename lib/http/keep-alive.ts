import type { Server } from 'node:http';

/**
 * Idle keep-alive sockets are kept longer than a load balancer's (or a client pool's) usual 60 s,
 * so the server is not the side that closes a socket a client is about to reuse (the client then
 * sees ECONNRESET). Node's 5 s default races busy clients; the header timeout must outlast it.
 * Shutdown still closes idle sockets at once (graceful-close.ts).
 */
export function keepIdleSocketsOpen(server: Server): void {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}
