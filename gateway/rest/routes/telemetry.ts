import { z } from 'zod';
import { graphql } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { telemetryMetricRoutes } from './telemetry-metrics.js';

// platform-forge "Telemetry Module": event tracking. The telemetry subgraph enforces Segment's
// limits and dedup; these rows map the documented bodies onto ingestEvents and answer 202.

const trackedEvent = z.object({
  event_name: z.string().min(1).max(100),
  properties: z.record(z.string(), z.unknown()).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  message_id: z.string().min(1).max(200).optional().describe('Sender id of the event; a resend is stored once'),
});

const ingestResponse = z.object({
  accepted: z.number().int().describe('Events stored by this call'),
  duplicates: z.number().int().describe('Events whose message_id was already stored'),
  event_ids: z.array(z.string()),
});

const INGEST = graphql(`
  mutation IngestEvents($tenantId: ID, $events: [IngestEventInput!]!) {
    ingestEvents(tenantId: $tenantId, events: $events) {
      accepted
      duplicates
      eventIds
    }
  }
`);

const toInput = (event: z.infer<typeof trackedEvent>) => ({
  type: event.event_name,
  properties: event.properties ?? {},
  context: event.context ?? null,
  messageId: event.message_id ?? null,
  occurredAt: event.timestamp ?? null,
});

const respond = (data: { ingestEvents: { accepted: number; duplicates: number; eventIds: string[] } }) => ({
  accepted: data.ingestEvents.accepted,
  duplicates: data.ingestEvents.duplicates,
  event_ids: data.ingestEvents.eventIds,
});

const trackEvent = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/telemetry/events',
  summary: 'Track one event (32 KB at most); 202 once stored',
  operation: INGEST,
  input: {
    body: trackedEvent.extend({
      tenant_id: z.string().optional().describe('Operator, or a project key naming one of its tenants (id or slug)'),
    }),
  },
  variables: ({ body }) => ({ tenantId: body.tenant_id ?? null, events: [toInput(body)] }),
  respond,
  status: 202,
  response: ingestResponse,
});

const trackBatch = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/telemetry/events/batch',
  summary: 'Track up to 2,500 events (500 KB) in one write; 202 once stored',
  operation: INGEST,
  input: {
    body: z.object({
      events: z.array(trackedEvent).min(1).max(2_500),
      tenant_id: z.string().optional().describe('Operator, or a project key naming one of its tenants (id or slug)'),
    }),
  },
  variables: ({ body }) => ({ tenantId: body.tenant_id ?? null, events: body.events.map(toInput) }),
  respond,
  status: 202,
  response: ingestResponse,
});

const capacity = z.object({
  total: z.number(),
  used: z.number(),
  free: z.number(),
  usage_percent: z.number(),
});

const toCapacity = (c: { total: number; used: number; free: number; usagePercent: number }) => ({
  total: c.total,
  used: c.used,
  free: c.free,
  usage_percent: c.usagePercent,
});

const systemMetrics = defineRoute({
  dialect: 'cloudpioneer',
  method: 'GET',
  path: '/system/metrics',
  summary: "The host's CPU, memory and disk (bytes)",
  operation: graphql(`
    query SystemMetrics {
      systemMetrics {
        cpu {
          usagePercent
          loadAverage
        }
        memory {
          total
          used
          free
          usagePercent
        }
        disk {
          total
          used
          free
          usagePercent
        }
      }
    }
  `),
  respond: (data) => ({
    cpu: { usage_percent: data.systemMetrics.cpu.usagePercent, load_average: data.systemMetrics.cpu.loadAverage },
    memory: toCapacity(data.systemMetrics.memory),
    disk: data.systemMetrics.disk ? toCapacity(data.systemMetrics.disk) : null,
  }),
  response: z.object({
    cpu: z.object({ usage_percent: z.number(), load_average: z.array(z.number()) }),
    memory: capacity,
    disk: capacity.nullable().describe('Null when the file system cannot be read'),
  }),
});

export const telemetryRoutes: readonly RestRoute[] = [trackEvent, trackBatch, systemMetrics, ...telemetryMetricRoutes];
