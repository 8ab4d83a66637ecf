import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute, type RouteInput } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// platform-forge GET /api/v1/telemetry/export: the caller's tenant's events in a bounded range as
// csv, json (NDJSON, one event a line) or parquet. The telemetry subgraph writes the file page by
// page into the object store (during the request up to 10,000 events, else as a job with progress
// on the tenancy.progress topic) and answers a signed URL the gateway streams the file from.

/** Signed paths are relative; the answer gives the URL at the origin the caller used. */
function absolute(path: string | null, input: Pick<RouteInput, 'headers'>): string | null {
  if (path === null) return null;
  const host = input.headers?.host;
  const proto = input.headers?.['x-forwarded-proto'];
  if (typeof host !== 'string' || !/^[\w.-]+(:\d+)?$|^\[[\da-f:]+\](:\d+)?$/i.test(host)) return path;
  return `${proto === 'https' ? 'https' : 'http'}://${host}${path}`;
}

const EXPORT = graphql(`
  mutation ExportTelemetryEvents(
    $format: TelemetryExportFormat!
    $startDate: DateTime!
    $endDate: DateTime!
    $tenantId: ID
  ) {
    exportTelemetryEvents(format: $format, startDate: $startDate, endDate: $endDate, tenantId: $tenantId) {
      id
      status
      format
      startDate
      endDate
      totalRows
      exportedRows
      sizeBytes
      percent
      downloadPath
      expiresAt
      jobId
      error
    }
  }
`);

const DAY_MS = 86_400_000;

const exportRoute = defineRoute({
  dialect: 'platform-forge',
  method: 'GET',
  path: '/api/v1/telemetry/export',
  summary: 'Export telemetry events (csv, json as NDJSON, parquet) of a range of at most 92 days',
  operation: EXPORT,
  input: {
    query: z.object({
      format: z.enum(['csv', 'json', 'ndjson', 'parquet']).default('csv'),
      start_date: z.iso.datetime({ offset: true }).optional().describe('Default: 24 hours before end_date'),
      end_date: z.iso.datetime({ offset: true }).optional().describe('Default: now'),
      tenant_id: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe("The tenant to export: the operator's choice, or a project key's own tenant (id or slug)"),
    }),
  },
  variables: ({ query }) => {
    const end = query.end_date ? new Date(query.end_date) : new Date();
    const start = query.start_date ? new Date(query.start_date) : new Date(end.getTime() - DAY_MS);
    return {
      format: query.format,
      startDate: start.toISOString(),
      endDate: end.toISOString(),
      tenantId: query.tenant_id ?? null,
    };
  },
  rateLimit: 'platform-forge.admin',
  respond: ({ exportTelemetryEvents: e }, input) => ({
    export_id: e.id,
    status: e.status as 'completed' | 'queued' | 'running' | 'failed',
    format: e.format,
    start_date: e.startDate,
    end_date: e.endDate,
    total_events: e.totalRows,
    exported_events: e.exportedRows,
    size_bytes: e.sizeBytes,
    progress_percent: e.percent,
    download_url: absolute(e.downloadPath, input),
    expires_at: e.expiresAt,
    task_id: e.jobId,
  }),
  // A large range is accepted as a job: 202 with its task id (GET /api/v1/tasks/{id}).
  statusFrom: (payload) => (payload.status === 'completed' ? 200 : 202),
  response: z.object({
    export_id: z.string(),
    status: z.enum(['completed', 'queued', 'running', 'failed']),
    format: z.string(),
    start_date: isoTimestamp,
    end_date: isoTimestamp,
    total_events: z.number().int(),
    exported_events: z.number().int(),
    size_bytes: z.number().nullable(),
    progress_percent: z.number().int(),
    download_url: z.string().nullable().describe('Signed, expiring; the gateway streams the file. Null until written'),
    expires_at: isoTimestamp.nullable(),
    task_id: z.string().nullable().describe('The job of a large export; null when written during the request'),
  }),
});

export const telemetryExportRoutes: readonly RestRoute[] = [exportRoute];
