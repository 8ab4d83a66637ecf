import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { planLimitsSchema } from '../../../lib/plan-limits.js';
import { parseInput } from '../../../lib/validate.js';
import { Prisma, type Plan } from '../../../prisma/generated/client.js';

export type { Plan };

const createPlanInput = z.object({
  code: z.string().regex(/^[a-z][a-z0-9_-]{1,39}$/),
  name: z.string().trim().min(1).max(100),
  priceCents: z.number().int().min(0),
  currency: z
    .string()
    .regex(/^[a-z]{3}$/)
    .default('usd'),
  interval: z.enum(['month', 'year']).default('month'),
  limits: planLimitsSchema.default({}),
  /** The Stripe price subscriptions to this plan are billed with. */
  stripePriceId: z
    .string()
    .regex(/^(price|plan)_\w{1,200}$/)
    .nullish(),
});

/** Plans are the platform's catalog, not a tenant's data: only callers bound to no tenant may define them. */
export async function createPlan({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createPlanInput>;
}): Promise<Plan> {
  requireScope(principal, 'write:billing');
  if (principal.tenantId !== null) throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot define plans');
  const data = parseInput(createPlanInput, input);
  try {
    return await deps.db.prisma.plan.create({ data: { id: newId('plan'), ...data } });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'A plan with this code or Stripe price already exists', { code: data.code });
    }
    throw error;
  }
}

export async function listPlans({ deps, principal }: { deps: SubgraphDeps; principal: Principal }): Promise<Plan[]> {
  requireScope(principal, 'read:billing');
  return deps.db.prisma.plan.findMany({ where: { active: true }, orderBy: { priceCents: 'asc' } });
}
