import { z } from 'zod';
import { SUBGRAPH_NAMES, type SubgraphName } from '../../lib/env.js';

/**
 * The health operations every dialect's health routes run, their result types, and the one rule
 * that turns the parts into an overall status.
 */

export type GraphQLHealthStatus = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';
export const healthLevelSchema = z.enum(['healthy', 'degraded', 'unhealthy']);
export type HealthLevel = z.infer<typeof healthLevelSchema>;

export interface LivenessData {
  /** Null: the gateway could not reach the platform subgraph (the result carries the error). */
  liveness: { status: GraphQLHealthStatus; timestamp: string; uptimeSeconds: number; version: string } | null;
}

/** An unreachable platform is an unhealthy platform: health routes answer that, not an error. */
export function livenessLevel(data: LivenessData): HealthLevel {
  return data.liveness ? toHealthLevel(data.liveness.status) : 'unhealthy';
}

export interface SubgraphProbeData {
  name: string;
  status: GraphQLHealthStatus;
  uptimeSeconds: number;
  database: { status: GraphQLHealthStatus; responseTimeMs: number | null; error: string | null };
}

export interface HealthReportData {
  status: GraphQLHealthStatus;
  timestamp: string;
  uptimeSeconds: number;
  version: string;
  environment: string;
  database: {
    status: GraphQLHealthStatus;
    responseTimeMs: number | null;
    driver: string;
    error: string | null;
    /** Null on the embedded PGlite, which has no pool. */
    connections: { active: number; idle: number; waiting: number; max: number } | null;
  };
  cache: {
    status: GraphQLHealthStatus;
    responseTimeMs: number | null;
    kind: string;
    hitRate: number | null;
    memoryUsageBytes: number | null;
    keys: number | null;
    error: string | null;
  };
  jobs: {
    status: GraphQLHealthStatus;
    responseTimeMs: number | null;
    kind: string;
    /** Null when the queue could not be read. */
    waiting: number | null;
    active: number | null;
    delayed: number | null;
    failed: number | null;
    error: string | null;
  };
  /** Installed marketplace extensions across tenants; null when they could not be read. */
  plugins: {
    installed: number;
    active: number;
    extensions: { extensionId: string; name: string; version: string; installs: number }[];
  } | null;
  /** Null: that subgraph did not answer (the response carries an error for it). */
  platform: SubgraphProbeData | null;
  identity: SubgraphProbeData | null;
  tenancy: SubgraphProbeData | null;
  billing: SubgraphProbeData | null;
  telemetry: SubgraphProbeData | null;
  edge: SubgraphProbeData | null;
}

export interface IncidentData {
  id: string;
  title: string;
  status: string;
  severity: string;
  impact: string | null;
  createdAt: string;
  resolvedAt: string | null;
}

export interface SystemStatusData {
  health: HealthReportData;
  systemStatus: {
    maintenanceInProgress: boolean;
    maintenanceScheduled: boolean;
    incidents: IncidentData[];
    activeIncidents: Omit<IncidentData, 'resolvedAt'>[];
    upcomingMaintenance: { id: string; title: string; description: string | null; startsAt: string; endsAt: string }[];
  };
}

export const LIVENESS_OPERATION = /* GraphQL */ `
  query Liveness {
    liveness {
      status
      timestamp
      uptimeSeconds
      version
    }
  }
`;

const SUBGRAPH_PROBE_FRAGMENT = /* GraphQL */ `
  fragment SubgraphProbe on SubgraphHealth {
    name
    status
    uptimeSeconds
    database {
      status
      responseTimeMs
      error
    }
  }
`;

const HEALTH_SELECTION = /* GraphQL */ `
  health {
    status timestamp uptimeSeconds version environment
    database { status responseTimeMs driver error connections { active idle waiting max } }
    cache { status responseTimeMs kind hitRate memoryUsageBytes keys error }
    jobs { status responseTimeMs kind waiting active delayed failed error }
    plugins { installed active extensions { extensionId name version installs } }
    platform { ...SubgraphProbe } identity { ...SubgraphProbe } tenancy { ...SubgraphProbe }
    billing { ...SubgraphProbe } telemetry { ...SubgraphProbe } edge { ...SubgraphProbe }
  }
`;

export const HEALTH_OPERATION = /* GraphQL */ `
  ${SUBGRAPH_PROBE_FRAGMENT}
  query Health { ${HEALTH_SELECTION} }
`;

export const SYSTEM_STATUS_OPERATION = /* GraphQL */ `
  ${SUBGRAPH_PROBE_FRAGMENT}
  query SystemStatus {
    ${HEALTH_SELECTION}
    systemStatus {
      maintenanceInProgress maintenanceScheduled
      incidents(limit: 20) { id title status severity impact createdAt resolvedAt }
      activeIncidents { id title status severity impact createdAt }
      upcomingMaintenance { id title description startsAt endsAt }
    }
  }
`;

export function toHealthLevel(status: GraphQLHealthStatus): HealthLevel {
  return status.toLowerCase() as HealthLevel;
}

export interface AssessedComponent {
  name: string;
  kind: 'platform' | 'subgraph';
  status: HealthLevel;
  /** Losing this takes the whole platform down, not just a part of it. */
  isCritical: boolean;
}

export interface HealthAssessment {
  overall: HealthLevel;
  components: AssessedComponent[];
  /** Subgraphs by name; a subgraph that did not answer is `null` here and unhealthy in `components`. */
  subgraphs: Record<SubgraphName, SubgraphProbeData | null>;
}

/**
 * The overall status, the same for every dialect:
 * - a subgraph that did not answer (null probe) counts as unhealthy;
 * - the platform database is critical: the platform subgraph stands on it (its own probe reports
 *   the same database), so either being unhealthy makes the whole platform unhealthy;
 * - any other part unhealthy or degraded (cache, jobs, another subgraph) means degraded: requests
 *   that do not touch it still work;
 * - otherwise healthy.
 * The platform's own `status` field is not used: it covers only its components, and this rule
 * already covers them.
 */
export function assessHealth(report: HealthReportData): HealthAssessment {
  const subgraphs = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, report[name]])) as Record<
    SubgraphName,
    SubgraphProbeData | null
  >;
  const components: AssessedComponent[] = [
    { name: 'database', kind: 'platform', status: toHealthLevel(report.database.status), isCritical: true },
    { name: 'cache', kind: 'platform', status: toHealthLevel(report.cache.status), isCritical: false },
    { name: 'jobs', kind: 'platform', status: toHealthLevel(report.jobs.status), isCritical: false },
    ...SUBGRAPH_NAMES.map((name): AssessedComponent => ({
      name,
      kind: 'subgraph',
      status: subgraphs[name] ? toHealthLevel(subgraphs[name].status) : 'unhealthy',
      isCritical: name === 'platform',
    })),
  ];
  const overall: HealthLevel = components.some((c) => c.isCritical && c.status === 'unhealthy')
    ? 'unhealthy'
    : components.some((c) => c.status !== 'healthy')
      ? 'degraded'
      : 'healthy';
  return { overall, components, subgraphs };
}

/** 503 tells load balancers and monitors to act; degraded still serves, so it stays 200. */
export function statusForHealth(level: HealthLevel): number {
  return level === 'unhealthy' ? 503 : 200;
}

const BYTES_PER_MB = 1024 * 1024;

export function bytesToMegabytes(bytes: number | null): number | null {
  return bytes === null ? null : Math.round((bytes / BYTES_PER_MB) * 100) / 100;
}
