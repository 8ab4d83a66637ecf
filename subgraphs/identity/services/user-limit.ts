import { AppError } from '../../../lib/errors.js';
import { readPlanLimits } from '../../../lib/plan-limits.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/**
 * The users limit of the tenant's plan (written by billing, lib/plan-limits.ts), checked before a
 * user is created: LIMIT_EXCEEDED once the tenant has as many users (not deleted) as its plan allows.
 * Count-then-insert: two creations racing for the last seat can both pass, a one-user overshoot
 * accepted rather than serializing every sign-up of a tenant.
 */
export async function assertUserLimit(deps: SubgraphDeps, tenantId: string): Promise<void> {
  const allowed = (await readPlanLimits(deps.kv.cache, tenantId))?.users;
  if (allowed === undefined) return;
  const used = await deps.db.prisma.user.count({ where: { tenantId, status: { not: 'deleted' } } });
  if (used >= allowed) {
    throw new AppError('LIMIT_EXCEEDED', `This tenant's plan allows ${allowed} users`, {
      limit: 'users',
      allowed,
      used,
    });
  }
}
