import type { BlobStore } from '../runtime/blob-store.js';
import type { AllowEntry } from '../outbound-address.js';
import type { SecretBox } from '../secret-box.js';
import type { Database } from '../db.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mailer.js';
import type { ClientInfo, Principal } from '../principal.js';
import type { JobQueue } from '../runtime/jobs.js';
import type { Kv } from '../runtime/kv.js';
import type { SubgraphClient } from './client.js';
import type { PrivacyHook } from './privacy.js';

export interface StripeSettings {
  secretKey: string;
  /** Absent: the Stripe webhook answers NOT_CONFIGURED. */
  webhookSecret?: string;
  /** A Stripe-speaking server other than api.stripe.com (tests, stripe-mock). */
  apiUrl?: string;
  /** The billing meter's event_name that API calls are reported to. */
  usageMeterEvent: string;
}

/** The services of this process that can be restarted in place (set by the all-in-one process, app/platform.ts). */
export interface ServiceControl {
  restartable(): readonly string[];
  /**
   * Restarts the service in place (its server, pools, schema) and swaps it in; in-flight requests
   * finish on the old one. Resolves once it answers again, with what was done, in words.
   */
  restart(name: string): Promise<string>;
  /** Why a service of SERVICE_NAMES is not restartable here (it runs in another process). */
  whyNot?(name: string): string;
}

export interface OutboundSettings {
  allow: readonly AllowEntry[];
  timeoutMs: number;
  /** Delays before each webhook retry; the platform default is about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
  webhookRetryScheduleMs: readonly number[];
  /** Failed attempts in a row after which an endpoint is disabled. */
  webhookDisableAfterFailures: number;
  /** How often the mesh registry looks for services due a health check (each has its own interval). */
  healthCheckTickMs: number;
}

/** What every subgraph's services are built from; the composition root makes one per process. */
export interface SubgraphDeps {
  /** Seals secrets the platform stores and must read back (lib/secret-box.ts). */
  secretBox: SecretBox;
  db: Database;
  kv: Kv;
  jobs: JobQueue;
  startedAt: Date;
  version: string;
  environment: string;
  /** Outgoing mail (MFA codes); absent when SMTP is not configured. */
  mailer?: Mailer;
  /** Root folder of the platform's file storage (STORAGE_DIR): tenant backups. Absent: backups answer NOT_CONFIGURED. */
  storageDir?: string;
  /** The platform's object storage (lib/runtime/blob-store.ts): uploads, packages, artifacts, assets, exports. */
  blobs: BlobStore;
  /** clamd scanning uploads (CLAMAV_HOST); absent: uploads say they were not scanned. */
  clamav?: { host: string; port: number };
  /** Server for dedicated (level 2) tenant databases (TENANT_DATABASE_URL); absent: the platform's own server. */
  tenantDatabaseUrl?: string;
  /** Shared secret of the vm-ready webhook (WEBHOOK_SIGNING_SECRET); absent: the webhook answers NOT_CONFIGURED. */
  webhookSigningSecret?: string;
  /** Data import sources: the operator's allow-list (DATA_IMPORT_ALLOWED_HOSTS) and connect timeout. */
  dataImport: { allow: readonly AllowEntry[]; connectTimeoutMs: number };
  /** Custom-domain verification: DNS servers to ask (WHITELABEL_DNS_SERVERS); empty, the system's. */
  whitelabel?: { dnsServers: readonly string[] };
  /** Metric samples (METRICS_RETENTION_HOURS); absent: the metric store's default retention (7 days). */
  metrics?: { retentionMs: number };
  /** Real time (BROADCAST_RECEIPT_WAIT_MS); absent: the defaults of lib/realtime. */
  realtime?: { broadcastReceiptWaitMs: number };
  /** Webhook deliveries and mesh health checks (OUTBOUND_*): allow-list, timeout, retry schedule. */
  outbound: OutboundSettings;
  /** Stripe (STRIPE_*); absent: billing answers NOT_CONFIGURED. */
  stripe?: StripeSettings;
  /**
   * Operations on another subgraph as a service principal (tenancy → identity for a tenant's
   * admin). Absent where no subgraph is reachable (the job worker).
   */
  subgraphs?: SubgraphClient;
  /** Every subgraph's privacy hook, for identity's export and erasure jobs (from app/subgraphs.ts). */
  privacyHooks: readonly PrivacyHook[];
  /** Restarting services of this process; absent where the process cannot (separate processes). */
  services?: ServiceControl;
}

export interface SubgraphContext {
  requestId: string;
  principal: Principal | null;
  /** The caller's address and user agent, forwarded signed by the gateway. */
  client: ClientInfo;
  logger: Logger;
  deps: SubgraphDeps;
}
