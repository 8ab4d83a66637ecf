import type { Database } from '../db.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mailer.js';
import type { ClientInfo, Principal } from '../principal.js';
import type { JobQueue } from '../runtime/jobs.js';
import type { Kv } from '../runtime/kv.js';

/** What every subgraph's services are built from; the composition root makes one per process. */
export interface SubgraphDeps {
  db: Database;
  kv: Kv;
  jobs: JobQueue;
  startedAt: Date;
  version: string;
  environment: string;
  /** Outgoing mail (MFA codes); absent when SMTP is not configured. */
  mailer?: Mailer;
}

export interface SubgraphContext {
  requestId: string;
  principal: Principal | null;
  /** The caller's address and user agent, forwarded signed by the gateway. */
  client: ClientInfo;
  logger: Logger;
  deps: SubgraphDeps;
}
