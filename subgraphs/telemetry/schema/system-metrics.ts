import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { readSystemMetrics, type SystemMetrics } from '../services/system-metrics.js';

const CpuRef = builder.objectRef<SystemMetrics['cpu']>('SystemCpu').implement({
  fields: (t) => ({
    usagePercent: t.exposeFloat('usagePercent'),
    loadAverage: t.exposeFloatList('loadAverage', { description: '1, 5 and 15 minutes' }),
    cores: t.exposeInt('cores'),
  }),
});

const CapacityRef = builder.objectRef<NonNullable<SystemMetrics['disk']>>('SystemCapacity').implement({
  description: 'Bytes',
  fields: (t) => ({
    total: t.exposeFloat('total'),
    used: t.exposeFloat('used'),
    free: t.exposeFloat('free'),
    usagePercent: t.exposeFloat('usagePercent'),
  }),
});

const SystemMetricsRef = builder.objectRef<SystemMetrics>('SystemMetrics').implement({
  fields: (t) => ({
    cpu: t.field({ type: CpuRef, resolve: (m) => m.cpu }),
    memory: t.field({ type: CapacityRef, resolve: (m) => m.memory }),
    disk: t.field({ type: CapacityRef, nullable: true, resolve: (m) => m.disk }),
  }),
});

builder.queryField('systemMetrics', (t) =>
  t.field({
    type: SystemMetricsRef,
    description: "The host's CPU, memory and disk as the telemetry service sees them. Requires read:metrics.",
    resolve: (_root, _args, ctx) => readSystemMetrics({ principal: requirePrincipal(ctx.principal) }),
  }),
);
