import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Prisma, Project } from '../../../prisma/generated/client.js';
import {
  DEFAULT_KEY_NAME,
  findOwnedProject,
  projectNameSchema,
  requireAccount,
  requireAccountAdmin,
  withFreshProjectId,
  type Account,
} from './account-access.js';
import { grantableScopes, mintApiKey, publishRevokedKeys } from './api-keys.js';

export type { Project };

/** How many projects one account may hold: enough for real use, a bound on what one signup can create. */
export const MAX_PROJECTS_PER_ACCOUNT = 100;

export interface ProjectView extends Project {
  /** Keys that authenticate now: not deleted and not expired. */
  apiKeyCount: number;
}

const activeKeys = (now: Date) => ({ revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] });

/** The caller's account's projects, oldest first. */
export async function listProjects({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal;
}): Promise<ProjectView[]> {
  const account = await requireAccount(deps, principal);
  const now = new Date();
  const projects = await deps.db.prisma.project.findMany({
    where: { ownerId: account.ownerId, deletedAt: null },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    include: { _count: { select: { apiKeys: { where: activeKeys(now) } } } },
    take: MAX_PROJECTS_PER_ACCOUNT,
  });
  return projects.map(({ _count, ...project }) => ({ ...project, apiKeyCount: _count.apiKeys }));
}

/** Serialises changes to one account's set of projects (the count limit, keeping the last one). */
function lockAccount(tx: Prisma.TransactionClient, account: Account) {
  return tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`identity:account:${account.ownerId}`}))`;
}

const createInput = z.object({ name: projectNameSchema });

/**
 * A new project of the caller's account, with a first key (named "Default") so it can be used at
 * once. The key carries the caller's own project scopes, so creating a project never widens access.
 */
export async function createProject({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof createInput>;
}): Promise<{ project: ProjectView; apiKey: string }> {
  const data = parseInput(createInput, input);
  const account = await requireAccountAdmin(deps, principal);
  const scopes = grantableScopes(principal);
  return withFreshProjectId((projectId) =>
    deps.db.prisma.$transaction(async (tx) => {
      await lockAccount(tx, account);
      const count = await tx.project.count({ where: { ownerId: account.ownerId, deletedAt: null } });
      if (count >= MAX_PROJECTS_PER_ACCOUNT) {
        throw new AppError('CONFLICT', `An account holds at most ${MAX_PROJECTS_PER_ACCOUNT} projects`, {
          limit: MAX_PROJECTS_PER_ACCOUNT,
        });
      }
      const project = await tx.project.create({ data: { id: projectId, name: data.name, ownerId: account.ownerId } });
      const { key } = await mintApiKey(tx, { projectId: project.id, name: DEFAULT_KEY_NAME, scopes });
      return { project: { ...project, apiKeyCount: 1 }, apiKey: key };
    }),
  );
}

const deleteInput = z.object({ id: z.string().min(1).max(64) });

/**
 * Soft-deletes a project of the caller's account and revokes all its keys (gateways drop them at
 * once). An account keeps at least one project: without one, login would hand back no key and the
 * account could do nothing but log in. Another account's project is NOT_FOUND.
 */
export async function deleteProject({
  deps,
  principal,
  input,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof deleteInput>;
  logger?: Logger;
}): Promise<ProjectView> {
  const { id } = parseInput(deleteInput, input);
  const account = await requireAccountAdmin(deps, principal);
  await findOwnedProject(deps, account, id);
  const now = new Date();
  const { project, revokedKeys } = await deps.db.prisma.$transaction(async (tx) => {
    await lockAccount(tx, account);
    const remaining = await tx.project.count({ where: { ownerId: account.ownerId, deletedAt: null, id: { not: id } } });
    const current = await tx.project.findFirst({ where: { id, ownerId: account.ownerId, deletedAt: null } });
    // Deleted by a concurrent request between the check above and the lock.
    if (!current) throw new AppError('NOT_FOUND', 'Project not found', { project_id: id });
    if (remaining === 0) {
      throw new AppError('CONFLICT', 'An account keeps at least one project; create another before deleting this one', {
        project_id: id,
      });
    }
    const updated = await tx.project.update({ where: { id }, data: { deletedAt: now } });
    const revoked = await tx.apiKey.updateManyAndReturn({
      where: { projectId: id, revokedAt: null },
      data: { revokedAt: now },
      select: { id: true, keyHash: true },
    });
    return { project: updated, revokedKeys: revoked };
  });
  await publishRevokedKeys(deps, revokedKeys, logger);
  return { ...project, apiKeyCount: 0 };
}
