import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  getSystemStatus,
  listIncidents,
  reportIncident,
  scheduleMaintenance,
  updateIncidentStatus,
  INCIDENT_SEVERITIES,
  INCIDENT_STATUSES,
  type Incident,
  type MaintenanceWindow,
  type SystemStatus,
} from '../services/incidents.js';

const IncidentRef = builder.objectRef<Incident>('Incident').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    status: t.exposeString('status'),
    severity: t.exposeString('severity'),
    impact: t.exposeString('impact', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => i.createdAt }),
    resolvedAt: t.field({ type: 'DateTime', nullable: true, resolve: (i) => i.resolvedAt }),
  }),
});

const MaintenanceWindowRef = builder.objectRef<MaintenanceWindow>('MaintenanceWindow').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    description: t.exposeString('description', { nullable: true }),
    startsAt: t.field({ type: 'DateTime', resolve: (w) => w.startsAt }),
    endsAt: t.field({ type: 'DateTime', resolve: (w) => w.endsAt }),
  }),
});

const SystemStatusRef = builder.objectRef<SystemStatus>('SystemStatus').implement({
  fields: (t) => ({
    maintenanceInProgress: t.exposeBoolean('maintenanceInProgress'),
    maintenanceScheduled: t.exposeBoolean('maintenanceScheduled'),
    activeIncidents: t.field({ type: [IncidentRef], resolve: (s) => s.activeIncidents }),
    upcomingMaintenance: t.field({ type: [MaintenanceWindowRef], resolve: (s) => s.upcomingMaintenance }),
    incidents: t.field({
      type: [IncidentRef],
      description: 'Incident history, newest first.',
      args: { limit: t.arg.int({ defaultValue: 20 }) },
      resolve: (_s, args, ctx) => listIncidents({ deps: ctx.deps, limit: args.limit ?? 20 }),
    }),
  }),
});

const IncidentSeverityEnum = builder.enumType('IncidentSeverity', { values: INCIDENT_SEVERITIES });
const IncidentStatusEnum = builder.enumType('IncidentStatus', { values: INCIDENT_STATUSES });

builder.queryField('systemStatus', (t) =>
  t.field({
    type: SystemStatusRef,
    description: 'Incidents and maintenance. Requires read:system.',
    resolve: (_root, _args, ctx) => {
      requireScope(ctx.principal, 'read:system');
      return getSystemStatus({ deps: ctx.deps });
    },
  }),
);

builder.mutationFields((t) => ({
  reportIncident: t.field({
    type: IncidentRef,
    description: 'Requires admin:services.',
    args: {
      title: t.arg.string({ required: true }),
      severity: t.arg({ type: IncidentSeverityEnum, required: true }),
      impact: t.arg.string(),
    },
    resolve: (_root, args, ctx) => {
      requireScope(ctx.principal, 'admin:services');
      return reportIncident({ deps: ctx.deps, input: args });
    },
  }),
  updateIncidentStatus: t.field({
    type: IncidentRef,
    description: 'Requires admin:services. Resolving stamps resolvedAt.',
    args: { id: t.arg.id({ required: true }), status: t.arg({ type: IncidentStatusEnum, required: true }) },
    resolve: (_root, args, ctx) => {
      requireScope(ctx.principal, 'admin:services');
      return updateIncidentStatus({ deps: ctx.deps, input: { id: String(args.id), status: args.status } });
    },
  }),
  scheduleMaintenance: t.field({
    type: MaintenanceWindowRef,
    description: 'Requires admin:services.',
    args: {
      title: t.arg.string({ required: true }),
      description: t.arg.string(),
      startsAt: t.arg({ type: 'DateTime', required: true }),
      endsAt: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: (_root, args, ctx) => {
      requireScope(ctx.principal, 'admin:services');
      return scheduleMaintenance({ deps: ctx.deps, input: args });
    },
  }),
}));
