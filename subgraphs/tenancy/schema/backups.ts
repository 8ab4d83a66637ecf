import { builder } from '../builder.js';
import {
  getTenantBackup,
  listTenantBackups,
  requestTenantBackup,
  requestTenantRollback,
  type TenantBackup,
} from '../services/operations/backups.js';
import { handleVmReadyWebhook, type VmReadyResult } from '../services/operations/vm-webhook.js';
import { TenantOperationRef } from './operations.js';

const TenantBackupRef = builder.objectRef<TenantBackup>('TenantBackup').implement({
  description: 'A restorable dump (DDL and data) of a tenant’s schema in the platform’s file storage.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    status: t.exposeString('status', { description: 'pending | running | completed | failed' }),
    storagePath: t.exposeString('storagePath', {
      nullable: true,
      description: 'Relative to the storage root; what rollback takes as storage_path',
    }),
    sizeBytes: t.float({ nullable: true, resolve: (b) => (b.sizeBytes === null ? null : Number(b.sizeBytes)) }),
    checksum: t.exposeString('checksum', { nullable: true, description: 'sha256 of the file, hex' }),
    schemas: t.exposeStringList('schemas'),
    tables: t.exposeInt('tables', { nullable: true }),
    rows: t.float({ nullable: true, resolve: (b) => (b.rows === null ? null : Number(b.rows)) }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (b) => b.completedAt }),
  }),
});

const VmReadyResultRef = builder.objectRef<VmReadyResult>('VmReadyResult').implement({
  fields: (t) => ({
    tenantId: t.exposeString('tenantId'),
    databaseName: t.exposeString('databaseName', { nullable: true }),
    databaseStatus: t.exposeString('databaseStatus'),
    isolationLevel: t.exposeInt('isolationLevel'),
  }),
});

builder.queryFields((t) => ({
  tenantBackups: t.field({
    type: [TenantBackupRef],
    description: 'Requires admin:backup. Newest first.',
    args: { tenantId: t.arg.id({ required: true }), limit: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) =>
      listTenantBackups({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: String(args.tenantId),
        limit: args.limit ?? 50,
      }),
  }),
  tenantBackup: t.field({
    type: TenantBackupRef,
    description: 'Requires admin:backup.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getTenantBackup({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
}));

builder.mutationFields((t) => ({
  backupTenant: t.field({
    type: TenantBackupRef,
    description: 'Requires admin:backup. Queues a backup job; the record completes when the dump is written.',
    args: { tenantId: t.arg.id({ required: true, description: 'The tenant id or its tenant_id (slug)' }) },
    resolve: (_root, args, ctx) =>
      requestTenantBackup({ deps: ctx.deps, principal: ctx.principal, tenantId: String(args.tenantId) }),
  }),
  rollbackTenant: t.field({
    type: TenantOperationRef,
    description:
      'Requires admin:backup. Restores the latest completed backup on or before `date`, or the backup at `storagePath` (one of the two), as a job: into a fresh schema, verified, then swapped in atomically.',
    args: {
      tenantId: t.arg.id({ required: true }),
      date: t.arg.string({ description: 'YYYY-MM-DD (the whole day, UTC) or an ISO timestamp' }),
      storagePath: t.arg.string({ description: 'A backup’s storage_path, inside the platform’s file storage' }),
    },
    resolve: (_root, args, ctx) =>
      requestTenantRollback({
        deps: ctx.deps,
        principal: ctx.principal,
        tenantId: String(args.tenantId),
        input: { date: args.date ?? undefined, storagePath: args.storagePath ?? undefined },
      }),
  }),
  vmReady: t.field({
    type: VmReadyResultRef,
    description:
      'Internal provisioning callback: no caller principal. Authenticated by an HMAC-SHA256 over `<timestamp>.<rawBody>` with WEBHOOK_SIGNING_SECRET, a timestamp within 5 minutes, and no replay.',
    args: {
      rawBody: t.arg.string({ required: true }),
      timestamp: t.arg.string(),
      signature: t.arg.string(),
    },
    resolve: (_root, args, ctx) =>
      handleVmReadyWebhook({
        deps: ctx.deps,
        logger: ctx.logger,
        rawBody: args.rawBody,
        timestamp: args.timestamp,
        signature: args.signature,
      }),
  }),
}));
