import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import { checkOutbound } from '../../../../lib/outbound-address.js';
import { pageInput, pageWindow, paginationOf, type Pagination } from '../../../../lib/pagination.js';
import { requireScope, tenantScopeFor, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { EVENT_TYPE_PATTERN, newWebhookSecret } from '../../../../lib/webhooks.js';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../../../../prisma/generated/client.js';
import { enqueueDeliveryAttempt } from './deliver.js';

export type { WebhookAttempt, WebhookDelivery, WebhookEndpoint };

export const MAX_ENDPOINTS_PER_TENANT = 20;
const MAX_EVENT_TYPES = 50;
/** After a rotation the old secret still signs for this long, so receivers can switch over. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600_000;

const eventTypeFilter = z
  .string()
  .max(100)
  .refine((v) => v === '*' || EVENT_TYPE_PATTERN.test(v) || /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$/.test(v), {
    message: 'an event type (`deployment.completed`) or a family (`deployment.*`)',
  });

const urlField = z
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

const createInput = z.object({
  tenantId: z.string().max(100).nullish(),
  url: urlField,
  description: z.string().trim().max(500).nullish(),
  eventTypes: z.array(eventTypeFilter).max(MAX_EVENT_TYPES).nullish(),
});

const updateInput = z.object({
  url: urlField.nullish(),
  description: z.string().trim().max(500).nullish(),
  eventTypes: z.array(eventTypeFilter).max(MAX_EVENT_TYPES).nullish(),
  enabled: z.boolean().nullish(),
});

/** `*` alone means every event, the same as no filter. */
function normalizeFilters(types: readonly string[] | null | undefined): string[] {
  const unique = [...new Set(types ?? [])];
  return unique.includes('*') ? [] : unique;
}

/** Refuses an endpoint the platform would never deliver to, at once rather than at the first event. */
async function assertDeliverable(deps: SubgraphDeps, url: string): Promise<void> {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const check = await checkOutbound(host, port, { allow: deps.outbound.allow, timeoutMs: deps.outbound.timeoutMs });
  if (!check.ok && check.reason === 'not_allowed') {
    throw new AppError(
      'SOURCE_NOT_ALLOWED',
      'Webhooks cannot be sent to this address (private, loopback or reserved)',
      {
        url,
      },
    );
  }
}

function manage(principal: Principal | null): Principal {
  return requireScope(principal, 'write:tenants');
}

/** The endpoint, if the caller may act on its tenant (NOT_FOUND otherwise, TENANT_MISMATCH for another tenant's). */
async function loadEndpoint(deps: SubgraphDeps, principal: Principal, id: string): Promise<WebhookEndpoint> {
  const endpoint = await deps.db.prisma.webhookEndpoint.findUnique({ where: { id } });
  if (!endpoint) throw new AppError('NOT_FOUND', 'Webhook endpoint not found', { id });
  tenantScopeFor(principal, endpoint.tenantId);
  return endpoint;
}

export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  /** Shown once, at creation or rotation; stored sealed. */
  secret: string;
}

export async function createWebhookEndpoint({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof createInput>;
}): Promise<EndpointWithSecret> {
  const caller = manage(principal);
  const data = parseInput(createInput, input);
  const tenantId = tenantScopeFor(caller, data.tenantId);
  await assertDeliverable(deps, data.url);
  const secret = newWebhookSecret();
  const endpoint = await deps.db.prisma.$transaction(async (tx) => {
    const count = await tx.webhookEndpoint.count({ where: { tenantId } });
    if (count >= MAX_ENDPOINTS_PER_TENANT) {
      throw new AppError('LIMIT_EXCEEDED', `A tenant can have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints`, {
        limit: MAX_ENDPOINTS_PER_TENANT,
      });
    }
    return tx.webhookEndpoint.create({
      data: {
        id: newId('wep'),
        tenantId,
        url: data.url,
        description: data.description ?? null,
        eventTypes: normalizeFilters(data.eventTypes),
        secret: deps.secretBox.seal(secret),
      },
    });
  });
  return { endpoint, secret };
}

export async function listWebhookEndpoints({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId?: string | null;
}): Promise<WebhookEndpoint[]> {
  const caller = requireScope(principal, 'read:tenants');
  const scope = tenantScopeFor(caller, tenantId);
  return deps.db.prisma.webhookEndpoint.findMany({ where: { tenantId: scope }, orderBy: { createdAt: 'asc' } });
}

export async function updateWebhookEndpoint({
  deps,
  principal,
  id,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
  input: z.input<typeof updateInput>;
}): Promise<WebhookEndpoint> {
  const caller = manage(principal);
  const data = parseInput(updateInput, input);
  await loadEndpoint(deps, caller, id);
  if (data.url) await assertDeliverable(deps, data.url);
  return deps.db.prisma.webhookEndpoint.update({
    where: { id },
    data: {
      ...(data.url ? { url: data.url } : {}),
      ...(data.description !== undefined ? { description: data.description } : {}),
      ...(data.eventTypes ? { eventTypes: normalizeFilters(data.eventTypes) } : {}),
      // Enabling again starts a fresh streak; disabling by hand records no failure reason.
      ...(data.enabled === true ? { enabled: true, disabledAt: null, disabledReason: null, failureStreak: 0 } : {}),
      ...(data.enabled === false
        ? { enabled: false, disabledAt: new Date(), disabledReason: 'disabled by a user' }
        : {}),
    },
  });
}

/** A new secret signs from now on; the old one keeps signing beside it for a day. */
export async function rotateWebhookEndpointSecret({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<EndpointWithSecret> {
  const caller = manage(principal);
  const existing = await loadEndpoint(deps, caller, id);
  const secret = newWebhookSecret();
  const endpoint = await deps.db.prisma.webhookEndpoint.update({
    where: { id },
    data: {
      secret: deps.secretBox.seal(secret),
      previousSecret: existing.secret,
      previousSecretExpiresAt: new Date(Date.now() + PREVIOUS_SECRET_GRACE_MS),
    },
  });
  return { endpoint, secret };
}

export async function deleteWebhookEndpoint({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<boolean> {
  const caller = manage(principal);
  await loadEndpoint(deps, caller, id);
  // Deliveries and attempts go with it (cascade); their queued jobs find nothing and stop.
  await deps.db.prisma.webhookEndpoint.delete({ where: { id } });
  return true;
}

export type DeliveryWithAttempts = WebhookDelivery & { attempts: WebhookAttempt[]; eventType: string };

export interface DeliveryPage {
  deliveries: DeliveryWithAttempts[];
  pagination: Pagination;
}

const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

const listDeliveriesInput = z.object({
  endpointId: z.string().min(1).max(100),
  status: z.enum(DELIVERY_STATUSES).nullish(),
  ...pageInput({ defaultLimit: 20, maxLimit: 100 }),
});

/** An endpoint's deliveries, newest first, each with every attempt made. */
export async function listWebhookDeliveries({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof listDeliveriesInput>;
}): Promise<DeliveryPage> {
  const caller = requireScope(principal, 'read:tenants');
  const data = parseInput(listDeliveriesInput, input);
  await loadEndpoint(deps, caller, data.endpointId);
  const where = { endpointId: data.endpointId, ...(data.status ? { status: data.status } : {}) };
  const [total, rows] = await Promise.all([
    deps.db.prisma.webhookDelivery.count({ where }),
    deps.db.prisma.webhookDelivery.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      include: { attempts: { orderBy: { number: 'asc' } }, event: { select: { type: true } } },
      ...pageWindow(data),
    }),
  ]);
  return {
    deliveries: rows.map(({ event, ...d }) => ({ ...d, eventType: event.type })),
    pagination: paginationOf(data, total),
  };
}

/** Sends a finished delivery again now; its retries follow the schedule from this attempt on. */
export async function replayWebhookDelivery({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<DeliveryWithAttempts> {
  const caller = manage(principal);
  const delivery = await deps.db.prisma.webhookDelivery.findUnique({ where: { id } });
  if (!delivery) throw new AppError('NOT_FOUND', 'Webhook delivery not found', { id });
  const endpoint = await loadEndpoint(deps, caller, delivery.endpointId);
  if (!endpoint.enabled) throw new AppError('CONFLICT', 'The endpoint is disabled; enable it before replaying', { id });
  const next = delivery.attemptCount + 1;
  // Only a finished delivery is replayed, and only once at a time: the status guards the race.
  const claimed = await deps.db.prisma.webhookDelivery.updateMany({
    where: { id, status: { not: 'pending' } },
    data: { status: 'pending', runStart: next, nextAttemptAt: new Date() },
  });
  if (claimed.count === 0) throw new AppError('CONFLICT', 'The delivery is still in progress', { id });
  await enqueueDeliveryAttempt(deps, id, next, 0);
  const row = await deps.db.prisma.webhookDelivery.findUniqueOrThrow({
    where: { id },
    include: { attempts: { orderBy: { number: 'asc' } }, event: { select: { type: true } } },
  });
  const { event, ...rest } = row;
  return { ...rest, eventType: event.type };
}
