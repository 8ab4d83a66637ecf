import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { Principal } from '../../../lib/principal.js';
import { PROJECT_SCOPES } from '../../../lib/scopes.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { Prisma, type Project } from '../../../prisma/generated/client.js';

/**
 * Who a tenantsdb account is and what belongs to it: the one place accounts.ts, projects.ts and
 * api-keys.ts decide ownership from the principal (kept apart so those three import it, not each other).
 * A project owner is a User with no tenant, in the `accounts` directory.
 */
export const ACCOUNTS_DIRECTORY = 'accounts';
export const ACCOUNT_OWNER_ROLE = 'owner';

/** The name of a project's first key (signup, new project), as the tenantsdb examples name it. */
export const DEFAULT_KEY_NAME = 'Default';

export const projectNameSchema = z.string().trim().min(1, 'must not be empty').max(100);

/** `tdb_` + 8 hex, the documented shape (`tdb_2abf90d3`). */
export function newProjectId(): string {
  return `tdb_${randomBytes(4).toString('hex')}`;
}

/** The model whose unique constraint an error violated (Prisma P2002), or null for any other error. */
export function uniqueViolationModel(error: unknown): string | null {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return null;
  const model = (error.meta as { modelName?: unknown } | undefined)?.modelName;
  return typeof model === 'string' ? model : 'unknown';
}

/**
 * Runs a transaction that draws a new project id, again with a fresh id if that one is taken.
 * Eight hex digits are only 32 bits (the documented shape), so a collision is rare but possible.
 */
export async function withFreshProjectId<T>(run: (projectId: string) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(newProjectId());
    } catch (error) {
      if (uniqueViolationModel(error) !== 'Project' || attempt >= 3) throw error;
    }
  }
}

export interface Account {
  /** The owning user's id: every project of the account has it as owner_id. */
  ownerId: string;
}

/**
 * The account a caller acts for, from the principal alone: a key of one of its projects (a key
 * speaks for the whole account, as tenantsdb's API does), or the owner signed in with a token.
 * The operator has no account, and tenant users belong to tenants, not to accounts.
 */
export async function requireAccount(deps: SubgraphDeps, principal: Principal): Promise<Account> {
  if (principal.kind === 'api_key' && principal.projectId !== null) {
    const project = await deps.db.prisma.project.findUnique({
      where: { id: principal.projectId },
      select: { deletedAt: true, owner: { select: { id: true, status: true } } },
    });
    // The gateway refuses keys of deleted projects; this covers a cached key in the instant between.
    if (!project || project.deletedAt !== null || project.owner.status !== 'active') {
      throw new AppError('UNAUTHORIZED', 'This API key no longer belongs to an active project');
    }
    return { ownerId: project.owner.id };
  }
  if (principal.kind === 'user' && principal.tenantId === null) {
    const user = await deps.db.prisma.user.findUnique({
      where: { id: principal.id },
      select: { id: true, directory: true, status: true },
    });
    if (user && user.directory === ACCOUNTS_DIRECTORY && user.status === 'active') return { ownerId: user.id };
  }
  if (principal.kind === 'operator') {
    throw new AppError('FORBIDDEN', 'The operator has no tenantsdb account; use a key of the account');
  }
  throw new AppError('FORBIDDEN', 'Only a tenantsdb account (its owner, or a key of one of its projects) may do this');
}

/**
 * Changing the account (projects, keys) needs every project scope: a key narrowed to, say,
 * read:telemetry for a CI job reads the account but cannot delete its projects or mint keys.
 */
export async function requireAccountAdmin(deps: SubgraphDeps, principal: Principal): Promise<Account> {
  const account = await requireAccount(deps, principal);
  const missing = PROJECT_SCOPES.filter((scope) => !principal.scopes.includes(scope));
  if (missing.length > 0) {
    throw new AppError('FORBIDDEN', 'Managing projects and API keys needs a key with every project scope', {
      missing_scopes: missing,
    });
  }
  return account;
}

/** A project of the account; another account's project is NOT_FOUND, so its existence is not revealed. */
export async function findOwnedProject(deps: SubgraphDeps, account: Account, projectId: string): Promise<Project> {
  const project = await deps.db.prisma.project.findFirst({
    where: { id: projectId, ownerId: account.ownerId, deletedAt: null },
  });
  if (!project) throw new AppError('NOT_FOUND', 'Project not found', { project_id: projectId });
  return project;
}
