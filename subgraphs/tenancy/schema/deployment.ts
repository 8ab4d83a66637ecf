import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  createDeployment,
  deploymentProgress,
  deploymentTargets,
  getDeployment,
  listDeployments,
  tenantDeployments,
  type DeploymentWithBlueprint,
  type TenantDeployment,
} from '../services/blueprints/deployments.js';
import type { DeploymentTarget } from '../../../prisma/generated/client.js';

const DeploymentTargetRef = builder
  .objectRef<DeploymentTarget & { tenantSlug?: string }>('DeploymentTarget')
  .implement({
    description: "One tenant's outcome in a deployment.",
    fields: (t) => ({
      tenantId: t.exposeID('tenantId'),
      tenantSlug: t.string({ nullable: true, resolve: (x) => x.tenantSlug ?? null }),
      status: t.exposeString('status', { description: 'pending | completed | skipped (already at the version) | failed' }),
      error: t.exposeString('error', { nullable: true }),
      durationMs: t.exposeFloat('durationMs', { nullable: true }),
      startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (x) => x.startedAt }),
      completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (x) => x.completedAt }),
    }),
  });

const DeploymentRef = builder.objectRef<DeploymentWithBlueprint>('Deployment').implement({
  description: 'A rollout of one blueprint version to tenant databases, run as a job.',
  fields: (t) => ({
    id: t.exposeID('id'),
    blueprint: t.exposeString('blueprintName'),
    version: t.exposeString('version'),
    status: t.exposeString('status', { description: 'pending | running | completed | failed | stopped' }),
    deployAll: t.exposeBoolean('deployAll'),
    canaryTenantIds: t.exposeStringList('canaryTenantIds'),
    failureThreshold: t.exposeInt('failureThreshold', { nullable: true }),
    progress: t.int({ description: '0–100 over finished tenants', resolve: (d) => deploymentProgress(d) }),
    totalTenants: t.exposeInt('totalTenants'),
    completedTenants: t.exposeInt('completedTenants'),
    failedTenants: t.exposeInt('failedTenants'),
    skippedTenants: t.exposeInt('skippedTenants', { description: 'Already at the version' }),
    error: t.exposeString('error', { nullable: true }),
    jobId: t.exposeString('jobId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.startedAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.completedAt }),
    targets: t.field({
      type: [DeploymentTargetRef],
      resolve: (d, _args, ctx) => deploymentTargets(ctx.deps, d.id),
    }),
  }),
});

const TenantDeploymentRef = builder.objectRef<TenantDeployment>('TenantDeployment').implement({
  fields: (t) => ({
    deployment: t.field({ type: DeploymentRef, resolve: (x) => x.deployment }),
    target: t.field({ type: DeploymentTargetRef, resolve: (x) => x.target }),
  }),
});

const CreateDeploymentInput = builder.inputType('CreateDeploymentInput', {
  fields: (t) => ({
    blueprintName: t.string({ required: true }),
    version: t.string({
      description:
        "1.1, v1.1, v3 (= 3.0) or latest. A version that does not exist yet is published from the workspace's current schema; unset: the workspace's current schema (the latest version, or the next one when changes are pending).",
    }),
    deployAll: t.boolean({ description: 'Every tenant with a database from the blueprint' }),
    tenantIds: t.stringList({ description: 'Or these tenants (ids or tenant_ids)' }),
    canaryTenantIds: t.stringList({ description: 'Deployed first, one by one' }),
    failureThreshold: t.int({ description: 'Stop the rollout once this many tenants failed' }),
  }),
});

builder.queryFields((t) => ({
  deployments: t.field({
    type: [DeploymentRef],
    description: "Requires read:tenants. The caller's project's deployments, newest first.",
    args: { limit: t.arg.int({ defaultValue: 100 }) },
    resolve: (_root, args, ctx) =>
      listDeployments({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), limit: args.limit ?? 100 }),
  }),
  deployment: t.field({
    type: DeploymentRef,
    description: 'Requires read:tenants.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      getDeployment({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: String(args.id) }),
  }),
  tenantDeployments: t.field({
    type: [TenantDeploymentRef],
    description: "Requires read:tenants. A tenant's deployment history, newest first.",
    args: { tenantId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      tenantDeployments({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), tenantId: String(args.tenantId) }),
  }),
}));

builder.mutationFields((t) => ({
  createDeployment: t.field({
    type: DeploymentRef,
    description:
      'Requires write:tenants. Queues a job applying the version to each target tenant in its own transaction; idempotent per tenant.',
    args: { input: t.arg({ type: CreateDeploymentInput, required: true }) },
    resolve: (_root, args, ctx) =>
      createDeployment({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), input: args.input }),
  }),
}));
