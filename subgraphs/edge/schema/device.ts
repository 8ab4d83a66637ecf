import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { listDevices, registerDevice, type Device } from '../services/devices.js';

const DeviceRef = builder.objectRef<Device>('Device').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    name: t.exposeString('name'),
    kind: t.exposeString('kind'),
    status: t.exposeString('status'),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.lastSeenAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
  }),
});

builder.queryField('devices', (t) =>
  t.field({
    type: [DeviceRef],
    description: 'Requires read:edge; tenantId only for callers bound to no tenant.',
    args: { tenantId: t.arg.id() },
    resolve: (_root, args, ctx) =>
      listDevices({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
      }),
  }),
);

const RegisterDeviceInput = builder.inputType('RegisterDeviceInput', {
  fields: (t) => ({
    tenantId: t.id(),
    name: t.string({ required: true }),
    kind: t.string({ required: true }),
  }),
});

builder.mutationField('registerDevice', (t) =>
  t.field({
    type: DeviceRef,
    description: 'Requires write:edge.',
    args: { input: t.arg({ type: RegisterDeviceInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      registerDevice({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          tenantId: input.tenantId === null || input.tenantId === undefined ? null : String(input.tenantId),
          name: input.name,
          kind: input.kind,
        },
      }),
  }),
);
