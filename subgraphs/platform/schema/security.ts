import { requireScope } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import {
  createSecurityScan,
  estimateScanMs,
  getSecurityScan,
  getSecurityStatus,
  listSecurityScans,
  type SecurityScan,
  type SecurityStatusRoot,
} from '../services/security/scans.js';
import { PlatformPaginationRef } from './ops-pagination.js';

const SecurityScanRef = builder.objectRef<SecurityScan>('SecurityScan').implement({
  description: 'A security scan run as a task, with its stored findings. admin:security.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.exposeString('status', { description: 'pending, running, completed or failed' }),
    source: t.exposeString('source'),
    checks: t.exposeStringList('scanTypes', {
      description: 'dependencies, secrets, configuration, permissions, containers',
    }),
    request: t.field({ type: 'JSON', resolve: (s) => s.request }),
    findings: t.field({
      type: 'JSON',
      nullable: true,
      description: '[{ check, severity, title, detail, location?, reference? }], worst first; secrets masked',
      resolve: (s) => s.findings,
    }),
    summary: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Counts by severity, the advisory source, what was skipped or not scanned',
      resolve: (s) => s.summary,
    }),
    taskId: t.exposeString('jobId', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.completedAt }),
    estimatedDurationMs: t.float({
      nullable: true,
      description: 'How long the last completed scan of the same checks took',
      resolve: (s, _args, ctx) => estimateScanMs(ctx.deps, s),
    }),
  }),
});

const SecurityScanPageRef = builder
  .objectRef<Awaited<ReturnType<typeof listSecurityScans>>>('SecurityScanPage')
  .implement({
    fields: (t) => ({
      scans: t.field({ type: [SecurityScanRef], resolve: (p) => p.scans }),
      pagination: t.field({ type: PlatformPaginationRef, resolve: (p) => p.pagination }),
    }),
  });

const SecurityStatusRef = builder.objectRef<SecurityStatusRoot>('SecurityStatus').implement({
  description: "Security status. The platform gives the last scan; identity adds its records' figures (field identity).",
  fields: (t) => ({
    id: t.exposeID('id'),
    lastScan: t.field({ type: SecurityScanRef, nullable: true, resolve: (s) => s.lastScan }),
  }),
});

builder.asEntity(SecurityStatusRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (_ref, ctx) => getSecurityStatus({ deps: ctx.deps, principal: ctx.principal }),
});

builder.queryFields((t) => ({
  securityStatus: t.field({
    type: SecurityStatusRef,
    description: 'Requires admin:security.',
    resolve: (_root, _args, ctx) => getSecurityStatus({ deps: ctx.deps, principal: ctx.principal }),
  }),
  securityScans: t.field({
    type: SecurityScanPageRef,
    description: 'Stored scans, newest first. Requires admin:security.',
    args: { page: t.arg.int(), limit: t.arg.int() },
    resolve: (_root, args, ctx) => listSecurityScans({ deps: ctx.deps, principal: ctx.principal, input: args }),
  }),
  securityScan: t.field({
    type: SecurityScanRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getSecurityScan({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
}));

builder.mutationField('startSecurityScan', (t) =>
  t.field({
    type: SecurityScanRef,
    description:
      'Queues a scan task. components/scanTypes: plugins|dependencies, configuration, secrets, permissions, containers (code: not scanned). Requires admin:security.',
    args: {
      source: t.arg.string({ required: true, description: 'nexus-core or platform-forge' }),
      type: t.arg.string(),
      components: t.arg.stringList(),
      targets: t.arg.stringList(),
      deepScan: t.arg.boolean(),
      severityThreshold: t.arg.string(),
    },
    resolve: (_root, args, ctx) => {
      requireScope(ctx.principal, 'admin:security');
      return createSecurityScan({
        deps: ctx.deps,
        principal: ctx.principal,
        input: args as Parameters<typeof createSecurityScan>[0]['input'],
      });
    },
  }),
);
