import { z } from 'zod';
import { DEVICE_SOCKET_PATH } from '../../../subgraphs/edge/contract.js';
import { graphql, type ResultOf } from '../graphql.js';
import { defineRoute, type RestRoute } from '../route.js';
import { isoTimestamp } from '../schemas.js';

// platform-forge "Edge Deployment Module". The document shows request bodies only; answers use the
// document's snake_case. Fields beyond the documented ones are optional and named in the schemas.

const tenantId = z.string().min(1).max(100).optional().describe('Operators only; others act on their own tenant');

const register = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/edge/devices/register',
  summary: 'Register an edge device; its token is shown once',
  status: 201,
  input: {
    body: z.object({
      device_id: z.string().min(1).max(128),
      capabilities: z.array(z.string().max(64)).max(50).optional(),
      location: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
      name: z.string().max(200).optional(),
      kind: z.string().max(40).optional(),
      groups: z.array(z.string().max(64)).max(20).optional(),
      tags: z.record(z.string(), z.string()).optional(),
      firmware_version: z.string().max(64).optional(),
      tenant_id: tenantId,
    }),
  },
  operation: graphql(`
    mutation ForgeRegisterDevice($input: RegisterDeviceInput!) {
      registerDevice(input: $input) {
        token
        device {
          id
          tenantId
          deviceId
          name
          kind
          status
          groups
          tags
          capabilities
          latitude
          longitude
          firmwareVersion
          createdAt
        }
      }
    }
  `),
  variables: ({ body }) => ({
    input: {
      tenantId: body.tenant_id,
      deviceId: body.device_id,
      name: body.name,
      kind: body.kind,
      capabilities: body.capabilities,
      groups: body.groups,
      tags: body.tags,
      location: body.location,
      firmwareVersion: body.firmware_version,
    },
  }),
  respond: ({ registerDevice: r }) => ({
    id: r.device.id,
    device_id: r.device.deviceId,
    tenant_id: r.device.tenantId,
    name: r.device.name,
    kind: r.device.kind,
    status: r.device.status,
    capabilities: r.device.capabilities,
    location:
      r.device.latitude === null || r.device.longitude === null
        ? null
        : { latitude: r.device.latitude, longitude: r.device.longitude },
    groups: r.device.groups,
    tags: r.device.tags,
    firmware_version: r.device.firmwareVersion,
    device_token: r.token,
    websocket_path: DEVICE_SOCKET_PATH,
    created_at: r.device.createdAt,
  }),
  response: z.object({
    id: z.string(),
    device_id: z.string(),
    tenant_id: z.string(),
    name: z.string(),
    kind: z.string(),
    status: z.string(),
    capabilities: z.array(z.string()),
    location: z.object({ latitude: z.number(), longitude: z.number() }).nullable(),
    groups: z.array(z.string()),
    tags: z.record(z.string(), z.string()),
    firmware_version: z.string().nullable(),
    device_token: z.string().describe('Shown once: the device connects with it (Authorization: Bearer)'),
    websocket_path: z.string().describe('Where the device connects over WebSocket'),
    created_at: isoTimestamp,
  }),
});

const DeploymentFields = graphql(`
  fragment DeploymentFields on EdgeDeployment {
    id
    tenantId
    kind
    name
    version
    status
    abortReason
    force
    rollbackOnFailure
    phases
    currentPhase
    failureThresholdPercent
    minExecuted
    maxRetries
    manifestSha256
    manifestSignature
    artifactId
    createdAt
    counts {
      pending
      queued
      downloading
      installing
      rebooting
      committed
      failed
      rolledBack
      skipped
      canceled
      total
    }
  }
`);

function toDeployment(d: ResultOf<typeof DeploymentFields>) {
  const c = d.counts;
  return {
    deployment_id: d.id,
    tenant_id: d.tenantId,
    kind: d.kind,
    name: d.name,
    version: d.version,
    status: d.status,
    abort_reason: d.abortReason,
    force: d.force,
    rollback_on_failure: d.rollbackOnFailure,
    phases: d.phases,
    current_phase: d.currentPhase,
    abort_config: { failure_threshold_percent: d.failureThresholdPercent, min_executed: d.minExecuted },
    max_retries: d.maxRetries,
    manifest: { sha256: d.manifestSha256, signature: d.manifestSignature, algorithm: 'Ed25519' as const },
    artifact_id: d.artifactId,
    devices: {
      total: c.total,
      pending: c.pending,
      queued: c.queued,
      downloading: c.downloading,
      installing: c.installing,
      rebooting: c.rebooting,
      committed: c.committed,
      failed: c.failed,
      rolled_back: c.rolledBack,
      skipped: c.skipped,
      canceled: c.canceled,
    },
    created_at: d.createdAt,
  };
}

const deploymentResponse = z.object({
  deployment_id: z.string(),
  tenant_id: z.string(),
  kind: z.string().describe('firmware | application'),
  name: z.string(),
  version: z.string(),
  status: z.string().describe('in_progress | completed | aborted'),
  abort_reason: z.string().nullable(),
  force: z.boolean(),
  rollback_on_failure: z.boolean(),
  phases: z.array(z.number().int()),
  current_phase: z.number().int(),
  abort_config: z.object({ failure_threshold_percent: z.number(), min_executed: z.number().int() }),
  max_retries: z.number().int(),
  manifest: z.object({ sha256: z.string(), signature: z.string(), algorithm: z.literal('Ed25519') }),
  artifact_id: z.string().nullable(),
  devices: z
    .object(
      Object.fromEntries(
        [
          'total',
          'pending',
          'queued',
          'downloading',
          'installing',
          'rebooting',
          'committed',
          'failed',
          'rolled_back',
          'skipped',
          'canceled',
        ].map((k) => [k, z.number().int()]),
      ) as Record<
        | 'total'
        | 'pending'
        | 'queued'
        | 'downloading'
        | 'installing'
        | 'rebooting'
        | 'committed'
        | 'failed'
        | 'rolled_back'
        | 'skipped'
        | 'canceled',
        z.ZodNumber
      >,
    )
    .describe('Devices per state, and total'),
  created_at: isoTimestamp,
});

const rolloutFields = {
  phases: z
    .array(z.number().int())
    .max(10)
    .optional()
    .describe('Batch sizes in percent per phase (Mender-style); the last phase takes the rest'),
  abort_config: z
    .object({
      failure_threshold_percent: z.number().min(0).max(100),
      min_executed: z.number().int().min(1).optional(),
    })
    .optional()
    .describe('Abort when failed / finished exceeds the threshold, once min_executed devices finished'),
  max_retries: z.number().int().min(0).max(10).optional().describe('Per-device retries after a failure'),
  rollback_on_failure: z.boolean().optional(),
  tenant_id: tenantId,
};

const deploy = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/edge/deployments',
  summary: 'Deploy an application version to devices and groups, in phases',
  status: 201,
  input: {
    body: z.object({
      application: z.string().min(1).max(64),
      version: z.string().min(1).max(64),
      targets: z.array(z.string().min(1).max(128)).max(10_000).optional(),
      target_groups: z.array(z.string().min(1).max(64)).max(50).optional(),
      configuration: z.record(z.string(), z.unknown()).optional(),
      force: z.boolean().optional(),
      ...rolloutFields,
    }),
  },
  operation: graphql(
    `
      mutation ForgeDeploy($input: CreateEdgeDeploymentInput!) {
        createEdgeDeployment(input: $input) {
          ...DeploymentFields
        }
      }
    `,
    [DeploymentFields],
  ),
  variables: ({ body }) => ({
    input: {
      tenantId: body.tenant_id,
      kind: 'application',
      name: body.application,
      version: body.version,
      configuration: body.configuration,
      deviceIds: body.targets,
      groups: body.target_groups,
      force: body.force,
      rollbackOnFailure: body.rollback_on_failure,
      phases: body.phases,
      failureThresholdPercent: body.abort_config?.failure_threshold_percent,
      minExecuted: body.abort_config?.min_executed,
      maxRetries: body.max_retries,
    },
  }),
  respond: ({ createEdgeDeployment: d }) => ({
    ...toDeployment(d),
    application: d.name,
  }),
  response: deploymentResponse.extend({ application: z.string() }),
});

const update = defineRoute({
  dialect: 'platform-forge',
  method: 'POST',
  path: '/api/v1/edge/devices/{device_id}/update',
  summary: "OTA update of one device's firmware to a published version",
  status: 202,
  input: {
    params: z.object({ device_id: z.string().min(1).max(128) }),
    body: z.object({
      firmware_version: z.string().min(1).max(64),
      force_update: z.boolean().optional(),
      rollback_on_failure: z.boolean().optional(),
      max_retries: rolloutFields.max_retries,
      tenant_id: tenantId,
    }),
  },
  operation: graphql(
    `
      mutation ForgeDeviceUpdate(
        $tenantId: ID
        $deviceId: String!
        $firmwareVersion: String!
        $force: Boolean
        $rollbackOnFailure: Boolean
        $maxRetries: Int
      ) {
        updateDeviceFirmware(
          tenantId: $tenantId
          deviceId: $deviceId
          firmwareVersion: $firmwareVersion
          force: $force
          rollbackOnFailure: $rollbackOnFailure
          maxRetries: $maxRetries
        ) {
          ...DeploymentFields
        }
      }
    `,
    [DeploymentFields],
  ),
  variables: ({ params, body }) => ({
    tenantId: body.tenant_id,
    deviceId: params.device_id,
    firmwareVersion: body.firmware_version,
    force: body.force_update,
    rollbackOnFailure: body.rollback_on_failure,
    maxRetries: body.max_retries,
  }),
  respond: ({ updateDeviceFirmware: d }, { params }) => ({
    ...toDeployment(d),
    device_id: params.device_id,
    firmware_version: d.version,
    force_update: d.force,
  }),
  response: deploymentResponse.extend({
    device_id: z.string(),
    firmware_version: z.string(),
    force_update: z.boolean(),
  }),
});

export const platformForgeEdgeRoutes: RestRoute[] = [register, deploy, update];
