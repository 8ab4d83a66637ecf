import { createHash } from 'node:crypto';
import { AppError } from '../../../lib/errors.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { Prisma, type Blueprint, type BlueprintVersion } from '../../../prisma/generated/client.js';
import { compareVersions, parseVersion, versionStatements } from './tenant-databases-blueprint.js';
import { markChangesDeployed, pendingChanges, snapshotWorkspace } from './workspaces.js';

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
  // Pending changes first, then the schema: DDL racing the publish then lands in the snapshot and
  // stays pending for the next version (a deployment fails loudly on it) instead of being counted
  // in this version's changes while missing from the DDL new tenant databases start from.
  const pending = await pendingChanges(deps, workspace.id);
  const { ddl, snapshot } = await snapshotWorkspace(deps, workspace);
  const changes = pending.map((c) => ({ id: c.id, seq: c.seq, statement: c.statement, command_tag: c.commandTag }));
  const checksum = createHash('sha256').update(ddl).digest('hex');

  try {
    return await deps.db.prisma.$transaction(
      async (tx) => {
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
        if (latest && changes.length === 0) {
          throw new AppError('CONFLICT', `Nothing to publish: no pending changes since version ${latest.version}`, {
            blueprint: blueprint.name,
            version: latest.version,
          });
        }
        const version = nextVersion(latest?.version);
        const created = await tx.blueprintVersion.create({
          data: {
            id: versionId(workspace.projectId, workspace.name, version),
            blueprintId: blueprint.id,
            version,
            ddl,
            snapshot: snapshot as unknown as Prisma.InputJsonValue,
            changes: changes as Prisma.InputJsonValue,
            checksum,
          },
        });
        await markChangesDeployed(
          tx,
          pending.map((c) => c.id),
          created.id,
        );
        await tx.workspace.update({ where: { id: workspace.id }, data: { version } });
        return { ...created, blueprint, statements: versionStatements(created), deployedTo: [] };
      },
      { maxWait: 10_000, timeout: 60_000 },
    );
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new AppError('CONFLICT', 'Another publish of this workspace ran meanwhile; try again', {
        workspace_id: workspace.id,
      });
    }
    throw error;
  }
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
