import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { publishArtifact, type EdgeArtifact } from '../services/artifacts.js';
import {
  createDeployment,
  deploymentView,
  getDeployment,
  listDeploymentDevices,
  listDeviceAssignments,
  REPORTABLE_STATES,
  reportDeploymentState,
  type DeploymentView,
  type DeviceAssignment,
  type EdgeDeploymentDevice,
} from '../services/deployments.js';
import { findTenantDevice } from '../services/devices.js';
import { tenantSigner } from '../services/signing.js';
import { tenantScopeFor, requireScope } from '../../../lib/principal.js';

const optional = (v: unknown) => (v === null || v === undefined ? null : String(v));

const ArtifactRef = builder.objectRef<EdgeArtifact>('EdgeArtifact').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    kind: t.exposeString('kind'),
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    sha256: t.exposeString('sha256'),
    size: t.exposeInt('size'),
    signature: t.exposeString('signature', { description: 'Ed25519 over the bytes, base64' }),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
  }),
});

export const DeploymentCountsRef = builder.objectRef<Record<string, number>>('EdgeDeploymentCounts').implement({
  fields: (t) => {
    const count = (state: string) => t.int({ resolve: (c) => c[state] ?? 0 });
    return {
      pending: count('pending'),
      queued: count('queued'),
      downloading: count('downloading'),
      installing: count('installing'),
      rebooting: count('rebooting'),
      committed: count('committed'),
      failed: count('failed'),
      rolledBack: count('rolled_back'),
      skipped: count('skipped'),
      canceled: count('canceled'),
      total: t.int({ resolve: (c) => Object.values(c).reduce((a, b) => a + b, 0) }),
    };
  },
});

const DeploymentDeviceRef = builder
  .objectRef<EdgeDeploymentDevice & { deviceKey: string }>('EdgeDeploymentDevice')
  .implement({
    fields: (t) => ({
      deviceId: t.exposeString('deviceKey'),
      phase: t.exposeInt('phase'),
      state: t.exposeString('state'),
      attempts: t.int({ description: 'Attempts made, the current one included', resolve: (r) => r.attempts + 1 }),
      message: t.exposeString('message', { nullable: true }),
      updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
    }),
  });

const DeploymentRef = builder.objectRef<DeploymentView>('EdgeDeployment').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    kind: t.exposeString('kind'),
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    configuration: t.field({ type: 'JSON', resolve: (d) => d.configuration }),
    status: t.exposeString('status', { description: 'in_progress | completed | aborted' }),
    abortReason: t.exposeString('abortReason', { nullable: true }),
    force: t.exposeBoolean('force'),
    rollbackOnFailure: t.exposeBoolean('rollbackOnFailure'),
    phases: t.field({ type: ['Int'], resolve: (d) => d.phases as number[] }),
    currentPhase: t.exposeInt('currentPhase'),
    failureThresholdPercent: t.exposeFloat('failureThresholdPercent'),
    minExecuted: t.exposeInt('minExecuted'),
    maxRetries: t.exposeInt('maxRetries'),
    manifestSha256: t.exposeString('manifestSha256'),
    manifestSignature: t.exposeString('manifestSignature'),
    artifactId: t.exposeString('artifactId', { nullable: true }),
    counts: t.field({ type: DeploymentCountsRef, resolve: (d) => d.counts }),
    devices: t.field({
      type: [DeploymentDeviceRef],
      args: { first: t.arg.int(), state: t.arg.string() },
      resolve: (d, args, ctx) => listDeploymentDevices(ctx.deps, d.id, { first: args.first ?? 100, state: args.state }),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.finishedAt }),
  }),
});

const AssignmentArtifactRef = builder
  .objectRef<NonNullable<DeviceAssignment['artifact']>>('EdgeAssignmentArtifact')
  .implement({
    fields: (t) => ({
      sha256: t.exposeString('sha256'),
      size: t.exposeInt('size'),
      signature: t.exposeString('signature'),
      contentBase64: t.exposeString('contentBase64'),
    }),
  });

const AssignmentRef = builder.objectRef<DeviceAssignment>('EdgeDeviceAssignment').implement({
  fields: (t) => ({
    deploymentId: t.exposeID('deploymentId'),
    kind: t.exposeString('kind'),
    name: t.exposeString('name'),
    version: t.exposeString('version'),
    state: t.exposeString('state'),
    attempt: t.exposeInt('attempt'),
    rollbackOnFailure: t.exposeBoolean('rollbackOnFailure'),
    manifest: t.exposeString('manifest', { description: 'The signed manifest bytes, base64' }),
    manifestSha256: t.exposeString('manifestSha256'),
    manifestSignature: t.exposeString('manifestSignature'),
    artifact: t.field({ type: AssignmentArtifactRef, nullable: true, resolve: (a) => a.artifact }),
  }),
});

const SigningKeyRef = builder
  .objectRef<{ tenantId: string; publicKey: string }>('EdgeSigningKey')
  .implement({
    fields: (t) => ({
      tenantId: t.exposeID('tenantId'),
      algorithm: t.string({ resolve: () => 'Ed25519' }),
      publicKey: t.exposeString('publicKey', { description: 'SPKI DER, base64: devices pin it' }),
    }),
  });

const CreateDeploymentInput = builder.inputType('CreateEdgeDeploymentInput', {
  fields: (t) => ({
    tenantId: t.id(),
    kind: t.string({ required: true, description: 'firmware | application' }),
    name: t.string({ description: 'Application name; firmware deployments use "firmware"' }),
    version: t.string({ required: true }),
    configuration: t.field({ type: 'JSON' }),
    deviceIds: t.stringList(),
    groups: t.stringList(),
    force: t.boolean(),
    rollbackOnFailure: t.boolean(),
    phases: t.intList({ description: 'Batch sizes in percent per phase; the last takes the rest' }),
    failureThresholdPercent: t.float(),
    minExecuted: t.int(),
    maxRetries: t.int(),
  }),
});

const PublishArtifactInput = builder.inputType('PublishEdgeArtifactInput', {
  fields: (t) => ({
    tenantId: t.id(),
    kind: t.string({ required: true }),
    name: t.string(),
    version: t.string({ required: true }),
    contentBase64: t.string({ required: true }),
  }),
});

const DeviceState = builder.enumType('EdgeReportedState', { values: [...REPORTABLE_STATES] });

builder.queryFields((t) => ({
  edgeDeployment: t.field({
    type: DeploymentRef,
    description: 'Requires read:edge. Progress: status, currentPhase, counts, devices.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      getDeployment({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: String(id) }),
  }),
  edgeSigningKey: t.field({
    type: SigningKeyRef,
    description: 'Requires read:edge. The public key devices verify manifests and artifacts with.',
    args: { tenantId: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'read:edge');
      const tenantId = tenantScopeFor(principal, optional(args.tenantId));
      return { tenantId, publicKey: (await tenantSigner(ctx.deps, tenantId)).publicKey };
    },
  }),
  deviceAssignments: t.field({
    type: [AssignmentRef],
    description: 'The connected device itself (through the gateway): its released work.',
    resolve: (_root, _args, ctx) => listDeviceAssignments({ deps: ctx.deps, principal: ctx.principal }),
  }),
}));

builder.mutationFields((t) => ({
  publishEdgeArtifact: t.field({
    type: ArtifactRef,
    description: 'Requires write:edge. Stores and signs a payload (at most 512 KiB).',
    args: { input: t.arg({ type: PublishArtifactInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      publishArtifact({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { ...input, tenantId: optional(input.tenantId), kind: input.kind as never },
      }),
  }),
  createEdgeDeployment: t.field({
    type: DeploymentRef,
    description: 'Requires write:edge. A phased rollout to devices and groups.',
    args: { input: t.arg({ type: CreateDeploymentInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      deploymentView(
        ctx.deps,
        await createDeployment({
          deps: ctx.deps,
          principal: requirePrincipal(ctx.principal),
          input: {
            ...input,
            tenantId: optional(input.tenantId),
            kind: input.kind as never,
            configuration: input.configuration as never,
          },
        }),
      ),
  }),
  updateDeviceFirmware: t.field({
    type: DeploymentRef,
    description: 'Requires write:edge. OTA update of one device: a one-device firmware deployment.',
    args: {
      tenantId: t.arg.id(),
      deviceId: t.arg.string({ required: true }),
      firmwareVersion: t.arg.string({ required: true }),
      force: t.arg.boolean(),
      rollbackOnFailure: t.arg.boolean(),
      maxRetries: t.arg.int(),
    },
    resolve: async (_root, args, ctx) => {
      const principal = requireScope(ctx.principal, 'write:edge');
      const tenantId = tenantScopeFor(principal, optional(args.tenantId));
      const device = await findTenantDevice(ctx.deps, tenantId, args.deviceId);
      return deploymentView(
        ctx.deps,
        await createDeployment({
          deps: ctx.deps,
          principal,
          input: {
            tenantId,
            kind: 'firmware',
            version: args.firmwareVersion,
            deviceIds: [device.deviceKey],
            force: args.force,
            rollbackOnFailure: args.rollbackOnFailure,
            maxRetries: args.maxRetries,
          },
        }),
      );
    },
  }),
  reportDeploymentState: t.field({
    type: DeploymentDeviceRef,
    description: 'The connected device itself (through the gateway): where it is with a deployment.',
    args: {
      deploymentId: t.arg.id({ required: true }),
      state: t.arg({ type: DeviceState, required: true }),
      message: t.arg.string(),
    },
    resolve: (_root, args, ctx) =>
      reportDeploymentState({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { deploymentId: String(args.deploymentId), state: args.state, message: args.message },
      }),
  }),
}));
