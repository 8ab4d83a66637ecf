import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp, paginationSchema } from '../schemas.js';

const ThreatFields = graphql(`
  fragment ThreatFields on Threat {
    id
    tenantId
    kind
    severity
    status
    ip
    email
    userId
    attempts
    details
    blockedUntil
    detectedAt
    updatedAt
  }
`);

/** Query strings are strings: a number the doc says is an int, or a 400 naming the field. */
const positiveInt = z.coerce.number().int().min(1);

/**
 * The doc lists the filters but no response. Fields follow the documented audit-logs answer of
 * the same dialect: snake_case items in a named array, and the same `pagination` block.
 */
const threats = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/security/threats',
  summary: 'Detected sign-in threats (failed-login bursts, credential stuffing) and their blocks',
  operation: graphql(
    `
      query Threats($severity: String, $status: String, $startDate: DateTime, $page: Int, $limit: Int) {
        threats(severity: $severity, status: $status, startDate: $startDate, page: $page, limit: $limit) {
          threats {
            ...ThreatFields
          }
          pagination {
            page
            limit
            total
            pages
          }
        }
      }
    `,
    [ThreatFields],
  ),
  input: {
    query: z.object({
      severity: z.enum(['critical', 'high', 'medium', 'low']).optional(),
      status: z.enum(['active', 'mitigated', 'false_positive']).optional(),
      start_date: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
      page: positiveInt.optional(),
      limit: positiveInt.max(100).optional(),
    }),
  },
  variables: ({ query }) => ({
    severity: query.severity ?? null,
    status: query.status ?? null,
    startDate: query.start_date ? new Date(query.start_date).toISOString() : null,
    page: query.page ?? null,
    limit: query.limit ?? null,
  }),
  rateLimit: 'platform-forge.admin',
  respond: (data) => ({
    threats: data.threats.threats.map((t) => ({
      id: t.id,
      tenant_id: t.tenantId,
      kind: t.kind,
      severity: t.severity,
      status: t.status,
      ip: t.ip,
      email: t.email,
      user_id: t.userId,
      attempts: t.attempts,
      details: t.details,
      blocked_until: t.blockedUntil,
      detected_at: t.detectedAt,
      updated_at: t.updatedAt,
    })),
    pagination: data.threats.pagination,
  }),
  response: z.object({
    threats: z.array(
      z.object({
        id: z.string(),
        tenant_id: z.string().nullable(),
        kind: z.string().describe('failed_login_burst_account, failed_login_burst_ip or credential_stuffing'),
        severity: z.string().describe('critical, high, medium or low'),
        status: z.string().describe('active, mitigated or false_positive'),
        ip: z.string().nullable(),
        email: z.string().nullable().describe('The targeted account, for account bursts'),
        user_id: z.string().nullable(),
        attempts: z.number().int().describe('Failures counted; distinct accounts for credential_stuffing'),
        details: z.record(z.string(), z.unknown()),
        blocked_until: isoTimestamp.nullable(),
        detected_at: isoTimestamp,
        updated_at: isoTimestamp,
      }),
    ),
    pagination: paginationSchema,
  }),
});

export const platformForgeSecurityRoutes: RestRoute[] = [threats];
