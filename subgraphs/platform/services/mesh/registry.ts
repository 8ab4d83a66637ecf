import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { checkOutbound } from '../../../../lib/outbound-address.js';
import type { Logger } from '../../../../lib/logger.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { MeshService as MeshServiceRow } from '../../../../prisma/generated/client.js';
import { outboundRequest } from '../outbound-request.js';
import { requirePlatformScope } from '../trust/platform-scope.js';

/**
 * The service mesh registry: services register their endpoints, a health check and their
 * policies (who may call them, whether mTLS is required, rate limit, retries, timeouts). The
 * registry is the source of truth sidecars and gateways read (GraphQL); the platform itself runs
 * the health checks, for real, on a schedule (jobs/mesh-health.ts), through the SSRF guard.
 * The policies are recorded and served, not enforced here: the platform does not proxy traffic.
 */

export const MAX_MESH_SERVICES = 500;
const MAX_ENDPOINTS = 20;

export interface MeshPolicies {
  requireMtls: boolean;
  allowedCallers: string[];
  rateLimit: number | null;
  retries: number;
  timeoutMs: number;
}

export interface MeshService extends Omit<MeshServiceRow, 'policies'> {
  policies: MeshPolicies;
}

export interface EndpointHealth {
  url: string;
  healthy: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const endpointUrl = z
  .string()
  .trim()
  .max(2048)
  .refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
      } catch {
        return false;
      }
    },
    { message: 'an http(s) URL without credentials' },
  );

const registerInput = z.object({
  name: z.string().trim().regex(SERVICE_NAME, 'lower-case letters, digits and dashes (a DNS label)'),
  endpoints: z.array(endpointUrl).min(1).max(MAX_ENDPOINTS),
  healthCheck: z
    .object({
      path: z
        .string()
        .max(512)
        .regex(/^\/[^\s]*$/, 'a path starting with /')
        .nullish(),
      intervalSeconds: z.number().int().min(1).max(3600).nullish(),
    })
    .nullish(),
  policies: z
    .object({
      requireMtls: z.boolean().nullish(),
      allowedCallers: z.array(z.string().regex(SERVICE_NAME)).max(100).nullish(),
      rateLimit: z.number().int().min(1).max(1_000_000).nullish(),
      retries: z.number().int().min(0).max(10).nullish(),
      timeoutMs: z.number().int().min(10).max(120_000).nullish(),
    })
    .nullish(),
});

function toService(row: MeshServiceRow): MeshService {
  return { ...row, policies: row.policies as unknown as MeshPolicies };
}

/** Registers a service, or re-registers it (same name): endpoints, check and policies replaced. */
export async function registerMeshService({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof registerInput>;
}): Promise<MeshService> {
  const caller = requirePlatformScope(principal, 'admin:services');
  const data = parseInput(registerInput, input);
  // Refused now rather than reported down forever: an endpoint the checker may never reach.
  for (const url of data.endpoints) {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const check = await checkOutbound(host, port, { allow: deps.outbound.allow, timeoutMs: deps.outbound.timeoutMs });
    if (!check.ok && check.reason === 'not_allowed') {
      throw new AppError('SOURCE_NOT_ALLOWED', 'The platform may not connect to this endpoint', { endpoint: url });
    }
  }
  const policies: MeshPolicies = {
    requireMtls: data.policies?.requireMtls ?? true,
    allowedCallers: [...new Set(data.policies?.allowedCallers ?? [])],
    rateLimit: data.policies?.rateLimit ?? null,
    retries: data.policies?.retries ?? 2,
    timeoutMs: data.policies?.timeoutMs ?? 5_000,
  };
  const fields = {
    endpoints: [...new Set(data.endpoints)],
    healthCheckPath: data.healthCheck?.path ?? '/health',
    healthCheckInterval: data.healthCheck?.intervalSeconds ?? 30,
    policies: policies as unknown as object,
    registeredBy: caller.id,
  };
  const row = await deps.db.prisma.$transaction(async (tx) => {
    const existing = await tx.meshService.findUnique({ where: { name: data.name } });
    if (existing) {
      // New endpoints: the last verdict no longer applies.
      return tx.meshService.update({
        where: { name: data.name },
        data: { ...fields, status: 'unknown', lastCheckedAt: null, lastError: null, consecutiveFailures: 0 },
      });
    }
    if ((await tx.meshService.count()) >= MAX_MESH_SERVICES) {
      throw new AppError('LIMIT_EXCEEDED', `The registry holds at most ${MAX_MESH_SERVICES} services`);
    }
    return tx.meshService.create({ data: { id: newId('msv'), name: data.name, ...fields } });
  });
  return toService(row);
}

export async function listMeshServices({
  deps,
  principal,
  status,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  status?: string | null;
}): Promise<MeshService[]> {
  requireScope(principal, 'read:system');
  const filter = parseInput(z.enum(['unknown', 'up', 'down', 'degraded']).nullish(), status);
  const rows = await deps.db.prisma.meshService.findMany({
    where: filter ? { status: filter } : {},
    orderBy: { name: 'asc' },
    take: MAX_MESH_SERVICES,
  });
  return rows.map(toService);
}

export async function getMeshService({
  deps,
  principal,
  name,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  name: string;
}): Promise<MeshService | null> {
  requireScope(principal, 'read:system');
  const row = await deps.db.prisma.meshService.findUnique({ where: { name } });
  return row ? toService(row) : null;
}

export async function deregisterMeshService({
  deps,
  principal,
  name,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  name: string;
}): Promise<boolean> {
  requirePlatformScope(principal, 'admin:services');
  const { count } = await deps.db.prisma.meshService.deleteMany({ where: { name } });
  if (count === 0) throw new AppError('NOT_FOUND', 'No such service', { name });
  return true;
}

/** One health check of one service: every endpoint, retried per its policy; up, degraded or down. */
export async function checkMeshService(deps: SubgraphDeps, row: MeshServiceRow): Promise<MeshService> {
  const policies = row.policies as unknown as MeshPolicies;
  const results: EndpointHealth[] = await Promise.all(
    row.endpoints.map(async (endpoint): Promise<EndpointHealth> => {
      const url = new URL(row.healthCheckPath ?? '/', endpoint).toString();
      let last: EndpointHealth | undefined;
      for (let attempt = 0; attempt <= policies.retries; attempt += 1) {
        const result = await outboundRequest({
          url,
          method: 'GET',
          settings: deps.outbound,
          timeoutMs: Math.min(policies.timeoutMs, deps.outbound.timeoutMs),
          maxResponseBytes: 256,
        });
        const healthy = result.ok && result.status >= 200 && result.status < 300;
        last = {
          url,
          healthy,
          statusCode: result.ok ? result.status : null,
          latencyMs: result.durationMs,
          error: healthy ? null : result.ok ? `answered ${result.status}` : result.error,
        };
        if (healthy || (!result.ok && result.refused)) break;
      }
      return last!;
    }),
  );
  const healthy = results.filter((r) => r.healthy).length;
  const status = healthy === results.length ? 'up' : healthy === 0 ? 'down' : 'degraded';
  const failures = results.filter((r) => !r.healthy);
  const updated = await deps.db.prisma.meshService.updateMany({
    where: { id: row.id },
    data: {
      status,
      lastCheckedAt: new Date(),
      lastLatencyMs: Math.max(...results.map((r) => r.latencyMs)),
      lastError: failures.length
        ? failures
            .map((f) => `${f.url}: ${f.error}`)
            .join('; ')
            .slice(0, 1000)
        : null,
      consecutiveFailures: status === 'up' ? 0 : row.consecutiveFailures + 1,
    },
  });
  if (updated.count === 0) return toService(row);
  return toService(await deps.db.prisma.meshService.findUniqueOrThrow({ where: { id: row.id } }));
}

/** The scheduled sweep: checks every service whose interval has passed since its last check. */
export async function checkDueMeshServices(deps: SubgraphDeps, logger: Logger): Promise<{ checked: number }> {
  const now = Date.now();
  const rows = await deps.db.prisma.meshService.findMany({ take: MAX_MESH_SERVICES });
  const due = rows.filter((r) => !r.lastCheckedAt || r.lastCheckedAt.getTime() + r.healthCheckInterval * 1000 <= now);
  // A few at a time: a slow endpoint must not hold up every other check.
  const queue = [...due];
  const worker = async () => {
    for (let row = queue.shift(); row; row = queue.shift()) {
      const before = row.status;
      const after = await checkMeshService(deps, row);
      if (after.status !== before)
        logger.info({ service: row.name, from: before, to: after.status }, 'mesh service status changed');
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  return { checked: due.length };
}

/** Checks one service now, outside the schedule. */
export async function checkMeshServiceNow({
  deps,
  principal,
  name,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  name: string;
}): Promise<MeshService> {
  requirePlatformScope(principal, 'admin:services');
  const row = await deps.db.prisma.meshService.findUnique({ where: { name } });
  if (!row) throw new AppError('NOT_FOUND', 'No such service', { name });
  return checkMeshService(deps, row);
}
