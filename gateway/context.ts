import type { Logger } from '../lib/logger.js';
import type { Principal } from '../lib/principal.js';

export interface GatewayContext {
  requestId: string;
  principal: Principal | null;
  logger: Logger;
}
