import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { listThreats, updateThreatStatus, type Threat, type ThreatPage } from '../services/threats.js';
import { OffsetPaginationRef } from './audit.js';

export const ThreatRef = builder.objectRef<Threat>('Threat').implement({
  description: 'A detected sign-in attack and its automatic mitigation: a temporary block on the ip or account.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId', {
      nullable: true,
      description: 'Null for project-owner accounts and for an ip attacking several tenants',
    }),
    kind: t.exposeString('kind', {
      description: 'failed_login_burst_account, failed_login_burst_ip or credential_stuffing',
    }),
    severity: t.exposeString('severity', { description: 'critical, high, medium or low' }),
    status: t.exposeString('status', { description: 'active, mitigated or false_positive' }),
    ip: t.exposeString('ip', { nullable: true }),
    email: t.exposeString('email', { nullable: true, description: 'The targeted account, for account bursts' }),
    userId: t.exposeID('userId', { nullable: true }),
    attempts: t.exposeInt('attempts', {
      description: 'Failures counted (distinct accounts for credential_stuffing)',
    }),
    details: t.field({ type: 'JSON', resolve: (threat) => threat.details }),
    blockedUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the block ends (or ended)',
      resolve: (threat) => threat.blockedUntil,
    }),
    detectedAt: t.field({ type: 'DateTime', resolve: (threat) => threat.detectedAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (threat) => threat.updatedAt }),
  }),
});

const ThreatPageRef = builder.objectRef<ThreatPage>('ThreatPage').implement({
  fields: (t) => ({
    threats: t.field({ type: [ThreatRef], resolve: (page) => page.threats }),
    pagination: t.field({ type: OffsetPaginationRef, resolve: (page) => page.pagination }),
  }),
});

builder.queryField('threats', (t) =>
  t.field({
    type: ThreatPageRef,
    description:
      "Requires admin:security. The caller's tenant's threats (all for the operator), newest first. limit: default 20, at most 100.",
    args: {
      severity: t.arg.string({ description: 'critical, high, medium or low' }),
      status: t.arg.string({ description: 'active, mitigated or false_positive' }),
      startDate: t.arg({ type: 'DateTime', description: 'Detected at or after' }),
      page: t.arg.int(),
      limit: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      listThreats({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          severity: args.severity,
          status: args.status,
          startDate: args.startDate,
          page: args.page,
          limit: args.limit,
        },
      }),
  }),
);

builder.mutationField('updateThreatStatus', (t) =>
  t.field({
    type: ThreatRef,
    description:
      'Requires admin:security. mitigated or false_positive lifts the block at once; active blocks again for the full duration.',
    args: {
      id: t.arg.id({ required: true }),
      status: t.arg.string({ required: true, description: 'active, mitigated or false_positive' }),
    },
    resolve: (_root, args, ctx) =>
      updateThreatStatus({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: { id: String(args.id), status: args.status },
      }),
  }),
);
