import { builder } from '../builder.js';
import {
  DIAGNOSTIC_COMPONENTS,
  DIAGNOSTIC_TESTS,
  runDiagnostics,
  type DiagnosticRun,
  type DiagnosticTest,
} from '../services/services/diagnostics.js';
import {
  getService,
  listServices,
  restartService,
  type ServiceError,
  type ServiceInfo,
} from '../services/services/registry.js';

const ServiceErrorRef = builder.objectRef<ServiceError>('ServiceError').implement({
  fields: (t) => ({
    timestamp: t.exposeString('timestamp'),
    error: t.exposeString('error'),
    count: t.exposeInt('count'),
  }),
});

const ServiceInfoRef = builder.objectRef<ServiceInfo>('PlatformService').implement({
  description: 'A running part of the platform: a subgraph, the gateway, the job worker, the database or the cache.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type'),
    status: t.exposeString('status', { description: 'running, stopped or unknown' }),
    health: t.exposeString('health', { description: 'healthy, degraded, unhealthy or unknown' }),
    version: t.exposeString('version'),
    dependencies: t.exposeStringList('dependencies'),
    dependents: t.exposeStringList('dependents'),
    uptimeSeconds: t.exposeInt('uptimeSeconds', { nullable: true }),
    requestsHandled: t.exposeFloat('requestsHandled', { nullable: true }),
    errors: t.exposeFloat('errors', { nullable: true }),
    avgResponseTimeMs: t.exposeFloat('avgResponseTimeMs', { nullable: true }),
    errorRate: t.exposeFloat('errorRate', { nullable: true }),
    config: t.field({ type: 'JSON', resolve: (s) => s.config }),
    recentErrors: t.field({ type: [ServiceErrorRef], resolve: (s) => s.recentErrors }),
    restartable: t.exposeBoolean('restartable'),
  }),
});

const RestartResultRef = builder
  .objectRef<{ service: string; durationMs: number; detail: string }>('ServiceRestart')
  .implement({
    fields: (t) => ({
      service: t.exposeString('service'),
      durationMs: t.exposeInt('durationMs', { description: 'Measured: from the request to the service answering again' }),
      detail: t.exposeString('detail', { description: 'What the restart did to this service, in words' }),
    }),
  });

const DiagnosticTestRef = builder.objectRef<DiagnosticTest>('DiagnosticTest').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.exposeString('status', { description: 'pass or fail' }),
    durationMs: t.exposeFloat('durationMs'),
    details: t.field({ type: 'JSON', resolve: (d) => d.details }),
  }),
});

const DiagnosticResultRef = builder
  .objectRef<DiagnosticRun['results'][number]>('DiagnosticResult')
  .implement({
    fields: (t) => ({
      component: t.exposeString('component'),
      tests: t.field({ type: [DiagnosticTestRef], resolve: (r) => r.tests }),
    }),
  });

const DiagnosticRunRef = builder.objectRef<DiagnosticRun>('DiagnosticRun').implement({
  fields: (t) => ({
    testRunId: t.exposeString('testRunId'),
    status: t.exposeString('status'),
    durationMs: t.exposeFloat('durationMs'),
    results: t.field({ type: [DiagnosticResultRef], resolve: (r) => r.results }),
  }),
});

const DiagnosticComponentEnum = builder.enumType('DiagnosticComponent', { values: DIAGNOSTIC_COMPONENTS });
const DiagnosticTestEnum = builder.enumType('DiagnosticTestKind', { values: DIAGNOSTIC_TESTS });

builder.queryFields((t) => ({
  services: t.field({
    type: [ServiceInfoRef],
    description: 'Requires read:system.',
    resolve: (_root, _args, ctx) => listServices({ deps: ctx.deps, principal: ctx.principal }),
  }),
  service: t.field({
    type: ServiceInfoRef,
    description: 'Requires read:system.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => getService({ deps: ctx.deps, principal: ctx.principal, name: args.name }),
  }),
}));

builder.mutationFields((t) => ({
  restartService: t.field({
    type: RestartResultRef,
    description:
      'Restarts a service of this process in place: a subgraph (new server), the gateway (supergraph reloaded, connections recycled), the database (connection pool recycled), the cache (store connections reopened) or the job worker (running jobs finish first). Requires admin:services.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => restartService({ deps: ctx.deps, principal: ctx.principal, name: args.name }),
  }),
  runDiagnostics: t.field({
    type: DiagnosticRunRef,
    description: 'Connectivity, performance and stress probes. Requires admin:services.',
    args: {
      components: t.arg({ type: [DiagnosticComponentEnum] }),
      tests: t.arg({ type: [DiagnosticTestEnum] }),
    },
    resolve: (_root, args, ctx) => runDiagnostics({ deps: ctx.deps, principal: ctx.principal, input: args }),
  }),
}));
