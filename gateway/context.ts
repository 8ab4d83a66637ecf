import type { Logger } from '../lib/logger.js';
import type { ClientInfo, Principal } from '../lib/principal.js';

export interface GatewayContext {
  requestId: string;
  principal: Principal | null;
  client: ClientInfo;
  logger: Logger;
}
