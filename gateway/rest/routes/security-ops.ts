import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// Security operations (platform, with identity's figures on the same entity): nexus-core
// GET /api/v1/security/status and POST /api/v1/security/scan, platform-forge POST
// /api/v1/security/scans. Scans run as tasks (202, `task_id`); findings are stored and read with
// the `securityScans` / `securityScan` GraphQL fields. `metrics.api_key_usage` counts API keys
// used in the last 24 h (identity records a key's last use once a minute, not each call).

/** One finding in a scan's `findings` JSON (platform's security scan job writes them). */
interface Finding {
  check: string;
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
  title: string;
  detail: string;
  location?: string;
}

const THREAT_MESSAGES: Record<string, string> = {
  failed_login_burst_account: 'Multiple failed login attempts on one account',
  failed_login_burst_ip: 'Multiple failed login attempts from one address',
  credential_stuffing: 'Credential stuffing: failed logins across many accounts from one address',
};

const ALERT_SEVERITY: Record<string, 'critical' | 'high' | 'medium' | 'low'> = {
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
};

interface Alert {
  id: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  type: string;
  message: string;
  timestamp: string;
  details: Record<string, unknown>;
}

const status = defineRoute({
  dialect: 'nexus-core',
  method: 'GET',
  path: '/api/v1/security/status',
  summary:
    'Security status: active threats, the last scan’s serious findings, sign-in and session figures (admin:security)',
  operation: graphql(`
    query SecurityStatus {
      securityStatus {
        lastScan {
          id
          completedAt
          findings
        }
        identity {
          failedLogins24h
          blockedAddresses
          blockedAccounts
          activeSessions
          apiKeysUsed24h
          openRegistrationTenants
          activeThreats {
            id
            severity
            kind
            ip
            email
            attempts
            detectedAt
          }
        }
      }
    }
  `),
  respond: ({ securityStatus: s }) => {
    const findings = ((s.lastScan?.findings ?? []) as Finding[]).filter(
      (f) => f.severity === 'critical' || f.severity === 'high' || f.severity === 'medium',
    );
    const alerts: Alert[] = [
      ...s.identity.activeThreats.map((t) => ({
        id: t.id,
        severity: ALERT_SEVERITY[t.severity] ?? 'medium',
        type: 'suspicious_activity',
        message: THREAT_MESSAGES[t.kind] ?? t.kind,
        timestamp: t.detectedAt,
        details: { ip_address: t.ip, attempts: t.attempts, user: t.email },
      })),
      ...findings.map((f, index) => ({
        id: `${s.lastScan!.id}:${index}`,
        severity: ALERT_SEVERITY[f.severity] ?? 'medium',
        type: `scan_${f.check}`,
        message: f.title,
        timestamp: s.lastScan!.completedAt ?? '',
        details: { detail: f.detail, location: f.location ?? null },
      })),
    ];
    const serious = alerts.some((a) => a.severity === 'critical' || a.severity === 'high');
    return {
      status: serious ? ('at_risk' as const) : alerts.length > 0 ? ('warning' as const) : ('secure' as const),
      last_scan: s.lastScan?.completedAt ?? null,
      alerts,
      metrics: {
        failed_logins_24h: s.identity.failedLogins24h,
        blocked_ips: s.identity.blockedAddresses,
        blocked_accounts: s.identity.blockedAccounts,
        active_sessions: s.identity.activeSessions,
        api_key_usage: s.identity.apiKeysUsed24h,
        open_registration_tenants: s.identity.openRegistrationTenants,
      },
    };
  },
  response: z.object({
    status: z.enum(['secure', 'warning', 'at_risk']),
    last_scan: isoTimestamp.nullable().describe('When the last completed scan finished; null before any'),
    alerts: z.array(
      z.object({
        id: z.string(),
        severity: z.enum(['critical', 'high', 'medium', 'low']),
        type: z.string().describe('suspicious_activity (identity threats) or scan_<check> (last scan findings)'),
        message: z.string(),
        timestamp: isoTimestamp,
        details: z.record(z.string(), z.unknown()),
      }),
    ),
    metrics: z.object({
      failed_logins_24h: z.number().int(),
      blocked_ips: z.number().int().describe('Distinct addresses under a live block'),
      blocked_accounts: z.number().int(),
      active_sessions: z.number().int().describe('Live refresh tokens'),
      api_key_usage: z.number().int().nullable().describe('API keys used in the last 24 h; null for a tenant'),
      open_registration_tenants: z.number().int().nullable(),
    }),
  }),
});

const SCAN_OPERATION = graphql(`
  mutation StartSecurityScan(
    $source: String!
    $type: String
    $components: [String!]
    $targets: [String!]
    $deepScan: Boolean
    $severityThreshold: String
  ) {
    startSecurityScan(
      source: $source
      type: $type
      components: $components
      targets: $targets
      deepScan: $deepScan
      severityThreshold: $severityThreshold
    ) {
      id
      status
      checks
      request
      taskId
      createdAt
      estimatedDurationMs
    }
  }
`);

/** A scan's `request` JSON: what was asked for, and what of it cannot be scanned here. */
interface ScanRequest {
  components: string[];
  targets: string[];
  not_scanned: string[];
}

const scan = defineRoute({
  dialect: 'nexus-core',
  method: 'POST',
  path: '/api/v1/security/scan',
  summary: 'Start a security scan (admin:security); runs as a task',
  operation: SCAN_OPERATION,
  input: {
    body: z
      .object({
        type: z.enum(['full', 'quick']).optional(),
        components: z.array(z.string().min(1).max(50)).min(1).max(20).optional(),
        severity_threshold: z.enum(['critical', 'high', 'medium', 'low', 'info']).optional(),
      })
      .strict(),
  },
  variables: ({ body }) => ({
    source: 'nexus-core',
    type: body.type ?? null,
    components: body.components ?? null,
    severityThreshold: body.severity_threshold ?? null,
  }),
  status: 202,
  respond: ({ startSecurityScan: s }) => {
    const request = s.request as ScanRequest;
    return {
      scan_id: s.id,
      status: 'started' as const,
      estimated_duration_ms: s.estimatedDurationMs,
      components_to_scan: request.components,
      checks: s.checks,
      not_scanned: request.not_scanned,
      task_id: s.taskId,
    };
  },
  response: z.object({
    scan_id: z.string(),
    status: z.literal('started'),
    estimated_duration_ms: z.number().nullable().describe('How long the last scan of the same checks took'),
    components_to_scan: z.array(z.string()),
    checks: z.array(z.string()).describe('dependencies, secrets, configuration, permissions, containers'),
    not_scanned: z.array(z.string()).describe('Asked for but not scannable here (code)'),
    task_id: z.string().nullable(),
  }),
});

const scans = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/security/scans',
  summary: 'Trigger a security scan (admin:security); runs as a task',
  operation: SCAN_OPERATION,
  input: {
    body: z
      .object({
        scan_types: z
          .array(z.enum(['dependencies', 'containers', 'secrets', 'code', 'configuration', 'permissions']))
          .min(1)
          .max(6)
          .optional(),
        targets: z.array(z.string().min(1).max(200)).max(20).optional(),
        deep_scan: z.boolean().optional(),
      })
      .strict(),
  },
  variables: ({ body }) => ({
    source: 'platform-forge',
    components: body.scan_types ?? null,
    targets: body.targets ?? null,
    deepScan: body.deep_scan ?? null,
  }),
  status: 202,
  respond: ({ startSecurityScan: s }) => {
    const request = s.request as ScanRequest;
    return {
      scan_id: s.id,
      status: s.status,
      scan_types: request.components,
      checks: s.checks,
      not_scanned: request.not_scanned,
      targets: request.targets,
      task_id: s.taskId,
      created_at: s.createdAt,
    };
  },
  response: z.object({
    scan_id: z.string(),
    status: z.string().describe('pending until the task starts'),
    scan_types: z.array(z.string()),
    checks: z.array(z.string()),
    not_scanned: z.array(z.string()),
    targets: z.array(z.string()),
    task_id: z.string().nullable(),
    created_at: isoTimestamp,
  }),
});

export const securityOpsRoutes = [status, scan, scans];
