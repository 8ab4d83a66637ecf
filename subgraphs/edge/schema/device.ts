import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  authenticateDevice,
  deviceStatus,
  listDevices,
  recordDevicePresence,
  registerDevice,
  type Device,
  type RegisteredDevice,
} from '../services/devices.js';

const optional = (v: string | null | undefined) => (v === null || v === undefined ? null : String(v));

export const DeviceRef = builder.objectRef<Device>('Device').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    deviceId: t.exposeString('deviceKey', { description: 'The id the tenant chose at registration' }),
    name: t.exposeString('name'),
    kind: t.exposeString('kind'),
    status: t.string({
      description: 'online only while connected and heard from within the offline window',
      resolve: (d) => deviceStatus(d),
    }),
    groups: t.exposeStringList('groups'),
    tags: t.field({ type: 'JSON', resolve: (d) => d.tags }),
    capabilities: t.exposeStringList('capabilities'),
    latitude: t.exposeFloat('latitude', { nullable: true }),
    longitude: t.exposeFloat('longitude', { nullable: true }),
    firmwareVersion: t.exposeString('firmwareVersion', { nullable: true }),
    applications: t.field({ type: 'JSON', resolve: (d) => d.applications }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.lastSeenAt }),
    connectedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.connectedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
  }),
});

const RegisteredDeviceRef = builder.objectRef<RegisteredDevice>('RegisteredDevice').implement({
  fields: (t) => ({
    device: t.field({ type: DeviceRef, resolve: (r) => r.device }),
    token: t.exposeString('token', { description: 'Shown once; the platform keeps only its SHA-256' }),
  }),
});

builder.queryField('devices', (t) =>
  t.field({
    type: [DeviceRef],
    description: 'Requires read:edge; tenantId only for callers bound to no tenant.',
    args: { tenantId: t.arg.id(), group: t.arg.string(), status: t.arg.string(), first: t.arg.int() },
    resolve: (_root, args, ctx) =>
      listDevices({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          tenantId: optional(args.tenantId as string | null | undefined),
          group: args.group,
          status: args.status as never,
          first: args.first,
        },
      }),
  }),
);

const LocationInput = builder.inputType('DeviceLocationInput', {
  fields: (t) => ({ latitude: t.float({ required: true }), longitude: t.float({ required: true }) }),
});

const RegisterDeviceInput = builder.inputType('RegisterDeviceInput', {
  fields: (t) => ({
    tenantId: t.id(),
    deviceId: t.string({ required: true }),
    name: t.string(),
    kind: t.string(),
    capabilities: t.stringList(),
    groups: t.stringList(),
    tags: t.field({ type: 'JSON' }),
    location: t.field({ type: LocationInput }),
    firmwareVersion: t.string(),
  }),
});

builder.mutationField('registerDevice', (t) =>
  t.field({
    type: RegisteredDeviceRef,
    description: 'Requires write:edge. Returns the device token once.',
    args: { input: t.arg({ type: RegisterDeviceInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      registerDevice({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { ...input, tenantId: optional(input.tenantId as string | null | undefined), tags: input.tags as never },
      }),
  }),
);

builder.mutationField('authenticateDevice', (t) =>
  t.field({
    type: DeviceRef,
    nullable: true,
    description: 'Gateway only: resolves a device token (null when unknown or retired).',
    args: { token: t.arg.string({ required: true }) },
    resolve: (_root, { token }, ctx) =>
      authenticateDevice({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), token }),
  }),
);

const HeartbeatInput = builder.inputType('DeviceHeartbeatInput', {
  fields: (t) => ({
    cpuUsage: t.float({ description: 'percent' }),
    memoryUsage: t.float({ description: 'bytes in use' }),
    diskUsage: t.float({ description: 'percent' }),
    firmwareVersion: t.string(),
  }),
});

const PresenceEvent = builder.enumType('DevicePresenceEvent', { values: ['connected', 'heartbeat', 'disconnected'] });

builder.mutationField('recordDevicePresence', (t) =>
  t.field({
    type: DeviceRef,
    description: 'The connected device itself (through the gateway): connect, heartbeat, disconnect.',
    args: { event: t.arg({ type: PresenceEvent, required: true }), input: t.arg({ type: HeartbeatInput }) },
    resolve: (_root, { event, input }, ctx) =>
      recordDevicePresence({ deps: ctx.deps, principal: ctx.principal, event, input }),
  }),
);
