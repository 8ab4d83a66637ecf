import { builder } from '../builder.js';
import {
  checkMeshServiceNow,
  deregisterMeshService,
  getMeshService,
  listMeshServices,
  registerMeshService,
  type MeshPolicies,
  type MeshService,
} from '../services/mesh/registry.js';

const MeshPoliciesRef = builder.objectRef<MeshPolicies>('MeshPolicies').implement({
  description: 'Recorded for sidecars and gateways to enforce; the platform does not proxy service traffic.',
  fields: (t) => ({
    requireMtls: t.exposeBoolean('requireMtls'),
    allowedCallers: t.exposeStringList('allowedCallers', { description: 'Service names; empty: any registered service.' }),
    rateLimit: t.exposeInt('rateLimit', { nullable: true, description: 'Requests per minute; null: none.' }),
    retries: t.exposeInt('retries'),
    timeoutMs: t.exposeInt('timeoutMs'),
  }),
});

const MeshServiceRef = builder.objectRef<MeshService>('MeshService').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    endpoints: t.exposeStringList('endpoints'),
    healthCheckPath: t.exposeString('healthCheckPath', { nullable: true }),
    healthCheckIntervalSeconds: t.exposeInt('healthCheckInterval'),
    policies: t.field({ type: MeshPoliciesRef, resolve: (s) => s.policies }),
    status: t.exposeString('status', { description: 'unknown (not checked yet), up, degraded (some endpoints) or down' }),
    lastCheckedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastCheckedAt }),
    lastLatencyMs: t.exposeInt('lastLatencyMs', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    consecutiveFailures: t.exposeInt('consecutiveFailures'),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (s) => s.updatedAt }),
  }),
});

const MeshHealthCheckInput = builder.inputType('MeshHealthCheckInput', {
  fields: (t) => ({
    path: t.string({ description: 'Default /health' }),
    intervalSeconds: t.int({ description: 'Default 30' }),
  }),
});

const MeshPoliciesInput = builder.inputType('MeshPoliciesInput', {
  fields: (t) => ({
    requireMtls: t.boolean({ description: 'Default true' }),
    allowedCallers: t.stringList(),
    rateLimit: t.int(),
    retries: t.int({ description: 'Default 2; also how often a health check retries' }),
    timeoutMs: t.int({ description: 'Default 5000; also the health check timeout' }),
  }),
});

const RegisterMeshServiceInput = builder.inputType('RegisterMeshServiceInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    endpoints: t.stringList({ required: true }),
    healthCheck: t.field({ type: MeshHealthCheckInput }),
    policies: t.field({ type: MeshPoliciesInput }),
  }),
});

builder.queryFields((t) => ({
  meshServices: t.field({
    type: [MeshServiceRef],
    description: 'The service registry. Requires read:system.',
    args: { status: t.arg.string() },
    resolve: (_root, args, ctx) => listMeshServices({ deps: ctx.deps, principal: ctx.principal, status: args.status }),
  }),
  meshService: t.field({
    type: MeshServiceRef,
    nullable: true,
    description: 'Requires read:system.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => getMeshService({ deps: ctx.deps, principal: ctx.principal, name: args.name }),
  }),
}));

builder.mutationFields((t) => ({
  registerMeshService: t.field({
    type: MeshServiceRef,
    description: 'Registers or re-registers (same name) a service. Requires admin:services (platform operators).',
    args: { input: t.arg({ type: RegisterMeshServiceInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      registerMeshService({ deps: ctx.deps, principal: ctx.principal, input: input as never }),
  }),
  deregisterMeshService: t.field({
    type: 'Boolean',
    description: 'Requires admin:services.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => deregisterMeshService({ deps: ctx.deps, principal: ctx.principal, name: args.name }),
  }),
  checkMeshService: t.field({
    type: MeshServiceRef,
    description: 'Runs the health check now. Requires admin:services.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => checkMeshServiceNow({ deps: ctx.deps, principal: ctx.principal, name: args.name }),
  }),
}));
