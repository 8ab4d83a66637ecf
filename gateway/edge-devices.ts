import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import { GATEWAY_PRINCIPAL, type Principal } from '../lib/principal.js';
import type { Kv } from '../lib/runtime/kv.js';
import {
  DEVICE_SOCKET_PATH,
  DEVICE_WORK_CHANNEL,
  devicePrincipal,
  HEARTBEAT_INTERVAL_SECONDS,
} from '../subgraphs/edge/contract.js';
import type { Gateway } from './server.js';

// The device endpoint: edge devices hold one WebSocket to the gateway, authenticated by their
// device token (Authorization: Bearer edt_...). The gateway turns what a device says into edge
// operations run as that device (a principal it signs with the internal edge-device scope), and
// pushes work when edge publishes it on DEVICE_WORK_CHANNEL. Any gateway can hold any device:
// the state lives in edge's tables; a gateway only remembers what it already sent on a socket.
//
// Protocol (JSON text frames):
//   server → device  {type:"welcome", device_id, heartbeat_interval_seconds}
//                    {type:"deployment", deployment_id, kind, name, version, attempt, state,
//                     rollback_on_failure, manifest, manifest_sha256, manifest_signature, artifact}
//                    {type:"ack", ref, state} | {type:"error", ref, code, message}
//   device → server  {type:"heartbeat", metrics?:{cpu_usage, memory_usage, disk_usage}, firmware_version?}
//                    {type:"status", ref?, deployment_id, state, message?}

type Execute = Gateway['execute'];

const MAX_MESSAGE_BYTES = 64 * 1024;
/** Per connection: a device sending more than this many messages a second is disconnected. */
const MAX_MESSAGES_PER_SECOND = 50;

const ASSIGNMENTS = `query DeviceAssignments { deviceAssignments {
  deploymentId kind name version state attempt rollbackOnFailure manifest manifestSha256 manifestSignature
  artifact { sha256 size signature contentBase64 }
} }`;
const PRESENCE = `mutation DevicePresence($event: DevicePresenceEvent!, $input: DeviceHeartbeatInput) {
  recordDevicePresence(event: $event, input: $input) { id }
}`;
const REPORT = `mutation DeviceReport($deploymentId: ID!, $state: EdgeReportedState!, $message: String) {
  reportDeploymentState(deploymentId: $deploymentId, state: $state, message: $message) { state attempts }
}`;
const AUTHENTICATE = `mutation AuthenticateDevice($token: String!) {
  authenticateDevice(token: $token) { id tenantId deviceId }
}`;

interface Assignment {
  deploymentId: string;
  kind: string;
  name: string;
  version: string;
  state: string;
  attempt: number;
  rollbackOnFailure: boolean;
  manifest: string;
  manifestSha256: string;
  manifestSignature: string;
  artifact: { sha256: string; size: number; signature: string; contentBase64: string } | null;
}

interface Connection {
  ws: WebSocket;
  deviceId: string;
  deviceKey: string;
  principal: Principal;
  /** deployment:attempt pairs already sent on this socket. */
  sent: Set<string>;
  /** Everything a connection does runs in order: reports apply in the order the device sent them. */
  queue: Promise<void>;
  alive: boolean;
  window: { start: number; count: number };
}

export interface DeviceSockets {
  /** True when the upgrade was for the device path (and has been answered). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  connectedCount(): number;
  close(): Promise<void>;
}

export async function createDeviceSockets(options: {
  execute: Execute;
  kv: Kv;
  logger: Logger;
}): Promise<DeviceSockets> {
  const logger = options.logger.child({ component: 'edge-devices' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const connections = new Map<string, Connection>();

  const run = async <T>(conn: Connection | null, principal: Principal, document: string, variables = {}) => {
    const requestId = newId('req');
    const result = await options.execute({ document, variables, principal, requestId });
    if (result.errors?.length) {
      const first = result.errors[0]!;
      const error = new Error(first.message) as Error & { code?: string };
      error.code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'INTERNAL_ERROR';
      throw error;
    }
    void conn;
    return result.data as T;
  };

  const send = (conn: Connection, message: unknown) => {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(message));
  };

  const enqueue = (conn: Connection, work: () => Promise<void>) => {
    conn.queue = conn.queue.then(work).catch((error: unknown) => {
      logger.warn({ err: error, device: conn.deviceId }, 'device connection step failed');
    });
    return conn.queue;
  };

  const sync = (conn: Connection) =>
    enqueue(conn, async () => {
      const data = await run<{ deviceAssignments: Assignment[] }>(conn, conn.principal, ASSIGNMENTS);
      for (const a of data.deviceAssignments) {
        const key = `${a.deploymentId}:${a.attempt}`;
        if (conn.sent.has(key)) continue;
        conn.sent.add(key);
        send(conn, {
          type: 'deployment',
          deployment_id: a.deploymentId,
          kind: a.kind,
          name: a.name,
          version: a.version,
          attempt: a.attempt,
          state: a.state,
          rollback_on_failure: a.rollbackOnFailure,
          manifest: a.manifest,
          manifest_sha256: a.manifestSha256,
          manifest_signature: a.manifestSignature,
          artifact: a.artifact
            ? {
                sha256: a.artifact.sha256,
                size: a.artifact.size,
                signature: a.artifact.signature,
                content_base64: a.artifact.contentBase64,
              }
            : null,
        });
      }
    });

  const onMessage = (conn: Connection, raw: string) => {
    const now = Date.now();
    if (now - conn.window.start >= 1000) conn.window = { start: now, count: 0 };
    conn.window.count += 1;
    if (conn.window.count > MAX_MESSAGES_PER_SECOND) {
      conn.ws.close(1008, 'Too many messages');
      return;
    }
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      message = parsed as Record<string, unknown>;
    } catch {
      send(conn, { type: 'error', ref: null, code: 'MALFORMED_JSON', message: 'Messages are JSON objects' });
      return;
    }
    const ref = typeof message.ref === 'string' || typeof message.ref === 'number' ? message.ref : null;
    const fail = (error: unknown) =>
      send(conn, {
        type: 'error',
        ref,
        code: (error as { code?: string }).code ?? 'INTERNAL_ERROR',
        message: (error as Error).message,
      });
    if (message.type === 'heartbeat') {
      const metrics = (message.metrics ?? {}) as Record<string, unknown>;
      void enqueue(conn, async () => {
        try {
          await run(conn, conn.principal, PRESENCE, {
            event: 'heartbeat',
            input: {
              cpuUsage: metrics.cpu_usage ?? null,
              memoryUsage: metrics.memory_usage ?? null,
              diskUsage: metrics.disk_usage ?? null,
              firmwareVersion: message.firmware_version ?? null,
            },
          });
          if (ref !== null) send(conn, { type: 'ack', ref });
        } catch (error) {
          fail(error);
        }
      });
      return;
    }
    if (message.type === 'status') {
      void enqueue(conn, async () => {
        try {
          const data = await run<{ reportDeploymentState: { state: string; attempts: number } }>(
            conn,
            conn.principal,
            REPORT,
            { deploymentId: message.deployment_id, state: message.state, message: message.message ?? null },
          );
          send(conn, {
            type: 'ack',
            ref,
            deployment_id: message.deployment_id,
            state: data.reportDeploymentState.state,
          });
        } catch (error) {
          fail(error);
        }
      });
      // A retry queued by this report arrives through DEVICE_WORK_CHANNEL like any other work.
      return;
    }
    send(conn, { type: 'error', ref, code: 'VALIDATION_ERROR', message: 'Unknown message type' });
  };

  const unsubscribe = await options.kv.pubsub.subscribe(DEVICE_WORK_CHANNEL, (raw) => {
    try {
      const { device_id: deviceId } = JSON.parse(raw) as { device_id?: string };
      const conn = deviceId ? connections.get(deviceId) : undefined;
      if (conn) void sync(conn);
    } catch (error) {
      logger.warn({ err: error }, 'malformed device work message');
    }
  });

  const pinger = setInterval(() => {
    for (const conn of connections.values()) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }, HEARTBEAT_INTERVAL_SECONDS * 1000);
  pinger.unref();

  const refuse = (socket: Duplex, status: number, reason: string) => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  const accept = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) return refuse(socket, 401, 'Unauthorized');
    let device: { id: string; tenantId: string; deviceId: string } | null;
    try {
      const data = await run<{ authenticateDevice: typeof device }>(null, GATEWAY_PRINCIPAL, AUTHENTICATE, { token });
      device = data.authenticateDevice;
    } catch (error) {
      logger.error({ err: error }, 'device authentication failed');
      return refuse(socket, 503, 'Service Unavailable');
    }
    if (!device) return refuse(socket, 401, 'Unauthorized');
    const found = device;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: Connection = {
        ws,
        deviceId: found.id,
        deviceKey: found.deviceId,
        principal: devicePrincipal(found),
        sent: new Set(),
        queue: Promise.resolve(),
        alive: true,
        window: { start: Date.now(), count: 0 },
      };
      connections.get(found.id)?.ws.close(4000, 'Replaced by a newer connection');
      connections.set(found.id, conn);
      ws.on('pong', () => {
        conn.alive = true;
      });
      ws.on('message', (data, isBinary) => {
        conn.alive = true;
        if (isBinary) {
          send(conn, { type: 'error', ref: null, code: 'VALIDATION_ERROR', message: 'Text frames only' });
          return;
        }
        onMessage(conn, (data as Buffer).toString('utf8'));
      });
      ws.on('close', () => {
        if (connections.get(found.id) !== conn) return;
        connections.delete(found.id);
        void enqueue(conn, async () => {
          await run(conn, conn.principal, PRESENCE, { event: 'disconnected' });
        });
      });
      void enqueue(conn, async () => {
        await run(conn, conn.principal, PRESENCE, { event: 'connected' });
        send(conn, {
          type: 'welcome',
          device_id: found.deviceId,
          heartbeat_interval_seconds: HEARTBEAT_INTERVAL_SECONDS,
        });
      });
      void sync(conn);
    });
  };

  return {
    handleUpgrade(req, socket, head) {
      const { pathname } = new URL(`http://localhost${req.url ?? '/'}`);
      if (pathname !== DEVICE_SOCKET_PATH) return false;
      accept(req, socket, head).catch((error: unknown) => {
        logger.error({ err: error }, 'device upgrade failed');
        socket.destroy();
      });
      return true;
    },
    connectedCount: () => connections.size,
    async close() {
      clearInterval(pinger);
      await unsubscribe();
      const pending = [...connections.values()];
      for (const conn of pending) conn.ws.close(1001, 'Gateway shutting down');
      await Promise.allSettled(pending.map((c) => c.queue));
      wss.close();
    },
  };
}
