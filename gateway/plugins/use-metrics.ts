import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { realtimeCounters } from '../../lib/realtime/bounded-queue.js';
import { allTopicStats } from '../../lib/realtime/topics.js';
import type { MetricRecorder } from '../../lib/runtime/metric-recorder.js';

/**
 * The gateway's own request metrics (count and latency per route, operation, dialect and status)
 * and process figures, in a prom-client registry served as Prometheus text on GET /metrics.
 * Routes are labelled by their documented pattern (never the raw path) so label values stay bounded.
 */
/** cloudpioneer's documented Prometheus endpoint: served by the gateway itself, not the route tables. */
export const PROMETHEUS_ENDPOINT = { dialect: 'cloudpioneer', method: 'GET', path: '/metrics' } as const;

export interface GatewayMetrics {
  registry: Registry;
  /** Call when a request arrives; records it when the response finishes. */
  track(req: IncomingMessage, res: ServerResponse, pathname: string): void;
  render(): Promise<string>;
}

export function createGatewayMetrics(options: {
  classify: (method: string, pathname: string) => { route: string; dialect: string; operation: string } | null;
  realtime: () => { sessions: number; subscriptions: number };
  /** The platform metric store's recorder: the same counts and latencies, kept as samples in PostgreSQL. */
  recorder?: MetricRecorder;
  /** The tenant whose principal made the request: its figures are the tenant's too. */
  tenantOf?: (req: IncomingMessage) => string | null;
}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'dialect', 'operation', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'http_requests_errors_total',
    help: 'HTTP requests answered with status >= 400',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'realtime_sessions',
    help: 'Open graphql-ws and SSE sessions on this gateway',
    registers: [registry],
    collect() {
      this.set(options.realtime().sessions);
    },
  });
  new Gauge({
    name: 'realtime_subscriptions',
    help: 'Open subscriptions on this gateway',
    registers: [registry],
    collect() {
      this.set(options.realtime().subscriptions);
    },
  });
  new Gauge({
    name: 'realtime_events_dropped',
    help: 'Events dropped (oldest first) for subscribers whose queue was full, since start',
    registers: [registry],
    collect() {
      this.set(realtimeCounters.dropped);
    },
  });
  new Gauge({
    name: 'event_bus_messages_published',
    help: 'Messages this process published on the platform event bus, by topic',
    labelNames: ['topic'],
    registers: [registry],
    collect() {
      for (const [topic, stats] of allTopicStats()) this.set({ topic }, stats.published);
    },
  });

  return {
    registry,
    track(req, res, pathname) {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const method = req.method ?? 'GET';
        const known =
          pathname === '/graphql'
            ? { route: '/graphql', dialect: 'graphql', operation: 'graphql' }
            : (options.classify(method, pathname) ?? { route: 'unmatched', dialect: 'none', operation: 'none' });
        const labels = { method, ...known, status: String(res.statusCode) };
        requests.inc(labels);
        if (res.statusCode >= 400) errors.inc(labels);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        duration.observe(labels, seconds);
        if (options.recorder) {
          const tenantId = options.tenantOf?.(req) ?? null;
          options.recorder.add('http_requests', labels, tenantId);
          options.recorder.observe('http_request_duration_ms', labels, tenantId, seconds * 1000);
        }
      });
    },
    render: () => registry.metrics(),
  };
}

/**
 * GET /metrics (cloudpioneer "Prometheus Metrics"): the exposition text for a scraper holding a
 * key with read:metrics (Prometheus sends it as `authorization: Bearer`). Errors in cloudpioneer's shape.
 */
export function createMetricsHandler(options: {
  metrics: GatewayMetrics;
  authenticate: (req: IncomingMessage) => Promise<{ scopes: readonly string[] } | null>;
}): (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void> {
  const refuse = (res: ServerResponse, status: number, code: string, message: string, requestId: string) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: { code, message, details: {} }, request_id: requestId }));
  };
  return async (req, res, requestId) => {
    let principal;
    try {
      principal = await options.authenticate(req);
    } catch (error) {
      const appError = error as { status?: number; code?: string; message?: string };
      return refuse(
        res,
        appError.status ?? 401,
        appError.code ?? 'UNAUTHORIZED',
        appError.message ?? 'Unauthorized',
        requestId,
      );
    }
    if (!principal) return refuse(res, 401, 'UNAUTHORIZED', 'Authentication required', requestId);
    if (!principal.scopes.includes('read:metrics')) {
      return refuse(res, 403, 'FORBIDDEN', 'Missing required scope read:metrics', requestId);
    }
    const body = await options.metrics.render();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
    res.end(body);
  };
}
