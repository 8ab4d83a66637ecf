import { z } from 'zod';
import { healthLevelSchema, LIVENESS_OPERATION, livenessLevel, statusForHealth } from '../health.js';
import { defineRoute } from '../route.js';

// Both documented without `success`: they are for load balancers and humans, not the SDK.

const serviceInfo = defineRoute({
  dialect: 'tenantsdb',
  method: 'GET',
  path: '/',
  summary: 'Service info',
  operation: LIVENESS_OPERATION,
  envelope: false,
  allowPartial: true,
  respond: ({ liveness }) => ({ service: 'TenantsDB API' as const, version: liveness?.version ?? null }),
  statusFrom: (payload) => (payload.version === null ? 503 : 200),
  response: z.object({ service: z.literal('TenantsDB API'), version: z.string().nullable() }),
});

const health = defineRoute({
  dialect: 'tenantsdb',
  // cloudpioneer documents the same GET /health with the same body; served once, here.
  sharedWith: ['cloudpioneer'],
  method: 'GET',
  path: '/health',
  summary: 'Health check',
  operation: LIVENESS_OPERATION,
  envelope: false,
  allowPartial: true,
  respond: (data) => ({ status: livenessLevel(data) }),
  statusFrom: (payload) => statusForHealth(payload.status),
  response: z.object({ status: healthLevelSchema }),
});

export const tenantsdbRoutes = [serviceInfo, health];
