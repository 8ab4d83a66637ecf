import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { emitWebhookEvent } from '../../../../lib/webhooks.js';
import { newId } from '../../../../lib/ids.js';
import type { Logger } from '../../../../lib/logger.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { publishTenancyProgress } from '../progress.js';
import type {
  BlueprintVersion,
  Deployment,
  DeploymentTarget,
  TenantDatabase,
} from '../../../../prisma/generated/client.js';
import { PUBLISH_TRANSACTION, planBlueprintVersion, settleBlueprintVersion } from './blueprints.js';
import { loadTenantFor } from '../tenants/tenant-access.js';
import { usesTenantSessions } from '../sql/tenant-session.js';
import {
  applyAsDatabaseRole,
  applyInBlueprintSession,
  compareVersions,
  splitStatements,
  versionStatements,
} from './tenant-databases-blueprint.js';

/**
 * Deployments: one blueprint version rolled out to tenant databases by a job. Each tenant is its
 * own transaction under its database's role, so one tenant's failure (its schema was changed by
 * hand, a statement conflicts) is recorded on its target and the others go on. A database already
 * at (or past) the version is skipped: re-running a deployment is safe. Canary tenants go first;
 * when failures reach the threshold the rollout stops (`stopped`) and the rest stay `pending`.
 */

export const DEPLOY_JOB = 'tenancy.deploy-blueprint';

/**
 * Tenants deployed at once inside one job: each holds one pooled connection for a few statements,
 * so this stays well under the pool (other requests share it) while hiding round-trip latency.
 */
export const DEPLOY_CONCURRENCY = 4;

export type DeploymentWithBlueprint = Deployment & { blueprintName: string };

const createDeploymentInput = z
  .object({
    blueprintName: z.string().min(1).max(100),
    version: z.string().max(20).nullish(),
    deployAll: z.boolean().nullish(),
    tenantIds: z.array(z.string().min(1).max(100)).max(10_000).nullish(),
    canaryTenantIds: z.array(z.string().min(1).max(100)).max(1000).nullish(),
    failureThreshold: z.number().int().min(1).nullish(),
  })
  .refine((i) => i.deployAll || (i.tenantIds && i.tenantIds.length > 0), {
    message: 'Set deploy_all, or name the tenants in tenant_ids',
    path: ['deployAll'],
  });

/**
 * Requires write:tenants. Settles the version (publishing the workspace's current schema when the
 * version does not exist yet, or when none is given and changes are pending: see
 * planBlueprintVersion), records the deployment and its targets in the same transaction, then
 * queues the job. A request that fails (an unknown tenant) publishes nothing.
 */
export async function createDeployment({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createDeploymentInput>;
}): Promise<DeploymentWithBlueprint> {
  requireScope(principal, 'write:tenants');
  if (principal.tenantId !== null) throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot deploy blueprints');
  const data = parseInput(createDeploymentInput, input);
  const plan = await planBlueprintVersion({
    deps,
    principal,
    name: data.blueprintName,
    requested: data.version ?? null,
  });

  const id = newId('dep', 8);
  const { blueprint } = await deps.db.prisma.$transaction(async (tx) => {
    const settled = await settleBlueprintVersion(tx, plan);
    const { blueprint, version } = settled;
    // Read after the version is settled, in the same transaction: a blueprint made just now has
    // no databases, and the targets are the tenants on the blueprint at this moment.
    const databases = await tx.tenantDatabase.findMany({ where: { blueprintId: blueprint.id } });
    const tenants = await tx.tenant.findMany({
      where: { id: { in: databases.map((d) => d.tenantId) }, status: { in: ['active', 'suspended'] } },
      select: { id: true, slug: true },
    });
    const bySlug = new Map(tenants.map((t) => [t.slug, t.id]));
    const resolve = (ref: string): string => {
      const id = bySlug.get(ref) ?? tenants.find((t) => t.id === ref)?.id;
      if (!id) {
        throw new AppError('NOT_FOUND', `Tenant "${ref}" has no database from blueprint "${blueprint.name}"`, {
          tenant_id: ref,
          blueprint: blueprint.name,
        });
      }
      return id;
    };
    const canary = [...new Set((data.canaryTenantIds ?? []).map(resolve))];
    const targets = data.deployAll ? tenants.map((t) => t.id) : [...new Set((data.tenantIds ?? []).map(resolve))];
    for (const id of canary) if (!targets.includes(id)) targets.push(id);

    await tx.deployment.create({
      data: {
        id,
        projectId: blueprint.projectId,
        blueprintId: blueprint.id,
        version: version.version,
        status: 'pending',
        deployAll: Boolean(data.deployAll),
        canaryTenantIds: canary,
        failureThreshold: data.failureThreshold ?? null,
        totalTenants: targets.length,
        requestedBy: `${principal.kind}:${principal.id}`,
      },
    });
    await tx.deploymentTarget.createMany({
      data: targets.map((tenantId) => ({ id: newId('dpt', 8), deploymentId: id, tenantId })),
    });
    return settled;
  }, PUBLISH_TRANSACTION);
  try {
    const { jobId } = await deps.jobs.enqueue(DEPLOY_JOB, { deploymentId: id }, { jobId: `deploy-${id}` });
    const updated = await deps.db.prisma.deployment.update({ where: { id }, data: { jobId } });
    return { ...updated, blueprintName: blueprint.name };
  } catch (error) {
    await deps.db.prisma.deployment.update({
      where: { id },
      data: {
        status: 'failed',
        error: error instanceof Error ? error.message : String(error),
        completedAt: new Date(),
      },
    });
    throw error;
  }
}

type TargetOutcome = { status: 'completed' | 'skipped' | 'failed'; error?: string };

/**
 * One tenant, one transaction: the statements that take its database from its version to the
 * target (every version's captured changes in between, or the target's whole DDL for a database
 * on no version), as its role, then its recorded version. Locks its tenant_databases row first so
 * two deployments of the same blueprint cannot apply the same change twice.
 */
export async function deployToDatabase(
  deps: SubgraphDeps,
  databaseId: string,
  target: BlueprintVersion,
  versions: BlueprintVersion[],
): Promise<TargetOutcome> {
  return deps.db.prisma.$transaction(
    async (tx) => {
      const [locked] = await tx.$queryRawUnsafe<{ version: string | null }[]>(
        `SELECT version FROM tenancy.tenant_databases WHERE id = $1 FOR UPDATE`,
        databaseId,
      );
      if (!locked) throw new AppError('NOT_FOUND', 'The tenant database is gone');
      const db = (await tx.tenantDatabase.findUniqueOrThrow({ where: { id: databaseId } })) as TenantDatabase;
      if (db.version && compareVersions(db.version, target.version) >= 0) return { status: 'skipped' as const };
      const statements = db.version
        ? versions
            .filter(
              (v) => compareVersions(v.version, db.version!) > 0 && compareVersions(v.version, target.version) <= 0,
            )
            .sort((a, b) => compareVersions(a.version, b.version))
            .flatMap(versionStatements)
        : await splitStatements(target.ddl);
      if (db.isolationLevel === 2 || usesTenantSessions(deps)) {
        // Real PostgreSQL: a session logged in as the database's own role, committed before the
        // version is recorded (the row stays locked meanwhile, so no other deployment applies
        // the same statements). Blueprint DDL is tenant-written: no SET ROLE it could undo.
        await applyInBlueprintSession(deps, db, statements);
      } else {
        await applyAsDatabaseRole(tx, db, statements);
      }
      await tx.tenantDatabase.update({ where: { id: databaseId }, data: { version: target.version, status: 'ready' } });
      return { status: 'completed' as const };
    },
    { maxWait: 30_000, timeout: 5 * 60_000 },
  );
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // Prisma wraps the server's message in its own; the last line is what PostgreSQL said.
  const match = /Message: `([^`]*)`/.exec(text) ?? /ERROR: (.*)/.exec(text);
  return (match?.[1] ?? text).slice(0, 1000);
}

/**
 * The job's work. Resumable: targets already finished are left as they are, so a retried job
 * picks up where the last run stopped.
 */
export async function runDeployment({
  deps,
  deploymentId,
  logger,
  progress,
}: {
  deps: SubgraphDeps;
  deploymentId: string;
  logger: Logger;
  progress?: (percent: number) => Promise<void>;
}): Promise<Deployment> {
  const prisma = deps.db.prisma;
  const deployment = await prisma.deployment.findUnique({ where: { id: deploymentId } });
  if (!deployment) throw new AppError('NOT_FOUND', 'Deployment not found', { deployment_id: deploymentId });
  if (['completed', 'failed', 'stopped'].includes(deployment.status)) return deployment;
  const versions = await prisma.blueprintVersion.findMany({ where: { blueprintId: deployment.blueprintId } });
  const target = versions.find((v) => v.version === deployment.version);
  if (!target) throw new AppError('NOT_FOUND', 'The deployed version is gone', { version: deployment.version });
  await prisma.deployment.update({
    where: { id: deploymentId },
    data: { status: 'running', startedAt: deployment.startedAt ?? new Date() },
  });

  const pending = await prisma.deploymentTarget.findMany({ where: { deploymentId, status: 'pending' } });
  const databases = new Map(
    (
      await prisma.tenantDatabase.findMany({
        where: { blueprintId: deployment.blueprintId, tenantId: { in: pending.map((t) => t.tenantId) } },
        select: { id: true, tenantId: true },
      })
    ).map((d) => [d.tenantId, d.id]),
  );
  // Live progress (tenancyJobProgress, kind blueprint_deployment): the rollout as a whole for its
  // project and the operator, and each target tenant's own outcome for that tenant's subscribers.
  const total = Math.max(1, deployment.totalTenants);
  let settled = deployment.totalTenants - pending.length;
  const announce = (message: {
    tenantId: string | null;
    status: 'running' | 'completed' | 'failed';
    progress: number;
    error?: string | null;
  }) =>
    publishTenancyProgress(deps, {
      kind: 'blueprint_deployment',
      id: deploymentId,
      projectId: deployment.projectId,
      ...message,
    });
  await announce({ tenantId: null, status: 'running', progress: Math.floor((settled / total) * 100) });
  const canary = new Set(deployment.canaryTenantIds);
  const threshold = deployment.failureThreshold;
  let failed = deployment.failedTenants;
  let stopped = false;

  const runOne = async (t: DeploymentTarget): Promise<void> => {
    const started = Date.now();
    let outcome: TargetOutcome;
    const databaseId = databases.get(t.tenantId);
    try {
      if (!databaseId) throw new AppError('NOT_FOUND', 'The tenant has no database from this blueprint any more');
      outcome = await deployToDatabase(deps, databaseId, target, versions);
    } catch (error) {
      outcome = { status: 'failed', error: errorText(error) };
      logger.warn({ deploymentId, tenantId: t.tenantId, err: outcome.error }, 'deployment failed for a tenant');
    }
    if (outcome.status === 'failed') failed += 1;
    await prisma.$transaction([
      prisma.deploymentTarget.update({
        where: { id: t.id },
        data: {
          status: outcome.status,
          error: outcome.error ?? null,
          durationMs: Date.now() - started,
          startedAt: new Date(started),
          completedAt: new Date(),
        },
      }),
      prisma.deployment.update({
        where: { id: deploymentId },
        data:
          outcome.status === 'completed'
            ? { completedTenants: { increment: 1 } }
            : outcome.status === 'skipped'
              ? { skippedTenants: { increment: 1 } }
              : { failedTenants: { increment: 1 } },
      }),
    ]);
    settled += 1;
    await announce({
      tenantId: t.tenantId,
      status: outcome.status === 'failed' ? 'failed' : 'completed',
      progress: 100,
      error: outcome.error ?? null,
    });
    await announce({ tenantId: null, status: 'running', progress: Math.min(99, Math.floor((settled / total) * 100)) });
  };

  const reachedThreshold = () => threshold !== null && failed >= threshold;
  const runWave = async (wave: DeploymentTarget[]): Promise<void> => {
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < wave.length) {
        if (reachedThreshold()) {
          stopped = true;
          return;
        }
        const t = wave[next++]!;
        await runOne(t);
        done += 1;
        if (progress && done % 10 === 0) await progress(Math.floor((done / wave.length) * 100)).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DEPLOY_CONCURRENCY, wave.length) }, worker));
  };

  // Canaries first, one at a time: the threshold is judged before anyone else is touched.
  const canaryWave = pending.filter((t) => canary.has(t.tenantId));
  for (const t of canaryWave) {
    if (reachedThreshold()) {
      stopped = true;
      break;
    }
    await runOne(t);
  }
  if (!stopped && !reachedThreshold()) await runWave(pending.filter((t) => !canary.has(t.tenantId)));
  else stopped = true;
  if (reachedThreshold() && (await prisma.deploymentTarget.count({ where: { deploymentId, status: 'pending' } })) > 0) {
    stopped = true;
  }

  const final = await prisma.deployment.findUniqueOrThrow({ where: { id: deploymentId } });
  const status = stopped ? 'stopped' : final.failedTenants > 0 ? 'failed' : 'completed';
  await progress?.(100).catch(() => undefined);
  const finished = await prisma.deployment.update({
    where: { id: deploymentId },
    data: {
      status,
      completedAt: new Date(),
      error: stopped
        ? `Stopped: ${final.failedTenants} tenant(s) failed, threshold ${threshold}`
        : final.failedTenants > 0
          ? `${final.failedTenants} of ${final.totalTenants} tenant(s) failed`
          : null,
    },
  });
  await announce({
    tenantId: null,
    status: status === 'completed' ? 'completed' : 'failed',
    progress: 100,
    error: finished.error,
  });
  await emitDeploymentWebhooks(deps, finished, logger);
  return finished;
}

/**
 * Each target tenant's webhooks hear how the rollout ended for it: `deployment.completed`, or
 * `deployment.failed` when the deployment failed or was stopped (its own target's outcome is in
 * `tenant_status`). The deployment and tenant ids make the event id, so a retried job emits once.
 */
async function emitDeploymentWebhooks(deps: SubgraphDeps, deployment: Deployment, logger: Logger): Promise<void> {
  const targets = await deps.db.prisma.deploymentTarget.findMany({
    where: { deploymentId: deployment.id },
    select: { tenantId: true, status: true, error: true },
  });
  const type = deployment.status === 'completed' ? 'deployment.completed' : 'deployment.failed';
  for (const target of targets) {
    await emitWebhookEvent(deps.jobs, {
      id: `evt_${deployment.id}_${target.tenantId}`.slice(0, 100),
      tenantId: target.tenantId,
      type,
      data: {
        deployment_id: deployment.id,
        blueprint_id: deployment.blueprintId,
        version: deployment.version,
        status: deployment.status,
        tenant_status: target.status,
        error: target.error,
        completed_at: deployment.completedAt?.toISOString() ?? null,
      },
    }).catch((err: unknown) => logger.error({ err, deploymentId: deployment.id }, 'deployment webhook not queued'));
  }
}

async function withBlueprintName(deps: SubgraphDeps, deployments: Deployment[]): Promise<DeploymentWithBlueprint[]> {
  const blueprints = await deps.db.prisma.blueprint.findMany({
    where: { id: { in: [...new Set(deployments.map((d) => d.blueprintId))] } },
    select: { id: true, name: true },
  });
  const names = new Map(blueprints.map((b) => [b.id, b.name]));
  return deployments.map((d) => ({ ...d, blueprintName: names.get(d.blueprintId) ?? d.blueprintId }));
}

/** Requires read:tenants. The caller's project's deployments, newest first. */
export async function listDeployments({
  deps,
  principal,
  limit = 100,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  limit?: number;
}): Promise<DeploymentWithBlueprint[]> {
  requireScope(principal, 'read:tenants');
  if (principal.tenantId !== null) throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot list deployments');
  const take = parseInput(z.number().int().min(1).max(500), limit);
  const rows = await deps.db.prisma.deployment.findMany({
    where: { projectId: principal.projectId },
    orderBy: { createdAt: 'desc' },
    take,
  });
  return withBlueprintName(deps, rows);
}

/** Requires read:tenants. One deployment of the caller's project. */
export async function getDeployment({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
}): Promise<DeploymentWithBlueprint> {
  requireScope(principal, 'read:tenants');
  const row = await deps.db.prisma.deployment.findUnique({ where: { id } });
  if (!row || principal.tenantId !== null || row.projectId !== principal.projectId) {
    throw new AppError('NOT_FOUND', 'Deployment not found', { deployment_id: id });
  }
  return (await withBlueprintName(deps, [row]))[0]!;
}

export async function deploymentTargets(
  deps: SubgraphDeps,
  deploymentId: string,
): Promise<(DeploymentTarget & { tenantSlug: string })[]> {
  const targets = await deps.db.prisma.deploymentTarget.findMany({ where: { deploymentId }, orderBy: { id: 'asc' } });
  const tenants = await deps.db.prisma.tenant.findMany({
    where: { id: { in: targets.map((t) => t.tenantId) } },
    select: { id: true, slug: true },
  });
  const slugs = new Map(tenants.map((t) => [t.id, t.slug]));
  return targets.map((t) => ({ ...t, tenantSlug: slugs.get(t.tenantId) ?? t.tenantId }));
}

export interface TenantDeployment {
  deployment: DeploymentWithBlueprint;
  target: DeploymentTarget;
}

/** Requires read:tenants. A tenant's deployment history, newest first; its own users may read it. */
export async function tenantDeployments({
  deps,
  principal,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  tenantId: string;
}): Promise<TenantDeployment[]> {
  const tenant = await loadTenantFor(deps, principal, tenantId, 'read:tenants');
  const targets = await deps.db.prisma.deploymentTarget.findMany({
    where: { tenantId: tenant.id },
    include: { deployment: true },
    orderBy: { deployment: { createdAt: 'desc' } },
    take: 200,
  });
  const named = await withBlueprintName(
    deps,
    targets.map((t) => t.deployment),
  );
  return targets.map((t, i) => ({ deployment: named[i]!, target: t }));
}

/** 0–100 over finished targets (applied, skipped or failed). */
export function deploymentProgress(d: Deployment): number {
  if (d.totalTenants === 0) return d.status === 'pending' || d.status === 'running' ? 0 : 100;
  return Math.floor(((d.completedTenants + d.skippedTenants + d.failedTenants) / d.totalTenants) * 100);
}
