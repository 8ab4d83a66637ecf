import { randomBytes } from 'node:crypto';
import type { Gateway, GatewayOptions } from '../gateway/server.js';
import { composeSupergraph } from '../gateway/supergraph.js';
import type { Database } from '../lib/db.js';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/env.js';
import type { Logger } from '../lib/logger.js';
import type { JobQueue } from '../lib/runtime/jobs.js';
import type { Kv } from '../lib/runtime/kv.js';
import type { SecretBox } from '../lib/secret-box.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { createHttpSubgraphClient, createInProcessSubgraphClient } from '../lib/subgraph/client.js';
import { startSubgraphService, type SubgraphService } from '../lib/subgraph/service.js';
import { serviceMeter } from '../lib/runtime/service-metrics.js';
import { SUBGRAPHS } from './subgraphs.js';
import { STORAGE_URL_KEY_LABEL } from '../lib/storage-url.js';
import { createSubgraphDeps, type DepsConfig } from './deps.js';
import { assembleGateway } from './gateway.js';
import { startProcessMetrics, type MetricsConfig } from './metrics.js';
import { createMetricRecorder, defaultInstanceName, type MetricSampler } from '../lib/runtime/metric-recorder.js';

export interface PlatformConfig extends DepsConfig {
  signingSecret?: string;
  adminApiKey?: string;
  port: number;
  host: string;
  requestTimeoutMs: number;
  rateLimitEnabled: boolean;
  trustedProxies?: string[];
  /** in-process: the embedded default. http: every subgraph on its own port, reached over the network. */
  transport: 'in-process' | 'http';
  rateLimitPolicies?: GatewayOptions['rateLimitPolicies'];
  /** How long close() lets in-flight requests finish before cutting them off (SHUTDOWN_GRACE_MS). */
  shutdownGraceMs?: number;
  /** /graphql operation limits and schema visibility (GRAPHQL_* in lib/env.ts); defaults when absent. */
  graphqlLimits?: GatewayOptions['graphqlLimits'];
  /** Subscription limits and keepalive (tests shrink them); defaults when absent. */
  subscriptionLimits?: GatewayOptions['subscriptionLimits'];
  /** The metric store's sampler (METRICS_*): interval, retention, instance label. */
  metrics?: MetricsConfig & { instance?: string };
}

export interface Platform {
  url: string;
  gateway: Gateway;
  /** The subgraphs' deps (tests call services with them, or with a variant: `{ ...deps, mailer: undefined }`). */
  deps: SubgraphDeps;
  db: Database;
  kv: Kv;
  jobs: JobQueue;
  subgraphs: Record<SubgraphName, SubgraphService>;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  signingSecret: string;
  secretBox: SecretBox;
  /** This process's metric sampler: `flush()` writes the current window's samples now. */
  metrics: MetricSampler;
  close(): Promise<void>;
}

/**
 * `npm start` (and the end-to-end tests): the subgraphs' deps, the job worker, six subgraphs and
 * the gateway, in one process.
 */
export async function startPlatform(config: PlatformConfig, logger: Logger): Promise<Platform> {
  const started = performance.now();
  // In one process a fresh secret per start is enough: nothing outside it has to verify it.
  const signingSecret = config.signingSecret ?? randomBytes(32).toString('hex');
  const subgraphs = {} as Record<SubgraphName, SubgraphService>;
  const subgraphUrls: Partial<Record<SubgraphName, string>> = {};
  // Read at call time: the subgraphs are started below, after the deps they are built from.
  const subgraphClient =
    config.transport === 'http'
      ? createHttpSubgraphClient({ urls: () => subgraphUrls, signingSecret })
      : createInProcessSubgraphClient({ services: () => subgraphs, signingSecret });
  const runtime = await createSubgraphDeps(
    { ...config, metricsRetentionMs: config.metricsRetentionMs ?? config.metrics?.retentionMs },
    logger,
    { subgraphs: subgraphClient, migrate: true },
  );
  const { deps } = runtime;
  // Closed in reverse order of start: the gateway (draining its requests) first, then the
  // subgraphs behind it, then the worker, queues and database they all used.
  const closers: Array<{ step: string; close: () => Promise<void> }> = [
    { step: 'job worker, queues, database', close: () => runtime.close() },
  ];
  const graceMs = config.shutdownGraceMs;
  const close = async () => {
    for (const { step, close: fn } of [...closers].reverse()) {
      const startedAt = Date.now();
      try {
        await fn();
        logger.info({ step, ms: Date.now() - startedAt }, 'closed');
      } catch (error) {
        logger.error({ err: error, step }, 'close failed');
      }
    }
  };
  let gateway!: Gateway;
  try {
    await deps.jobs.startWorker();
    await serviceMeter(deps.kv).started('worker');
    for (const name of SUBGRAPH_NAMES) {
      const service = await startSubgraphService({ module: SUBGRAPHS[name], deps, signingSecret, logger });
      // Read at close time: a restarted subgraph has replaced the one started here.
      closers.push({ step: `subgraph ${name}`, close: () => subgraphs[name].stop({ graceMs }) });
      subgraphs[name] = service;
      if (config.transport === 'http') subgraphUrls[name] = (await service.listen(0, '127.0.0.1')).url;
    }
    for (const module of Object.values(SUBGRAPHS)) await module.start?.(deps);
    // Services restarted in place through POST /api/v1/services/{name}/restart (platform subgraph).
    // The gateway reads subgraphs[name] per request (InProcessDataSource), so a fresh server
    // swapped in here takes the next request; the old one finishes what it has, then stops.
    const meter = serviceMeter(deps.kv);
    const restartSubgraph = async (subgraph: SubgraphName) => {
      const fresh = await startSubgraphService({ module: SUBGRAPHS[subgraph], deps, signingSecret, logger });
      const old = subgraphs[subgraph];
      subgraphs[subgraph] = fresh;
      void old
        .stop({ graceMs })
        .catch((error: unknown) => logger.error({ err: error, name: subgraph }, 'old subgraph stop failed'));
      return 'new server built from its schema took the next request; the old one finished its requests and stopped';
    };
    const restartable = [
      ...(config.transport === 'in-process' ? SUBGRAPH_NAMES : []),
      'gateway',
      'worker',
      'database',
      'cache',
    ];
    deps.services = {
      restartable: () => restartable,
      whyNot: (name) =>
        `${name} listens on its own port in this deployment (http transport) and cannot be swapped in place: restart the platform`,
      restart: async (name) => {
        let detail: string;
        if ((SUBGRAPH_NAMES as readonly string[]).includes(name) && config.transport === 'in-process') {
          detail = await restartSubgraph(name as SubgraphName);
        } else if (name === 'gateway') {
          // The supergraph is composed again from the subgraphs' schemas (uptime reset by the gateway).
          return gateway.restart(composeSupergraph(Object.values(SUBGRAPHS)));
        } else if (name === 'database') {
          detail = await deps.db.restart();
          await meter.started('database');
        } else if (name === 'cache') {
          detail = await deps.kv.reconnect();
          await meter.started('cache');
        } else if (name === 'worker') {
          const { finishedJobs } = await deps.jobs.restartWorker();
          await meter.started('worker');
          detail = `job worker stopped taking jobs, let ${finishedJobs} running jobs finish and started again`;
        } else {
          throw new Error(`Cannot restart ${name}`);
        }
        logger.info({ service: name, detail }, 'service restarted');
        return detail;
      },
    };

    gateway = await assembleGateway({
      supergraphSdl: composeSupergraph(Object.values(SUBGRAPHS)),
      inProcess: config.transport === 'in-process' ? subgraphs : {},
      urls: subgraphUrls,
      signingSecret,
      kv: deps.kv,
      jobs: deps.jobs,
      logger,
      adminApiKey: config.adminApiKey,
      dataDir: config.dataDir,
      requestTimeoutMs: config.requestTimeoutMs,
      rateLimitEnabled: config.rateLimitEnabled,
      trustedProxies: config.trustedProxies ?? [],
      rateLimitPolicies: config.rateLimitPolicies,
      graphqlLimits: config.graphqlLimits,
      subscriptionLimits: config.subscriptionLimits,
      checkResponses: config.environment === 'test',
      storage: { blobs: deps.blobs, urlKey: deps.secretBox.derive(STORAGE_URL_KEY_LABEL) },
      metricRecorder: createMetricRecorder({
        instance: config.metrics?.instance ?? defaultInstanceName('platform'),
        logger,
      }),
    });
    closers.push({ step: 'gateway', close: () => gateway.stop({ graceMs }) });
    const metrics = await startProcessMetrics({
      recorder: gateway.metricRecorder,
      kv: deps.kv,
      jobs: deps.jobs,
      db: deps.db,
      deps,
      logger,
      config: config.metrics,
    });
    closers.push({ step: 'metric sampler', close: () => metrics.stop() });
    const { url } = await gateway.listen(config.port, config.host);
    logger.info(
      {
        url,
        transport: config.transport,
        database: deps.db.kind,
        redis: deps.kv.kind,
        ms: Math.round(performance.now() - started),
      },
      'platform ready',
    );
    return {
      url,
      gateway,
      deps,
      db: deps.db,
      kv: deps.kv,
      jobs: deps.jobs,
      subgraphs,
      subgraphUrls,
      signingSecret,
      secretBox: deps.secretBox,
      metrics,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
