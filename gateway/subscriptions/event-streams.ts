import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DocumentNode, ExecutionResult } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import { GATEWAY_PRINCIPAL, NO_CLIENT, principalSchema, type Principal } from '../../lib/principal.js';
import type { GatewayContext } from '../context.js';
import { graphql, type ResultOf } from '../rest/graphql.js';
import type { Gateway } from '../server.js';
import type { FederatedSubscriber } from './federated.js';
import { CLOSE_REASONS, type SessionRegistry } from './sessions.js';

/**
 * cloudpioneer `WS /v1/events/{stream_id}`: a stream created by `POST /events/stream` (telemetry's
 * createEventStream) is claimed with its token (`?token=` or `Authorization: Bearer`), then the
 * topic's GraphQL subscription runs through the federated subscriber as the stream's creator.
 * Every message is the document's event format: `{event_type, timestamp, resource_id, data}`.
 * Heartbeat as documented: a ping every 30 s, closed (4408 "Pong timeout") when no pong comes
 * within 10 s; both configurable (SubscriptionLimits.streamPingMs / streamPongTimeoutMs).
 */

/** The catalog's entry this module serves (npm run endpoints counts it). */
export const EVENT_STREAM_ENDPOINT = { dialect: 'cloudpioneer', method: 'WS', path: '/v1/events/{stream_id}' } as const;

export const EVENT_STREAM_PATH = /^(?:\/v1)?\/events\/(stream_[A-Za-z0-9_-]{1,80})$/;

export interface EventStreamMessage {
  event_type: string;
  timestamp: string;
  resource_id: string | null;
  data: Record<string, unknown>;
}

const CLAIM = graphql(`
  query ClaimEventStream($id: ID!, $token: String!) {
    eventStreamClaim(id: $id, token: $token) {
      id
      topic
      filters
      principal
      expiresAt
    }
  }
`);

const EVENTS = graphql(`
  subscription EventStreamEvents($tenantId: ID, $types: [String!]) {
    telemetryEvents(tenantId: $tenantId, types: $types) {
      id
      tenantId
      type
      source
      payload
      occurredAt
    }
  }
`);

const DEPLOYMENT_PROGRESS = graphql(`
  subscription EventStreamDeploymentProgress($tenantId: ID, $deploymentId: ID) {
    edgeDeploymentProgress(tenantId: $tenantId, deploymentId: $deploymentId) {
      type
      deploymentId
      tenantId
      deviceId
      state
      attempt
      deploymentStatus
      currentPhase
      counts {
        committed
        failed
        rolledBack
        total
      }
      at
    }
  }
`);

const BROADCASTS = graphql(`
  subscription EventStreamBroadcasts($tenantId: ID, $channels: [String!]) {
    broadcasts(tenantId: $tenantId, channels: $channels) {
      id
      type
      data
      tenantId
      channels
      broadcastAt
    }
  }
`);

type Filters = Record<string, unknown>;
const str = (value: unknown) => (typeof value === 'string' ? value : null);
const strings = (value: unknown) =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;

interface TopicPlan {
  document: DocumentNode;
  variables(filters: Filters): Record<string, unknown>;
  message(data: Record<string, unknown>): EventStreamMessage;
}

const TOPICS: Record<string, TopicPlan> = {
  events: {
    document: EVENTS,
    variables: (f) => ({ tenantId: str(f.tenant_id), types: strings(f.event_types) }),
    message: (data) => {
      const e = data.telemetryEvents as ResultOf<typeof EVENTS>['telemetryEvents'];
      return {
        event_type: 'telemetry_event',
        timestamp: e.occurredAt,
        resource_id: e.tenantId,
        data: { id: e.id, type: e.type, source: e.source, payload: e.payload },
      };
    },
  },
  deployment_progress: {
    document: DEPLOYMENT_PROGRESS,
    variables: (f) => ({ tenantId: str(f.tenant_id), deploymentId: str(f.deployment_id) }),
    message: (data) => {
      const p = data.edgeDeploymentProgress as ResultOf<typeof DEPLOYMENT_PROGRESS>['edgeDeploymentProgress'];
      return {
        event_type: 'deployment_progress',
        timestamp: p.at,
        resource_id: p.deploymentId,
        data: {
          type: p.type,
          tenant_id: p.tenantId,
          device_id: p.deviceId,
          state: p.state,
          attempt: p.attempt,
          deployment_status: p.deploymentStatus,
          current_phase: p.currentPhase,
          counts: {
            committed: p.counts.committed,
            failed: p.counts.failed,
            rolled_back: p.counts.rolledBack,
            total: p.counts.total,
          },
        },
      };
    },
  },
  broadcasts: {
    document: BROADCASTS,
    variables: (f) => ({ tenantId: str(f.tenant_id), channels: strings(f.channels) }),
    message: (data) => {
      const b = data.broadcasts as ResultOf<typeof BROADCASTS>['broadcasts'];
      return {
        event_type: 'broadcast',
        timestamp: b.broadcastAt,
        resource_id: b.tenantId,
        data: { id: b.id, type: b.type, channels: b.channels, data: b.data },
      };
    },
  },
};

export interface EventStreams {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

export function createEventStreams(options: {
  execute: Gateway['execute'];
  federated: FederatedSubscriber;
  /** Streams count against the caller's subscription limits and end with the session reasons. */
  sessions: SessionRegistry;
  logger: Logger;
  pingMs: number;
  pongTimeoutMs: number;
}): EventStreams {
  const logger = options.logger.child({ component: 'event-streams' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 });
  const open = new Set<() => void>();

  const refuse = (socket: Duplex, status: number, reason: string) => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  const accept = async (req: IncomingMessage, socket: Duplex, head: Buffer, streamId: string) => {
    const url = new URL(`http://localhost${req.url ?? '/'}`);
    const token = url.searchParams.get('token') ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return refuse(socket, 401, 'Unauthorized');
    let claim: ResultOf<typeof CLAIM>['eventStreamClaim'];
    try {
      const result = await options.execute({
        document: CLAIM,
        variables: { id: streamId, token },
        principal: GATEWAY_PRINCIPAL,
        requestId: newId('req'),
      });
      if (result.errors?.length) throw new Error(result.errors[0]!.message);
      claim = (result.data as ResultOf<typeof CLAIM>).eventStreamClaim;
    } catch (error) {
      logger.error({ err: error }, 'claiming an event stream failed');
      return refuse(socket, 503, 'Service Unavailable');
    }
    if (!claim) return refuse(socket, 401, 'Unauthorized');
    const topic = TOPICS[claim.topic];
    const principal = principalSchema.safeParse(claim.principal);
    if (!topic || !principal.success) return refuse(socket, 410, 'Gone');
    const stream = { ...claim, principal: principal.data as Principal, filters: (claim.filters ?? {}) as Filters };
    wss.handleUpgrade(req, socket, head, (ws) => void serve(ws, req, stream, topic));
  };

  const serve = async (
    ws: WebSocket,
    req: IncomingMessage,
    stream: { id: string; topic: string; filters: Filters; principal: Principal; expiresAt: string },
    topic: TopicPlan,
  ) => {
    const send = (message: EventStreamMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const requestId = newId('req');
    const context: GatewayContext = {
      requestId,
      principal: stream.principal,
      client: { ip: req.socket.remoteAddress ?? NO_CLIENT.ip, userAgent: req.headers['user-agent'] ?? null },
      logger: logger.child({ requestId, stream: stream.id }),
    };
    const upstream: { iterator?: AsyncIterator<ExecutionResult> } = {};
    let closed = false;
    // Heartbeat: ping, then close when no pong arrives in time.
    let pongTimer: NodeJS.Timeout | undefined;
    const ping = setInterval(() => {
      if (pongTimer) return;
      ws.ping();
      pongTimer = setTimeout(() => {
        ws.close(4408, 'Pong timeout');
        // A peer that is gone never completes the closing handshake.
        setTimeout(() => ws.terminate(), 1000).unref();
      }, options.pongTimeoutMs);
    }, options.pingMs);
    ws.on('pong', () => {
      clearTimeout(pongTimer);
      pongTimer = undefined;
    });
    const expiry = setTimeout(
      () => ws.close(4401, 'Stream expired'),
      Math.max(0, new Date(stream.expiresAt).getTime() - Date.now()),
    );
    expiry.unref();
    // Ended like any real-time session: the tenant suspended, the user's sessions or the key
    // revoked (or the key expired), shutdown.
    const watched = stream.filters.tenant_id;
    const session = options.sessions.adopt({
      principal: stream.principal,
      tenantId: typeof watched === 'string' ? watched : null,
      transport: 'stream',
      end: (reason) => ws.close(CLOSE_REASONS[reason].code, CLOSE_REASONS[reason].reason),
    });
    const stop = () => {
      if (closed) return;
      closed = true;
      options.sessions.close(session);
      clearInterval(ping);
      clearTimeout(pongTimer);
      clearTimeout(expiry);
      open.delete(shutdown);
      void upstream.iterator?.return?.();
    };
    const shutdown = () => ws.close(1001, 'Server shutting down');
    open.add(shutdown);
    ws.on('close', stop);
    ws.on('message', () => undefined);

    try {
      options.sessions.acquire(session, stream.id);
    } catch (error) {
      const message = error instanceof Error ? error.message : 'Too many subscriptions';
      send({ event_type: 'error', timestamp: new Date().toISOString(), resource_id: null, data: { message } });
      ws.close(4429, message.slice(0, 120));
      return;
    }
    const started = await options.federated.subscribe({
      document: topic.document,
      variables: topic.variables(stream.filters),
      context,
      transport: 'stream',
    });
    if (!('next' in started)) {
      const message = started.errors?.[0]?.message ?? 'The stream could not start';
      send({ event_type: 'error', timestamp: new Date().toISOString(), resource_id: null, data: { message } });
      ws.close(4400, message.slice(0, 120));
      return;
    }
    const iterator = started;
    upstream.iterator = iterator;
    if (closed) {
      void iterator.return?.();
      return;
    }
    send({
      event_type: 'stream_started',
      timestamp: new Date().toISOString(),
      resource_id: null,
      data: { stream_id: stream.id, topic: stream.topic },
    });
    for (;;) {
      const step = await iterator.next();
      if (step.done || closed) break;
      const result = step.value;
      if (result.data) send(topic.message(result.data as Record<string, unknown>));
      else {
        const error = result.errors?.[0];
        send({
          event_type: 'error',
          timestamp: new Date().toISOString(),
          resource_id: null,
          data: { code: error?.extensions?.code ?? 'INTERNAL_ERROR', message: error?.message ?? 'Error' },
        });
      }
    }
    if (!closed) ws.close(1000, 'Stream ended');
  };

  return {
    handleUpgrade(req, socket, head) {
      const { pathname } = new URL(`http://localhost${req.url ?? '/'}`);
      const match = EVENT_STREAM_PATH.exec(pathname);
      if (!match) return false;
      accept(req, socket, head, match[1]!).catch((error: unknown) => {
        logger.error({ err: error }, 'event stream upgrade failed');
        refuse(socket, 500, 'Internal Server Error');
      });
      return true;
    },
    async close() {
      for (const shutdown of [...open]) shutdown();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
