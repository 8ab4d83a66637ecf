import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { getRuntimeConfig } from './config/runtime-config.js';
import type { Incident, MaintenanceWindow } from '../../../prisma/generated/client.js';

export type { Incident, MaintenanceWindow };

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const INCIDENT_STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;

const reportIncidentInput = z.object({
  title: z.string().trim().min(1).max(200),
  severity: z.enum(INCIDENT_SEVERITIES),
  impact: z.string().trim().max(2000).nullish(),
});

export async function reportIncident({
  deps,
  input,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof reportIncidentInput>;
}): Promise<Incident> {
  const data = parseInput(reportIncidentInput, input);
  return deps.db.prisma.incident.create({
    data: { id: newId('inc'), title: data.title, severity: data.severity, impact: data.impact ?? null },
  });
}

const updateIncidentInput = z.object({ id: z.string().min(1), status: z.enum(INCIDENT_STATUSES) });

export async function updateIncidentStatus({
  deps,
  input,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof updateIncidentInput>;
}): Promise<Incident> {
  const data = parseInput(updateIncidentInput, input);
  const existing = await deps.db.prisma.incident.findUnique({ where: { id: data.id } });
  if (!existing) throw new AppError('NOT_FOUND', 'Incident not found', { id: data.id });
  return deps.db.prisma.incident.update({
    where: { id: data.id },
    data: { status: data.status, resolvedAt: data.status === 'resolved' ? (existing.resolvedAt ?? new Date()) : null },
  });
}

const scheduleMaintenanceInput = z
  .object({
    title: z.string().trim().min(1).max(200),
    description: z.string().trim().max(2000).nullish(),
    startsAt: z.date(),
    endsAt: z.date(),
  })
  .refine((v) => v.endsAt > v.startsAt, { message: 'endsAt must be after startsAt', path: ['endsAt'] });

export async function scheduleMaintenance({
  deps,
  input,
}: {
  deps: SubgraphDeps;
  input: z.input<typeof scheduleMaintenanceInput>;
}): Promise<MaintenanceWindow> {
  const data = parseInput(scheduleMaintenanceInput, input);
  return deps.db.prisma.maintenanceWindow.create({
    data: {
      id: newId('mnt'),
      title: data.title,
      description: data.description ?? null,
      startsAt: data.startsAt,
      endsAt: data.endsAt,
    },
  });
}

export interface SystemStatus {
  maintenanceInProgress: boolean;
  maintenanceScheduled: boolean;
  activeIncidents: Incident[];
  upcomingMaintenance: MaintenanceWindow[];
}

export async function getSystemStatus({ deps }: { deps: SubgraphDeps }): Promise<SystemStatus> {
  const now = new Date();
  const [activeIncidents, windows, config] = await Promise.all([
    deps.db.prisma.incident.findMany({ where: { status: { not: 'resolved' } }, orderBy: { createdAt: 'desc' } }),
    deps.db.prisma.maintenanceWindow.findMany({ where: { endsAt: { gt: now } }, orderBy: { startsAt: 'asc' } }),
    getRuntimeConfig(deps),
  ]);
  return {
    // The operator's maintenance switch (configuration, live) or a scheduled window now open.
    maintenanceInProgress: config.maintenance.maintenance_mode || windows.some((w) => w.startsAt <= now),
    maintenanceScheduled: windows.some((w) => w.startsAt > now),
    activeIncidents,
    upcomingMaintenance: windows.filter((w) => w.startsAt > now),
  };
}

export async function listIncidents({ deps, limit }: { deps: SubgraphDeps; limit: number }): Promise<Incident[]> {
  const take = parseInput(z.number().int().min(1).max(100), limit);
  return deps.db.prisma.incident.findMany({ orderBy: { createdAt: 'desc' }, take });
}
