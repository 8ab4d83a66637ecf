import type { Logger } from '../lib/logger.js';
import type { ClientInfo, Principal } from '../lib/principal.js';

export interface GatewayContext {
  requestId: string;
  principal: Principal | null;
  client: ClientInfo;
  logger: Logger;
  /** Set for operations a REST route runs: the route's own rate-limit policy already applied. */
  viaRest?: boolean;
}
