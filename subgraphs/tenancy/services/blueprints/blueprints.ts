import { createHash } from 'node:crypto';
import { AppError } from '../../../../lib/errors.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import {
  Prisma,
  type Blueprint,
  type BlueprintVersion,
  type Workspace,
  type WorkspaceChange,
} from '../../../../prisma/generated/client.js';
import type { SchemaInfo } from '../sql/introspection.js';
import { compareVersions, parseVersion, versionStatements } from './tenant-databases-blueprint.js';
import { markChangesDeployed, pendingChanges, snapshotWorkspace } from '../workspaces/workspaces.js';

type Tx = Prisma.TransactionClient;

/** A publish writes a few rows but may wait for another publish of the same workspace (its lock). */
export const PUBLISH_TRANSACTION = { maxWait: 10_000, timeout: 60_000 };

/**
 * Blueprints: a workspace's schema design, published as immutable versions (1.0, 1.1, …). A
 * version holds the whole schema as DDL (what a new tenant database starts from), the introspected
 * snapshot, and the captured statements since the previous version (what a deployment applies to
 * databases already on the blueprint). Blueprints belong to the workspace's project; the operator
 * (no project) has its own.
 */

export interface BlueprintSummary {
  /** The latest version's id (`<project>_<name>_v1_0`), as tenantsdb lists it. */
  id: string;
  blueprintId: string;
  name: string;
  version: string | null;
  workspaceId: string | null;
  databaseType: string;
  projectId: string | null;
  createdAt: Date;
  /** Tenant ids (slugs) with a database from this blueprint. */
  deployedTo: string[];
}

export interface BlueprintVersionView extends BlueprintVersion {
  statements: string[];
  deployedTo: string[];
}

export interface BlueprintDetail extends BlueprintSummary {
  latest: BlueprintVersionView | null;
}

function idPart(value: string | null): string {
  return (value ?? 'platform').replace(/[^A-Za-z0-9-]/g, '_');
}

export function versionId(projectId: string | null, name: string, version: string): string {
  const [major, minor] = parseVersion(version);
  return `${idPart(projectId)}_${idPart(name)}_v${major}_${minor}`;
}

function nextVersion(latest: string | undefined): string {
  if (!latest) return '1.0';
  const [major, minor] = parseVersion(latest);
  return `${major}.${minor + 1}`;
}

function latestOf<T extends { version: string }>(versions: T[]): T | undefined {
  return [...versions].sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** The caller's blueprint by name: its own project's (the operator's own when it has none). */
export async function findBlueprint(
  deps: SubgraphDeps,
  principal: Principal,
  name: string,
): Promise<Blueprint & { versions: BlueprintVersion[] }> {
  const blueprint = await deps.db.prisma.blueprint.findFirst({
    where: { name, projectId: principal.projectId },
    include: { versions: true },
  });
  if (!blueprint) throw new AppError('NOT_FOUND', `Blueprint "${name}" not found`, { blueprint: name });
  return blueprint;
}

/** A version by `1.1`, `v1.1`, `v3` (= 3.0) or `latest`. */
export function pickVersion(versions: BlueprintVersion[], requested: string | null | undefined): BlueprintVersion {
  const latest = latestOf(versions);
  if (!requested || requested === 'latest') {
    if (!latest) throw new AppError('NOT_FOUND', 'The blueprint has no versions yet: publish its workspace first');
    return latest;
  }
  const found = versions.find((v) => compareVersions(v.version, requested) === 0);
  if (!found) {
    throw new AppError('NOT_FOUND', `Version "${requested}" not found`, {
      version: requested,
      versions: versions.map((v) => v.version),
    });
  }
  return found;
}

/** `v3` → `3.0`, `1.10` → `1.10`: how a version is stored and shown, whatever form it was asked in. */
export function normalizeVersion(version: string): string {
  const [major, minor] = parseVersion(version);
  return `${major}.${minor}`;
}

/**
 * What a publish reads before its transaction: the workspace's pending changes, then its schema.
 * Pending changes first, then the schema: DDL racing the publish then lands in the snapshot and
 * stays pending for the next version (a deployment fails loudly on it) instead of being counted
 * in this version's changes while missing from the DDL new tenant databases start from. The
 * schema is read outside the transaction because it may live in another database (the
 * workspace's own, on PostgreSQL) and, on the embedded database, a read waits for an open
 * transaction.
 */
interface WorkspaceCapture {
  workspace: Workspace;
  pending: WorkspaceChange[];
  ddl: string;
  snapshot: SchemaInfo;
}

async function captureWorkspace(
  deps: SubgraphDeps,
  workspace: Workspace,
  pending?: WorkspaceChange[],
): Promise<WorkspaceCapture> {
  const changes = pending ?? (await pendingChanges(deps, workspace.id));
  const { ddl, snapshot } = await snapshotWorkspace(deps, workspace);
  return { workspace, pending: changes, ddl, snapshot };
}

/**
 * Which version a publish settles on, decided again under the workspace's lock:
 * - `version`: that version (reused when it exists by then), else published as it;
 * - `reuse: 'latest'`: the latest version, published first only when there is none;
 * - `reuse: 'unchanged'`: the latest when nothing is pending since it, else the next version;
 * - `reuse: 'never'`: the next version (CONFLICT when nothing is pending).
 */
type PublishWant = { version: string; reuse?: never } | { version?: null; reuse: 'latest' | 'unchanged' | 'never' };

interface Settled {
  blueprint: Blueprint;
  version: BlueprintVersion;
  published: boolean;
}

/**
 * Inside the caller's transaction: locks the workspace row (the same lock DDL recording takes, so
 * publishes of one workspace queue behind each other and see each other's versions), creates the
 * blueprint on first publish, and writes the version with the pending changes marked deployed.
 * Changes another publish took meanwhile are a CONFLICT, never counted in two versions.
 */
async function publishInTransaction(tx: Tx, capture: WorkspaceCapture, want: PublishWant): Promise<Settled> {
  const { workspace, pending } = capture;
  await tx.$queryRawUnsafe(`SELECT id FROM tenancy.workspaces WHERE id = $1 FOR UPDATE`, workspace.id);
  const blueprint =
    (await tx.blueprint.findFirst({ where: { projectId: workspace.projectId, name: workspace.name } })) ??
    (await tx.blueprint.create({
      data: {
        id: `${idPart(workspace.projectId)}_${idPart(workspace.name)}`,
        projectId: workspace.projectId,
        name: workspace.name,
        databaseType: workspace.databaseType,
        workspaceId: workspace.id,
      },
    }));
  const existing = await tx.blueprintVersion.findMany({ where: { blueprintId: blueprint.id } });
  const latest = latestOf(existing);
  if (want.version) {
    const found = existing.find((v) => compareVersions(v.version, want.version) === 0);
    if (found) return { blueprint, version: found, published: false };
  } else if (latest && want.reuse === 'latest') {
    return { blueprint, version: latest, published: false };
  } else if (latest && want.reuse === 'unchanged') {
    // A publish that held the lock before us may have taken these changes: its version is then
    // the workspace's current schema, and a second one would be empty.
    const stillPending = await tx.workspaceChange.count({
      where: { id: { in: pending.map((c) => c.id) }, status: 'pending' },
    });
    if (stillPending === 0) return { blueprint, version: latest, published: false };
  }
  const version = want.version ? normalizeVersion(want.version) : nextVersion(latest?.version);
  if (latest && compareVersions(version, latest.version) <= 0) {
    throw new AppError(
      'CONFLICT',
      `Version ${version} is not newer than the latest version ${latest.version}: versions only go forward`,
      { blueprint: blueprint.name, version, latest: latest.version },
    );
  }
  if (latest && pending.length === 0) {
    throw new AppError('CONFLICT', `Nothing to publish: no pending changes since version ${latest.version}`, {
      blueprint: blueprint.name,
      version: latest.version,
    });
  }
  const created = await tx.blueprintVersion.create({
    data: {
      id: versionId(workspace.projectId, workspace.name, version),
      blueprintId: blueprint.id,
      version,
      ddl: capture.ddl,
      snapshot: capture.snapshot as unknown as Prisma.InputJsonValue,
      changes: pending.map((c) => ({
        id: c.id,
        seq: c.seq,
        statement: c.statement,
        command_tag: c.commandTag,
      })) as Prisma.InputJsonValue,
      checksum: createHash('sha256').update(capture.ddl).digest('hex'),
    },
  });
  const marked = await markChangesDeployed(
    tx,
    pending.map((c) => c.id),
    created.id,
  );
  if (marked !== pending.length) {
    throw new AppError('CONFLICT', 'Another publish of this workspace ran meanwhile; try again', {
      workspace_id: workspace.id,
    });
  }
  await tx.workspace.update({ where: { id: workspace.id }, data: { version } });
  return { blueprint, version: created, published: true };
}

/** Two publishes creating the same blueprint or version at once: the loser's unique violation. */
function asPublishConflict(error: unknown, workspaceId: string): unknown {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
    return new AppError('CONFLICT', 'Another publish of this workspace ran meanwhile; try again', {
      workspace_id: workspaceId,
    });
  }
  return error;
}

/** The caller's live workspace by name: the one a blueprint of that name publishes from. */
async function findWorkspaceNamed(deps: SubgraphDeps, principal: Principal, name: string): Promise<Workspace | null> {
  return deps.db.prisma.workspace.findFirst({ where: { projectId: principal.projectId, name, deletedAt: null } });
}

/**
 * Requires write:tenants. Snapshots the workspace's schema as the next version of its blueprint
 * (created on first publish), with the pending changes since the last version, and marks those
 * changes deployed, in one transaction. Nothing pending after a first version is a CONFLICT: a
 * version identical to the last would only add noise.
 */
export async function publishBlueprint({
  deps,
  principal,
  workspaceId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  workspaceId: string;
}): Promise<BlueprintVersionView & { blueprint: Blueprint }> {
  requireScope(principal, 'write:tenants');
  if (principal.tenantId !== null) throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot publish blueprints');
  const workspace = await deps.db.prisma.workspace.findFirst({
    where: { OR: [{ id: workspaceId }, { name: workspaceId, projectId: principal.projectId }], deletedAt: null },
  });
  if (!workspace || (principal.projectId !== null && workspace.projectId !== principal.projectId)) {
    throw new AppError('NOT_FOUND', 'Workspace not found', { workspace_id: workspaceId });
  }
  const capture = await captureWorkspace(deps, workspace);
  try {
    const settled = await deps.db.prisma.$transaction(
      (tx) => publishInTransaction(tx, capture, { reuse: 'never' }),
      PUBLISH_TRANSACTION,
    );
    return {
      ...settled.version,
      blueprint: settled.blueprint,
      statements: versionStatements(settled.version),
      deployedTo: [],
    };
  } catch (error) {
    throw asPublishConflict(error, workspace.id);
  }
}

/**
 * The version a deployment or a new tenant database uses, planned before any transaction so that
 * nothing is read from another database inside one. tenantsdb's REST flow has no publish step:
 * a workspace's blueprint exists from the workspace's creation on, and its versions are made
 * when they are first needed. `settleBlueprintVersion` finishes the plan inside a transaction.
 */
export interface BlueprintVersionPlan {
  name: string;
  databaseType: string;
  /** null: the blueprint is made by the plan's publish. */
  blueprint: (Blueprint & { versions: BlueprintVersion[] }) | null;
  /** Set: used as it is. */
  ready: BlueprintVersion | null;
  publish: { capture: WorkspaceCapture; want: PublishWant } | null;
}

/**
 * Requires write:tenants. `requested`:
 * - a version (`1.2`, `v3`): that version; one that does not exist yet is published from the
 *   workspace's current schema as that version (it must be newer than the latest);
 * - `latest`: the latest version, or the first one published when there is none (a new tenant);
 * - null: the workspace's current schema: the latest version when nothing is pending since it,
 *   else a new version (the next one) published from it.
 * NOT_FOUND when neither the blueprint nor a workspace of that name exists, or when a version is
 * asked of a blueprint whose workspace is gone.
 */
export async function planBlueprintVersion({
  deps,
  principal,
  name,
  requested,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  name: string;
  requested: string | null;
}): Promise<BlueprintVersionPlan> {
  requireScope(principal, 'write:tenants');
  if (principal.tenantId !== null) throw new AppError('FORBIDDEN', 'A tenant-bound caller cannot publish blueprints');
  const blueprint = await deps.db.prisma.blueprint.findFirst({
    where: { name, projectId: principal.projectId },
    include: { versions: true },
  });
  const versions = blueprint?.versions ?? [];
  const latest = latestOf(versions);
  const plan = (ready: BlueprintVersion | null, publish: BlueprintVersionPlan['publish']): BlueprintVersionPlan => ({
    name,
    databaseType: blueprint?.databaseType ?? publish!.capture.workspace.databaseType,
    blueprint,
    ready,
    publish,
  });

  const exact =
    requested && requested !== 'latest' ? versions.find((v) => compareVersions(v.version, requested) === 0) : null;
  if (exact) return plan(exact, null);
  if (requested === 'latest' && latest) return plan(latest, null);
  const workspace = await findWorkspaceNamed(deps, principal, name);
  if (!workspace) {
    if (!blueprint) throw new AppError('NOT_FOUND', `Blueprint "${name}" not found`, { blueprint: name });
    // No workspace to publish from: only what was published before can be used.
    return plan(pickVersion(versions, requested === null ? 'latest' : requested), null);
  }
  if (requested && requested !== 'latest') {
    // Checked before anything is read or written: a bad or backward version fails at once.
    const version = normalizeVersion(requested);
    if (latest && compareVersions(version, latest.version) < 0) {
      throw new AppError(
        'CONFLICT',
        `Version ${version} is not newer than the latest version ${latest.version}: versions only go forward`,
        { blueprint: name, version, latest: latest.version },
      );
    }
    return plan(null, { capture: await captureWorkspace(deps, workspace), want: { version } });
  }
  if (requested === 'latest')
    return plan(null, { capture: await captureWorkspace(deps, workspace), want: { reuse: 'latest' } });
  const pending = await pendingChanges(deps, workspace.id);
  if (latest && pending.length === 0) return plan(latest, null);
  return plan(null, { capture: await captureWorkspace(deps, workspace, pending), want: { reuse: 'unchanged' } });
}

/** Inside the caller's transaction: the plan's version, published now when the plan says so. */
export async function settleBlueprintVersion(
  tx: Tx,
  plan: BlueprintVersionPlan,
): Promise<{ blueprint: Blueprint; version: BlueprintVersion }> {
  if (plan.publish) {
    try {
      return await publishInTransaction(tx, plan.publish.capture, plan.publish.want);
    } catch (error) {
      throw asPublishConflict(error, plan.publish.capture.workspace.id);
    }
  }
  return { blueprint: plan.blueprint!, version: plan.ready! };
}

async function deployedBySlug(deps: SubgraphDeps, blueprintIds: string[]) {
  const databases = await deps.db.prisma.tenantDatabase.findMany({
    where: { blueprintId: { in: blueprintIds } },
    select: { blueprintId: true, tenantId: true, version: true },
  });
  const tenants = await deps.db.prisma.tenant.findMany({
    where: { id: { in: [...new Set(databases.map((d) => d.tenantId))] }, status: { not: 'deleted' } },
    select: { id: true, slug: true },
  });
  const slugs = new Map(tenants.map((t) => [t.id, t.slug]));
  return databases
    .filter((d) => slugs.has(d.tenantId))
    .map((d) => ({ blueprintId: d.blueprintId, version: d.version, slug: slugs.get(d.tenantId)! }));
}

function summarize(
  blueprint: Blueprint & { versions: BlueprintVersion[] },
  deployed: { blueprintId: string; slug: string }[],
): BlueprintSummary {
  const latest = latestOf(blueprint.versions);
  return {
    id: latest?.id ?? blueprint.id,
    blueprintId: blueprint.id,
    name: blueprint.name,
    version: latest?.version ?? null,
    workspaceId: blueprint.workspaceId,
    databaseType: blueprint.databaseType,
    projectId: blueprint.projectId,
    createdAt: blueprint.createdAt,
    deployedTo: deployed
      .filter((d) => d.blueprintId === blueprint.id)
      .map((d) => d.slug)
      .sort(),
  };
}

/** Requires read:tenants. The caller's project's blueprints, each with its latest version. */
export async function listBlueprints({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal;
}): Promise<BlueprintSummary[]> {
  requireScope(principal, 'read:tenants');
  const blueprints = await deps.db.prisma.blueprint.findMany({
    where: { projectId: principal.projectId },
    include: { versions: true },
    orderBy: { createdAt: 'asc' },
  });
  const deployed = await deployedBySlug(
    deps,
    blueprints.map((b) => b.id),
  );
  return blueprints.map((b) => summarize(b, deployed));
}

/** Requires read:tenants. One blueprint with its latest version's schema. */
export async function getBlueprint({
  deps,
  principal,
  name,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  name: string;
}): Promise<BlueprintDetail> {
  requireScope(principal, 'read:tenants');
  const blueprint = await findBlueprint(deps, principal, name);
  const deployed = await deployedBySlug(deps, [blueprint.id]);
  const latest = latestOf(blueprint.versions);
  return {
    ...summarize(blueprint, deployed),
    latest: latest
      ? {
          ...latest,
          statements: versionStatements(latest),
          deployedTo: deployed.filter((d) => d.version === latest.version).map((d) => d.slug),
        }
      : null,
  };
}

/** Requires read:tenants. Every version, newest first, with the tenants now at each. */
export async function listBlueprintVersions({
  deps,
  principal,
  name,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  name: string;
}): Promise<BlueprintVersionView[]> {
  requireScope(principal, 'read:tenants');
  const blueprint = await findBlueprint(deps, principal, name);
  const deployed = await deployedBySlug(deps, [blueprint.id]);
  return [...blueprint.versions]
    .sort((a, b) => compareVersions(b.version, a.version))
    .map((v) => ({
      ...v,
      statements: versionStatements(v),
      deployedTo: deployed
        .filter((d) => d.version === v.version)
        .map((d) => d.slug)
        .sort(),
    }));
}
