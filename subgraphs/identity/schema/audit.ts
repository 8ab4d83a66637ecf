import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { subscribeAuditEntries } from '../services/audit-live.js';
import { listAuditLogs, type AuditLog, type AuditLogPage, type Pagination } from '../services/audit.js';

/** Page-number pagination as platform-forge documents it; shared by identity's paged lists. */
export const OffsetPaginationRef = builder.objectRef<Pagination>('OffsetPagination').implement({
  fields: (t) => ({
    page: t.exposeInt('page'),
    limit: t.exposeInt('limit'),
    total: t.exposeInt('total'),
    pages: t.exposeInt('pages'),
  }),
});

const AuditLogRef = builder.objectRef<AuditLog>('AuditLog').implement({
  description: 'One state-changing operation: who, on what, from where, and how it ended.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId', { nullable: true }),
    projectId: t.exposeID('projectId', { nullable: true }),
    actorId: t.exposeID('actorId', { nullable: true, description: 'Null for a failed sign-in of an unknown caller' }),
    actorKind: t.exposeString('actorKind', { nullable: true, description: 'operator, user, api_key or service' }),
    action: t.exposeString('action', { description: 'e.g. user.login, tenant.create' }),
    resource: t.exposeString('resource'),
    resourceId: t.exposeID('resourceId', { nullable: true }),
    outcome: t.exposeString('outcome', { description: 'success or failure' }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    ip: t.exposeString('ip', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    requestId: t.exposeString('requestId', { nullable: true }),
    details: t.field({ type: 'JSON', resolve: (log) => log.details }),
    createdAt: t.field({ type: 'DateTime', resolve: (log) => log.createdAt }),
  }),
});

const AuditLogPageRef = builder.objectRef<AuditLogPage>('AuditLogPage').implement({
  fields: (t) => ({
    logs: t.field({ type: [AuditLogRef], resolve: (page) => page.logs }),
    pagination: t.field({ type: OffsetPaginationRef, resolve: (page) => page.pagination }),
  }),
});

builder.queryField('auditLogs', (t) =>
  t.field({
    type: AuditLogPageRef,
    description:
      "Requires admin:security. A tenant's own entries (a project's for a project-bound caller, all for the operator), newest first. limit: default 20, at most 100.",
    args: {
      userId: t.arg.id({ description: 'Only entries whose actor is this user' }),
      action: t.arg.string(),
      startDate: t.arg({ type: 'DateTime' }),
      endDate: t.arg({ type: 'DateTime' }),
      page: t.arg.int(),
      limit: t.arg.int(),
    },
    resolve: (_root, args, ctx) =>
      listAuditLogs({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          userId: args.userId == null ? null : String(args.userId),
          action: args.action,
          startDate: args.startDate,
          endDate: args.endDate,
          page: args.page ?? undefined,
          limit: args.limit ?? undefined,
        },
      }),
  }),
);

builder.subscriptionType({});

builder.subscriptionField('auditEntries', (t) =>
  t.field({
    type: AuditLogRef,
    description:
      "Audit entries as they are stored. Requires admin:security: a tenant's own entries (a project's for a " +
      'project-bound caller, all for the operator). actions: only these actions (e.g. user.login).',
    args: { actions: t.arg.stringList() },
    subscribe: (_root, args, ctx) =>
      subscribeAuditEntries({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), actions: args.actions ?? null }),
    resolve: (envelope) => ({
      ...envelope.data,
      details: envelope.data.details as AuditLog['details'],
      createdAt: new Date(envelope.data.createdAt),
    }),
  }),
);
