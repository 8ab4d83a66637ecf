// What other parts of the platform (the gateway and app/) may import from edge.

import type { Principal } from '../../lib/principal.js';

/** Device tokens: `edt_` + 64 hex. Shown once at registration, stored as SHA-256 only. */
export const DEVICE_TOKEN_PREFIX = 'edt_';

/**
 * Scope of the principal the gateway builds for a connected device after resolving its token.
 * Not in SCOPES: no user, key or operator can hold it; only the gateway signs it.
 */
export const EDGE_DEVICE_SCOPE = 'internal:edge-device';

export function devicePrincipal(device: { id: string; tenantId: string }): Principal {
  return {
    kind: 'service',
    id: `device:${device.id}`,
    projectId: null,
    tenantId: device.tenantId,
    roles: ['device'],
    scopes: [EDGE_DEVICE_SCOPE],
  };
}

/**
 * Platform pub/sub channel telling gateways that a device has new work (a released deployment, a
 * retry): `{ device_id }` (the platform id). The gateway holding that device's WebSocket fetches
 * its assignments and sends what is new; a device that is offline gets them when it reconnects.
 */
export const DEVICE_WORK_CHANNEL = 'edge:device-work';

/**
 * Platform pub/sub channel of deployment progress, one JSON message per change (a device state,
 * a phase released, an abort, completion): {@link DeploymentProgressMessage}. GraphQL
 * subscriptions and outbound webhooks re-emit from here.
 */
export const DEPLOYMENT_PROGRESS_CHANNEL = 'edge:deployment-progress';

export interface DeploymentProgressMessage {
  type: 'device_state' | 'phase_started' | 'aborted' | 'completed';
  deployment_id: string;
  tenant_id: string;
  device_id: string | null;
  state: string | null;
  attempt: number | null;
  deployment_status: string;
  current_phase: number;
  counts: Record<string, number>;
  at: string;
}

/** The WebSocket path devices connect to on the gateway (Authorization: Bearer <device token>). */
export const DEVICE_SOCKET_PATH = '/api/v1/edge/devices/connect';

/** How often a device is asked to send a heartbeat, and after how long without one it counts as offline. */
export const HEARTBEAT_INTERVAL_SECONDS = 30;
export const OFFLINE_AFTER_SECONDS = 90;
