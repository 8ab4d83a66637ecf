import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import type { Logger } from '../../../../lib/logger.js';
import { safeEqual, sha256Hex } from '../../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { findTenant } from '../tenants/tenant-access.js';

/**
 * POST /webhooks/vm-ready: the provisioner of a dedicated tenant database reports it ready (or
 * failed). There is no caller principal: the request is authenticated by an HMAC-SHA256 over
 * `<timestamp>.<raw body>` with WEBHOOK_SIGNING_SECRET, sent as
 * `X-Webhook-Signature: sha256=<hex>` beside `X-Webhook-Timestamp: <unix seconds>`. The gateway
 * passes the raw body and those headers through untouched; the check happens here, in the
 * subgraph that owns the tenant, like every other authorization decision.
 */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

const bodySchema = z.object({
  tenant_id: z.string().min(1).max(100),
  database_name: z.string().min(1).max(63).optional(),
  status: z.enum(['ready', 'failed']).default('ready'),
  error: z.string().max(2000).optional(),
});

export function signVmReadyWebhook(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

export interface VmReadyResult {
  tenantId: string;
  databaseName: string | null;
  databaseStatus: string;
  isolationLevel: number;
}

export async function handleVmReadyWebhook({
  deps,
  logger,
  rawBody,
  timestamp,
  signature,
  now = Date.now(),
}: {
  deps: SubgraphDeps;
  logger: Logger;
  rawBody: string;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  now?: number;
}): Promise<VmReadyResult> {
  const secret = deps.webhookSigningSecret;
  if (!secret) {
    throw new AppError('NOT_CONFIGURED', 'The vm-ready webhook is not configured (WEBHOOK_SIGNING_SECRET)');
  }
  if (!timestamp || !signature) {
    throw new AppError('UNAUTHORIZED', 'Missing X-Webhook-Timestamp or X-Webhook-Signature');
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw new AppError('UNAUTHORIZED', 'Malformed X-Webhook-Timestamp');
  if (Math.abs(now / 1000 - Number(timestamp)) > WEBHOOK_TOLERANCE_SECONDS) {
    throw new AppError('UNAUTHORIZED', 'Webhook timestamp is outside the accepted window (5 minutes)');
  }
  const given = signature.trim().toLowerCase();
  if (!safeEqual(given, signVmReadyWebhook(secret, timestamp, rawBody))) {
    throw new AppError('UNAUTHORIZED', 'Invalid webhook signature');
  }
  // A signature is good for its whole window: remember it until then so a captured request cannot be replayed.
  const replayKey = `tenancy:webhook:vm-ready:${sha256Hex(given)}`;
  // Atomic: two copies of one request arriving together cannot both pass.
  if (!(await deps.kv.cache.setIfAbsent(replayKey, '1', 2 * WEBHOOK_TOLERANCE_SECONDS))) {
    throw new AppError('UNAUTHORIZED', 'Webhook already received (replay refused)');
  }

  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(rawBody);
  } catch {
    throw new AppError('MALFORMED_JSON', 'Webhook body is not valid JSON');
  }
  const body = parseInput(bodySchema, parsedJson);
  const tenant = await findTenant(deps, body.tenant_id);
  if (!tenant || tenant.status === 'deleted')
    throw new AppError('NOT_FOUND', 'Tenant not found', { tenant_id: body.tenant_id });
  if (!tenant.databaseName) {
    throw new AppError('CONFLICT', 'The tenant has no dedicated database being provisioned', {
      tenant_id: body.tenant_id,
    });
  }
  if (body.database_name !== undefined && body.database_name !== tenant.databaseName) {
    throw new AppError('CONFLICT', 'database_name does not match the tenant’s dedicated database', {
      database_name: body.database_name,
    });
  }
  // Only a database still provisioning changes state: a late or repeated callback changes nothing.
  const nextStatus = body.status === 'ready' ? 'ready' : 'failed';
  const updated = await deps.db.prisma.tenant.updateMany({
    where: { id: tenant.id, databaseStatus: 'provisioning' },
    data: { databaseStatus: nextStatus },
  });
  if (updated.count === 0 && tenant.databaseStatus !== nextStatus) {
    throw new AppError('CONFLICT', `The dedicated database is already ${tenant.databaseStatus}`, {
      database_status: tenant.databaseStatus,
    });
  }
  logger.info({ tenantId: tenant.id, database: tenant.databaseName, status: nextStatus }, 'vm-ready webhook');
  return {
    tenantId: tenant.slug,
    databaseName: tenant.databaseName,
    databaseStatus: nextStatus,
    isolationLevel: tenant.isolationLevel,
  };
}
