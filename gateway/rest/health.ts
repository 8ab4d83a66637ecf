import { z } from 'zod';
import { SUBGRAPH_NAMES, type SubgraphName } from '../../lib/env.js';
import { graphql, type ResultOf } from './graphql.js';

/**
 * The health operations every dialect's health routes run, their result types, and the one rule
 * that turns the parts into an overall status.
 */

export const healthLevelSchema = z.enum(['healthy', 'degraded', 'unhealthy']);
export type HealthLevel = z.infer<typeof healthLevelSchema>;

export const LIVENESS_OPERATION = graphql(`
  query Liveness {
    liveness {
      status
      timestamp
      uptimeSeconds
      version
    }
  }
`);

/** `liveness` is null when the gateway could not reach the platform subgraph (the result carries the error). */
export type LivenessData = ResultOf<typeof LIVENESS_OPERATION>;

/** An unreachable platform is an unhealthy platform: health routes answer that, not an error. */
export function livenessLevel(data: LivenessData): HealthLevel {
  return data.liveness ? toHealthLevel(data.liveness.status) : 'unhealthy';
}

const SubgraphProbe = graphql(`
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
`);

export type SubgraphProbeData = ResultOf<typeof SubgraphProbe>;
/** The schema's HealthStatus enum. */
export type GraphQLHealthStatus = SubgraphProbeData['status'];

/**
 * `database.connections` is null on the embedded PGlite, which has no pool; the jobs figures are
 * null when the queue could not be read; a subgraph probe other than the platform's is null when
 * that subgraph did not answer (the response carries an error for it).
 */
const HealthReportFields = graphql(
  `
    fragment HealthReportFields on HealthReport {
      status
      timestamp
      uptimeSeconds
      version
      environment
      database {
        status
        responseTimeMs
        driver
        error
        connections {
          active
          idle
          waiting
          max
        }
      }
      cache {
        status
        responseTimeMs
        kind
        hitRate
        memoryUsageBytes
        keys
        error
      }
      jobs {
        status
        responseTimeMs
        kind
        waiting
        active
        delayed
        failed
        finishedTotal
        error
      }
      storage {
        status
        responseTimeMs
        backend
        totalFiles
        availableSpaceBytes
        error
      }
      plugins {
        installed
        active
        extensions {
          extensionId
          name
          version
          installs
        }
      }
      platform {
        ...SubgraphProbe
      }
      identity {
        ...SubgraphProbe
      }
      tenancy {
        ...SubgraphProbe
      }
      billing {
        ...SubgraphProbe
      }
      telemetry {
        ...SubgraphProbe
      }
      edge {
        ...SubgraphProbe
      }
    }
  `,
  [SubgraphProbe],
);

export type HealthReportData = ResultOf<typeof HealthReportFields>;

export const HEALTH_OPERATION = graphql(
  `
    query Health {
      health {
        ...HealthReportFields
      }
    }
  `,
  [HealthReportFields],
);

/**
 * The detailed health check: the report plus the external APIs' reachability (measured now, so
 * only this route asks for it) and the request rates of the metric store since `$since`. Named
 * Health like the plain one: the same check, more of it.
 */
export const DETAILED_HEALTH_OPERATION = graphql(
  `
    query Health($since: DateTime!) {
      health {
        ...HealthReportFields
      }
      metricsOverview(startTime: $since) {
        requests {
          total
          perSecond
          errorRate
        }
      }
      externalApis {
        status
        services {
          name
          role
          status
          configured
          responseTimeMs
          error
        }
      }
    }
  `,
  [HealthReportFields],
);

export const SYSTEM_STATUS_OPERATION = graphql(
  `
    query SystemStatus {
      health {
        ...HealthReportFields
      }
      systemStatus {
        maintenanceInProgress
        maintenanceScheduled
        incidents(limit: 20) {
          id
          title
          status
          severity
          impact
          createdAt
          resolvedAt
        }
        activeIncidents {
          id
          title
          status
          severity
          impact
          createdAt
        }
        upcomingMaintenance {
          id
          title
          description
          startsAt
          endsAt
        }
      }
    }
  `,
  [HealthReportFields],
);

export type SystemStatusData = ResultOf<typeof SYSTEM_STATUS_OPERATION>;

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
