import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { AUTHENTICATE_SCOPE, requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import { randomSecret, sha256Hex } from '../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Device, Prisma } from '../../../prisma/generated/client.js';
import { DEVICE_TOKEN_PREFIX, EDGE_DEVICE_SCOPE, OFFLINE_AFTER_SECONDS } from '../contract.js';

export type { Device };

const KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const GROUP = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Bounds on what one device carries, so a registration cannot grow a row without limit. */
const MAX_GROUPS = 20;
const MAX_TAGS = 50;
const MAX_CAPABILITIES = 50;

const registerDeviceInput = z.object({
  tenantId: z.string().nullish(),
  deviceId: z.string().regex(KEY, 'device_id: 1-128 letters, digits, . _ : -'),
  name: z.string().trim().min(1).max(200).nullish(),
  kind: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,39}$/)
    .nullish(),
  capabilities: z
    .array(z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/))
    .max(MAX_CAPABILITIES)
    .nullish(),
  groups: z.array(z.string().regex(GROUP)).max(MAX_GROUPS).nullish(),
  tags: z
    .record(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/), z.string().max(256))
    .refine((t) => Object.keys(t).length <= MAX_TAGS, `At most ${MAX_TAGS} tags`)
    .nullish(),
  location: z.object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) }).nullish(),
  firmwareVersion: z.string().min(1).max(64).nullish(),
});

export interface RegisteredDevice {
  device: Device;
  /** The only copy: the platform keeps its SHA-256. */
  token: string;
}

/** Registers a device of the caller's tenant and mints its token (shown once, stored hashed like API keys). */
export async function registerDevice({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof registerDeviceInput>;
}): Promise<RegisteredDevice> {
  requireScope(principal, 'write:edge');
  const data = parseInput(registerDeviceInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  const token = randomSecret(DEVICE_TOKEN_PREFIX, 32);
  try {
    const device = await deps.db.prisma.device.create({
      data: {
        id: newId('dev'),
        tenantId,
        deviceKey: data.deviceId,
        name: data.name ?? data.deviceId,
        kind: data.kind ?? 'generic',
        capabilities: [...new Set(data.capabilities ?? [])],
        groups: [...new Set(data.groups ?? [])],
        tags: data.tags ?? {},
        latitude: data.location?.latitude ?? null,
        longitude: data.location?.longitude ?? null,
        firmwareVersion: data.firmwareVersion ?? null,
        tokenHash: sha256Hex(token),
      },
    });
    return { device, token };
  } catch (error) {
    if ((error as { code?: string }).code === 'P2002') {
      throw new AppError('CONFLICT', 'A device with this device_id is already registered', {
        device_id: data.deviceId,
      });
    }
    throw error;
  }
}

/** Online means connected and heard from recently: a gateway that died cannot leave a device "online". */
export function deviceStatus(device: Pick<Device, 'status' | 'lastSeenAt'>, now = Date.now()): string {
  if (device.status !== 'online') return device.status;
  const fresh = device.lastSeenAt !== null && now - device.lastSeenAt.getTime() <= OFFLINE_AFTER_SECONDS * 1000;
  return fresh ? 'online' : 'offline';
}

const listDevicesInput = z.object({
  tenantId: z.string().nullish(),
  group: z.string().regex(GROUP).nullish(),
  status: z.enum(['registered', 'online', 'offline', 'retired']).nullish(),
  first: z.number().int().min(1).max(500).nullish(),
});

export async function listDevices({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof listDevicesInput>;
}): Promise<Device[]> {
  requireScope(principal, 'read:edge');
  const data = parseInput(listDevicesInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  const where: Prisma.DeviceWhereInput = { tenantId, ...(data.group ? { groups: { has: data.group } } : {}) };
  const devices = await deps.db.prisma.device.findMany({
    where,
    orderBy: { createdAt: 'asc' },
    take: data.status ? 10_000 : (data.first ?? 100),
  });
  if (!data.status) return devices;
  return devices.filter((d) => deviceStatus(d) === data.status).slice(0, data.first ?? 100);
}

export async function findTenantDevice(deps: SubgraphDeps, tenantId: string, deviceKey: string): Promise<Device> {
  const device = await deps.db.prisma.device.findUnique({ where: { tenantId_deviceKey: { tenantId, deviceKey } } });
  if (!device) throw new AppError('NOT_FOUND', 'No such device', { device_id: deviceKey });
  return device;
}

/** The gateway resolving a device token (WebSocket connect); null for an unknown or retired device. */
export async function authenticateDevice({
  deps,
  principal,
  token,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  token: string;
}): Promise<Device | null> {
  if (principal.kind !== 'service' || !principal.scopes.includes(AUTHENTICATE_SCOPE)) {
    throw new AppError('FORBIDDEN', 'Only the gateway resolves device tokens');
  }
  if (!token.startsWith(DEVICE_TOKEN_PREFIX) || token.length > 200) return null;
  const device = await deps.db.prisma.device.findUnique({ where: { tokenHash: sha256Hex(token) } });
  return device && device.status !== 'retired' ? device : null;
}

/** The connected device itself, from the principal the gateway signed for it. */
export async function requireDevice(deps: SubgraphDeps, principal: Principal | null): Promise<Device> {
  if (
    !principal ||
    principal.kind !== 'service' ||
    !principal.scopes.includes(EDGE_DEVICE_SCOPE) ||
    !principal.id.startsWith('device:')
  ) {
    throw new AppError('FORBIDDEN', 'Only a connected device may do this');
  }
  const device = await deps.db.prisma.device.findUnique({ where: { id: principal.id.slice('device:'.length) } });
  if (!device || device.tenantId !== principal.tenantId || device.status === 'retired') {
    throw new AppError('UNAUTHORIZED', 'Unknown or retired device');
  }
  return device;
}

const heartbeatInput = z.object({
  cpuUsage: z.number().min(0).max(100).nullish(),
  memoryUsage: z.number().min(0).max(1e15).nullish(),
  diskUsage: z.number().min(0).max(100).nullish(),
  firmwareVersion: z.string().min(1).max(64).nullish(),
});

/**
 * A connection opened, a heartbeat, or a connection closed. Heartbeats that carry figures are
 * recorded as samples: the only source of a device's metrics.
 */
export async function recordDevicePresence({
  deps,
  principal,
  event,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  event: 'connected' | 'heartbeat' | 'disconnected';
  input?: z.input<typeof heartbeatInput> | null;
}): Promise<Device> {
  const device = await requireDevice(deps, principal);
  const figures = parseInput(heartbeatInput, input ?? {});
  const now = new Date();
  const hasFigures = [figures.cpuUsage, figures.memoryUsage, figures.diskUsage].some(
    (v) => v !== null && v !== undefined,
  );
  const [updated] = await deps.db.prisma.$transaction([
    deps.db.prisma.device.update({
      where: { id: device.id },
      data: {
        status: event === 'disconnected' ? 'offline' : 'online',
        lastSeenAt: now,
        ...(event === 'connected' ? { connectedAt: now } : {}),
        ...(figures.firmwareVersion ? { firmwareVersion: figures.firmwareVersion } : {}),
      },
    }),
    ...(hasFigures
      ? [
          deps.db.prisma.edgeDeviceSample.create({
            data: {
              tenantId: device.tenantId,
              deviceId: device.id,
              recordedAt: now,
              cpuUsage: figures.cpuUsage ?? null,
              memoryUsage: figures.memoryUsage ?? null,
              diskUsage: figures.diskUsage ?? null,
            },
          }),
        ]
      : []),
  ]);
  return updated;
}
