import { text } from 'node:stream/consumers';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Device, EdgeDeployment, EdgeDeploymentDevice, Prisma } from '../../../prisma/generated/client.js';
import { emitProgressWebhooks } from './progress.js';
import { DEPLOYMENT_PROGRESS_CHANNEL, DEVICE_WORK_CHANNEL, type DeploymentProgressMessage } from '../contract.js';
import { ARTIFACT_KINDS, ARTIFACT_NAME, artifactName, MAX_ARTIFACT_BYTES, VERSION } from './artifacts.js';
import { requireDevice } from './devices.js';
import { tenantSigner } from './signing.js';

export type { EdgeDeployment, EdgeDeploymentDevice };

// Phased OTA rollouts, after Mender's phased deployments (batch percentages), AWS IoT jobs' abort
// config (failure percentage after a minimum of executed things) and retry config, and hawkBit's
// action states. The database is the state machine: every device report runs in one transaction
// holding the deployment's row lock, so concurrent reports count failures and release phases once.

export const DEVICE_STATES = [
  'pending', // in a phase not yet released
  'queued', // released, waiting for the device (offline devices get it when they return)
  'downloading',
  'installing',
  'rebooting',
  'committed',
  'failed',
  'rolled_back',
  'skipped', // already on this version and not forced
  'canceled', // the deployment was aborted before the device started
] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

const PROGRESS_RANK: Partial<Record<DeviceState, number>> = { queued: 0, downloading: 1, installing: 2, rebooting: 3 };
const TERMINAL: ReadonlySet<string> = new Set(['committed', 'failed', 'rolled_back', 'skipped', 'canceled']);
const ACTIVE_STATES = ['queued', 'downloading', 'installing', 'rebooting'];
export const REPORTABLE_STATES = [
  'downloading',
  'installing',
  'rebooting',
  'committed',
  'failed',
  'rolled_back',
] as const;

/** One deployment reaches at most this many devices; larger fleets are split by group. */
const MAX_TARGETS = 10_000;
const MAX_CONFIGURATION_BYTES = 16 * 1024;
/**
 * Reports from a whole phase arrive at once and each holds the deployment's row lock for a few
 * statements: they queue for it (and, embedded, for PGlite's one session) longer than Prisma's 2 s default.
 */
const TX_OPTIONS = { maxWait: 30_000, timeout: 30_000 };

const createInput = z
  .object({
    tenantId: z.string().nullish(),
    kind: z.enum(ARTIFACT_KINDS),
    name: z.string().regex(ARTIFACT_NAME).nullish(),
    version: z.string().regex(VERSION),
    configuration: z
      .record(z.string(), z.unknown())
      .nullish()
      .refine((c) => !c || JSON.stringify(c).length <= MAX_CONFIGURATION_BYTES, 'configuration is over 16 KiB'),
    deviceIds: z.array(z.string().min(1).max(128)).max(MAX_TARGETS).nullish(),
    groups: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/))
      .max(50)
      .nullish(),
    force: z.boolean().nullish(),
    rollbackOnFailure: z.boolean().nullish(),
    phases: z.array(z.number().int().min(1).max(100)).min(1).max(10).nullish(),
    failureThresholdPercent: z.number().min(0).max(100).nullish(),
    minExecuted: z.number().int().min(1).max(MAX_TARGETS).nullish(),
    maxRetries: z.number().int().min(0).max(10).nullish(),
  })
  .refine((d) => (d.phases ?? [100]).reduce((a, b) => a + b, 0) <= 100, {
    message: 'phases: batch percentages add up to at most 100 (the last phase takes the rest)',
    path: ['phases'],
  });

export type CreateDeploymentInput = z.input<typeof createInput>;

interface Effects {
  notify: Set<string>;
  events: DeploymentProgressMessage[];
}

/** Sizes of each phase: floor(percent × targets), at least 1, the last phase takes what is left. */
export function phaseSizes(total: number, phases: readonly number[]): number[] {
  const sizes: number[] = [];
  let left = total;
  phases.forEach((percent, index) => {
    const size = index === phases.length - 1 ? left : Math.min(left, Math.max(1, Math.floor((total * percent) / 100)));
    sizes.push(size);
    left -= size;
  });
  return sizes;
}

async function resolveTargets(
  deps: SubgraphDeps,
  tenantId: string,
  deviceKeys: readonly string[],
  groups: readonly string[],
): Promise<Device[]> {
  const or: Prisma.DeviceWhereInput[] = [];
  if (deviceKeys.length > 0) or.push({ deviceKey: { in: [...deviceKeys] } });
  if (groups.length > 0) or.push({ groups: { hasSome: [...groups] } });
  if (or.length === 0) throw new AppError('VALIDATION_ERROR', 'Give target devices or groups');
  const devices = await deps.db.prisma.device.findMany({
    where: { tenantId, status: { not: 'retired' }, OR: or },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: MAX_TARGETS + 1,
  });
  const found = new Set(devices.map((d) => d.deviceKey));
  const missing = deviceKeys.filter((k) => !found.has(k));
  if (missing.length > 0) {
    throw new AppError('NOT_FOUND', 'Unknown target devices', { device_ids: missing.slice(0, 50) });
  }
  if (devices.length === 0) throw new AppError('VALIDATION_ERROR', 'The target groups have no devices');
  if (devices.length > MAX_TARGETS) {
    throw new AppError('VALIDATION_ERROR', `A deployment reaches at most ${MAX_TARGETS} devices`);
  }
  return devices;
}

function runsVersion(device: Device, kind: string, name: string, version: string): boolean {
  if (kind === 'firmware') return device.firmwareVersion === version;
  const apps = (device.applications ?? {}) as Record<string, unknown>;
  return apps[name] === version;
}

/**
 * Creates a deployment: a signed manifest in the object store, one row per target device in its
 * phase, and the first phase released. Firmware needs a published artifact of that version;
 * an application deployment carries its configuration and, when published, its payload.
 */
export async function createDeployment({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: CreateDeploymentInput;
}): Promise<EdgeDeployment> {
  requireScope(principal, 'write:edge');
  const data = parseInput(createInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  const name = artifactName(data.kind, data.name);
  if (name === '') throw new AppError('VALIDATION_ERROR', 'An application deployment needs a name');
  const artifact = await deps.db.prisma.edgeArtifact.findUnique({
    where: { tenantId_kind_name_version: { tenantId, kind: data.kind, name, version: data.version } },
  });
  if (!artifact && data.kind === 'firmware') {
    throw new AppError('NOT_FOUND', `No published firmware ${data.version}: publish the artifact first`, {
      firmware_version: data.version,
    });
  }
  const devices = await resolveTargets(deps, tenantId, data.deviceIds ?? [], data.groups ?? []);
  const id = newId('edp');
  const rollbackOnFailure = data.rollbackOnFailure ?? true;
  const manifest = Buffer.from(
    JSON.stringify({
      deployment_id: id,
      tenant_id: tenantId,
      kind: data.kind,
      name,
      version: data.version,
      configuration: data.configuration ?? {},
      artifact: artifact
        ? { id: artifact.id, sha256: artifact.sha256, size: artifact.size, signature: artifact.signature }
        : null,
      rollback_on_failure: rollbackOnFailure,
      created_at: new Date().toISOString(),
    }),
  );
  const manifestKey = `edge/${tenantId}/deployments/${id}/manifest.json`;
  const stored = await deps.blobs.put(manifestKey, manifest, { maxBytes: 64 * 1024 });
  const signer = await tenantSigner(deps, tenantId);
  const phases = data.phases ?? [100];
  const sizes = phaseSizes(devices.length, phases);
  const force = data.force ?? false;
  let offset = 0;
  const rows = sizes.flatMap((size, phase) => {
    const slice = devices.slice(offset, offset + size);
    offset += size;
    return slice.map((device) => ({
      deploymentId: id,
      deviceId: device.id,
      phase,
      state: !force && runsVersion(device, data.kind, name, data.version) ? 'skipped' : 'pending',
    }));
  });
  const effects: Effects = { notify: new Set(), events: [] };
  const deployment = await deps.db.prisma.$transaction(async (tx) => {
    await tx.edgeDeployment.create({
      data: {
        id,
        tenantId,
        kind: data.kind,
        name,
        version: data.version,
        configuration: (data.configuration ?? {}) as Prisma.InputJsonValue,
        artifactId: artifact?.id ?? null,
        manifestKey,
        manifestSha256: stored.sha256,
        manifestSignature: signer.sign(manifest),
        force,
        rollbackOnFailure,
        phases,
        currentPhase: -1,
        failureThresholdPercent: data.failureThresholdPercent ?? 100,
        minExecuted: data.minExecuted ?? 1,
        maxRetries: data.maxRetries ?? 0,
        status: 'in_progress',
      },
    });
    for (let i = 0; i < rows.length; i += 1000) {
      await tx.edgeDeploymentDevice.createMany({ data: rows.slice(i, i + 1000) });
    }
    await settle(tx, id, effects);
    return tx.edgeDeployment.findUniqueOrThrow({ where: { id } });
  }, TX_OPTIONS);
  await publishEffects(deps, effects);
  return deployment;
}

async function countStates(tx: Prisma.TransactionClient, deploymentId: string, phase?: number) {
  const groups = await tx.edgeDeploymentDevice.groupBy({
    by: ['state'],
    where: { deploymentId, ...(phase === undefined ? {} : { phase }) },
    _count: { _all: true },
  });
  const counts: Record<string, number> = {};
  for (const g of groups) counts[g.state] = g._count._all;
  return counts;
}

function progressEvent(
  deployment: EdgeDeployment,
  type: DeploymentProgressMessage['type'],
  counts: Record<string, number>,
  device?: { id: string; state: string; attempt: number },
): DeploymentProgressMessage {
  return {
    type,
    deployment_id: deployment.id,
    tenant_id: deployment.tenantId,
    device_id: device?.id ?? null,
    state: device?.state ?? null,
    attempt: device?.attempt ?? null,
    deployment_status: deployment.status,
    current_phase: deployment.currentPhase,
    counts,
    at: new Date().toISOString(),
  };
}

/**
 * Under the deployment's row lock: abort past the failure threshold (AWS IoT's rule: once at
 * least `minExecuted` devices finished, failures / finished > threshold), otherwise release the
 * next phase when the current one is done, or complete.
 */
async function settle(tx: Prisma.TransactionClient, deploymentId: string, effects: Effects): Promise<void> {
  await tx.$queryRaw`SELECT id FROM "edge"."deployments" WHERE id = ${deploymentId} FOR UPDATE`;
  let deployment = await tx.edgeDeployment.findUniqueOrThrow({ where: { id: deploymentId } });
  if (deployment.status !== 'in_progress') return;
  const phases = deployment.phases as number[];
  for (;;) {
    const counts = await countStates(tx, deploymentId);
    const failures = (counts.failed ?? 0) + (counts.rolled_back ?? 0);
    const executed = failures + (counts.committed ?? 0);
    if (executed >= deployment.minExecuted && (failures * 100) / executed > deployment.failureThresholdPercent) {
      const canceled = await tx.edgeDeploymentDevice.updateMany({
        where: { deploymentId, state: { in: ['pending', 'queued'] } },
        data: { state: 'canceled', updatedAt: new Date(), finishedAt: new Date() },
      });
      deployment = await tx.edgeDeployment.update({
        where: { id: deploymentId },
        data: {
          status: 'aborted',
          finishedAt: new Date(),
          abortReason: `${failures} of ${executed} finished devices failed (${((failures * 100) / executed).toFixed(1)}% > ${deployment.failureThresholdPercent}%); ${canceled.count} not started were canceled`,
        },
      });
      effects.events.push(progressEvent(deployment, 'aborted', await countStates(tx, deploymentId)));
      return;
    }
    const current = deployment.currentPhase;
    if (current >= 0) {
      const phaseCounts = await countStates(tx, deploymentId, current);
      const open = Object.entries(phaseCounts).some(([state, n]) => n > 0 && !TERMINAL.has(state));
      if (open) return;
    }
    if (current + 1 >= phases.length) {
      deployment = await tx.edgeDeployment.update({
        where: { id: deploymentId },
        data: { status: 'completed', finishedAt: new Date() },
      });
      effects.events.push(progressEvent(deployment, 'completed', counts));
      return;
    }
    const released = await tx.edgeDeploymentDevice.findMany({
      where: { deploymentId, phase: current + 1, state: 'pending' },
      select: { deviceId: true },
    });
    await tx.edgeDeploymentDevice.updateMany({
      where: { deploymentId, phase: current + 1, state: 'pending' },
      data: { state: 'queued', releasedAt: new Date(), updatedAt: new Date() },
    });
    for (const r of released) effects.notify.add(r.deviceId);
    deployment = await tx.edgeDeployment.update({ where: { id: deploymentId }, data: { currentPhase: current + 1 } });
    effects.events.push(progressEvent(deployment, 'phase_started', await countStates(tx, deploymentId)));
    // A phase whose devices were all skipped is done at once: loop to the next.
  }
}

async function publishEffects(deps: SubgraphDeps, effects: Effects): Promise<void> {
  const { pubsub } = deps.kv;
  await Promise.all([
    ...[...effects.notify].map((id) => pubsub.publish(DEVICE_WORK_CHANNEL, JSON.stringify({ device_id: id }))),
    ...effects.events.map((e) => pubsub.publish(DEPLOYMENT_PROGRESS_CHANNEL, JSON.stringify(e))),
    // The same changes as outbound webhooks (edge.deployment.progress / completed / aborted).
    emitProgressWebhooks(deps, effects.events),
  ]);
}

const reportInput = z.object({
  deploymentId: z.string().min(1).max(64),
  state: z.enum(REPORTABLE_STATES),
  message: z.string().max(1000).nullish(),
});

/**
 * A device reporting where it is with a deployment. States only move forward
 * (downloading → installing → rebooting → committed | failed | rolled_back); repeating the last
 * state is accepted (a report resent after a reconnect). A failure with retries left queues the
 * device again; its last failure counts towards the abort threshold.
 */
export async function reportDeploymentState({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof reportInput>;
}): Promise<EdgeDeploymentDevice & { deviceKey: string }> {
  const device = await requireDevice(deps, principal);
  const data = parseInput(reportInput, input);
  const effects: Effects = { notify: new Set(), events: [] };
  const result = await deps.db.prisma.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT id FROM "edge"."deployments" WHERE id = ${data.deploymentId} FOR UPDATE`;
    const deployment = await tx.edgeDeployment.findUnique({ where: { id: data.deploymentId } });
    const execution = deployment
      ? await tx.edgeDeploymentDevice.findUnique({
          where: { deploymentId_deviceId: { deploymentId: data.deploymentId, deviceId: device.id } },
        })
      : null;
    if (!deployment || deployment.tenantId !== device.tenantId || !execution) {
      throw new AppError('NOT_FOUND', 'This device has no part in that deployment', {
        deployment_id: data.deploymentId,
      });
    }
    const from = execution.state as DeviceState;
    if (from === data.state) return execution;
    if (TERMINAL.has(from) || from === 'pending') {
      throw new AppError('CONFLICT', `The device's part is ${from}; it cannot become ${data.state}`, {
        state: from,
      });
    }
    const fromRank = PROGRESS_RANK[from] ?? 0;
    const toRank = PROGRESS_RANK[data.state];
    if (toRank !== undefined && toRank < fromRank) {
      throw new AppError('CONFLICT', `A device's state moves forward only (${from} → ${data.state})`, { state: from });
    }
    const now = new Date();
    const failed = data.state === 'failed' || data.state === 'rolled_back';
    const retry = failed && execution.attempts < deployment.maxRetries && deployment.status === 'in_progress';
    const updated = await tx.edgeDeploymentDevice.update({
      where: { deploymentId_deviceId: { deploymentId: data.deploymentId, deviceId: device.id } },
      data: retry
        ? {
            state: 'queued',
            attempts: { increment: 1 },
            message: data.message ?? `retry after ${data.state}`,
            updatedAt: now,
          }
        : {
            state: data.state,
            message: data.message ?? null,
            updatedAt: now,
            ...(TERMINAL.has(data.state) ? { finishedAt: now } : {}),
          },
    });
    if (data.state === 'committed') {
      await tx.device.update({
        where: { id: device.id },
        data:
          deployment.kind === 'firmware'
            ? { firmwareVersion: deployment.version }
            : {
                applications: {
                  ...((device.applications ?? {}) as Record<string, unknown>),
                  [deployment.name]: deployment.version,
                } as Prisma.InputJsonValue,
              },
      });
    }
    if (retry) effects.notify.add(device.id);
    effects.events.push(
      progressEvent(deployment, 'device_state', await countStates(tx, deployment.id), {
        id: device.deviceKey,
        state: retry ? `${data.state}:retrying` : data.state,
        attempt: execution.attempts + 1,
      }),
    );
    if (TERMINAL.has(updated.state)) await settle(tx, deployment.id, effects);
    return updated;
  }, TX_OPTIONS);
  await publishEffects(deps, effects);
  return { ...result, deviceKey: device.deviceKey };
}

export interface DeviceAssignment {
  deploymentId: string;
  kind: string;
  name: string;
  version: string;
  state: string;
  attempt: number;
  rollbackOnFailure: boolean;
  /** The signed manifest exactly as stored, base64. */
  manifest: string;
  manifestSha256: string;
  manifestSignature: string;
  artifact: { sha256: string; size: number; signature: string; contentBase64: string } | null;
}

/** What a connected device should be working on now, oldest deployment first. */
export async function listDeviceAssignments({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<DeviceAssignment[]> {
  const device = await requireDevice(deps, principal);
  const executions = await deps.db.prisma.edgeDeploymentDevice.findMany({
    where: { deviceId: device.id, state: { in: ACTIVE_STATES } },
    orderBy: { releasedAt: 'asc' },
    take: 5,
  });
  const out: DeviceAssignment[] = [];
  for (const execution of executions) {
    const deployment = await deps.db.prisma.edgeDeployment.findUniqueOrThrow({ where: { id: execution.deploymentId } });
    const manifest = Buffer.from(await text(await deps.blobs.get(deployment.manifestKey)));
    let artifact: DeviceAssignment['artifact'] = null;
    if (deployment.artifactId) {
      const row = await deps.db.prisma.edgeArtifact.findUniqueOrThrow({ where: { id: deployment.artifactId } });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of await deps.blobs.get(row.blobKey)) {
        size += (chunk as Buffer).length;
        if (size > MAX_ARTIFACT_BYTES) throw new AppError('INTERNAL_ERROR', 'Stored artifact is over the limit');
        chunks.push(chunk as Buffer);
      }
      artifact = {
        sha256: row.sha256,
        size: row.size,
        signature: row.signature,
        contentBase64: Buffer.concat(chunks).toString('base64'),
      };
    }
    out.push({
      deploymentId: deployment.id,
      kind: deployment.kind,
      name: deployment.name,
      version: deployment.version,
      state: execution.state,
      attempt: execution.attempts + 1,
      rollbackOnFailure: deployment.rollbackOnFailure,
      manifest: manifest.toString('base64'),
      manifestSha256: deployment.manifestSha256,
      manifestSignature: deployment.manifestSignature,
      artifact,
    });
  }
  return out;
}

export interface DeploymentView extends EdgeDeployment {
  counts: Record<string, number>;
}

async function withCounts(deps: SubgraphDeps, deployment: EdgeDeployment): Promise<DeploymentView> {
  return { ...deployment, counts: await countStates(deps.db.prisma, deployment.id) };
}

export async function getDeployment({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
}): Promise<DeploymentView> {
  requireScope(principal, 'read:edge');
  const deployment = await deps.db.prisma.edgeDeployment.findUnique({ where: { id } });
  if (!deployment) throw new AppError('NOT_FOUND', 'No such deployment', { deployment_id: id });
  tenantScopeFor(principal, deployment.tenantId);
  return withCounts(deps, deployment);
}

export async function deploymentView(deps: SubgraphDeps, deployment: EdgeDeployment): Promise<DeploymentView> {
  return withCounts(deps, deployment);
}

export async function listDeploymentDevices(
  deps: SubgraphDeps,
  deploymentId: string,
  { first, state }: { first: number; state?: string | null },
): Promise<Array<EdgeDeploymentDevice & { deviceKey: string }>> {
  const rows = await deps.db.prisma.edgeDeploymentDevice.findMany({
    where: { deploymentId, ...(state ? { state } : {}) },
    orderBy: [{ phase: 'asc' }, { deviceId: 'asc' }],
    take: Math.min(Math.max(first, 1), 1000),
  });
  const devices = await deps.db.prisma.device.findMany({
    where: { id: { in: rows.map((r) => r.deviceId) } },
    select: { id: true, deviceKey: true },
  });
  const keys = new Map(devices.map((d) => [d.id, d.deviceKey]));
  return rows.map((r) => ({ ...r, deviceKey: keys.get(r.deviceId) ?? r.deviceId }));
}
