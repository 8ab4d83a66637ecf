import { builder } from '../builder.js';
import {
  BACKUP_COMPONENTS,
  createSystemBackup,
  getSystemBackup,
  getSystemRestore,
  listSystemBackups,
  restoreSystemBackup,
  type SystemBackup,
  type SystemRestore,
} from '../services/backups/system-backups.js';
import { PlatformPaginationRef } from './ops-pagination.js';

const BackupComponentEnum = builder.enumType('SystemBackupComponent', { values: BACKUP_COMPONENTS });

const SystemBackupRef = builder.objectRef<SystemBackup>('SystemBackup').implement({
  description: "A backup of the platform's configuration and data: compressed, encrypted, in the object store.",
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.exposeString('status', { description: 'pending, running, completed or failed' }),
    type: t.exposeString('type'),
    includes: t.exposeStringList('includes'),
    compression: t.exposeString('compression', { nullable: true }),
    encrypted: t.exposeBoolean('encrypted'),
    sizeBytes: t.float({ nullable: true, resolve: (b) => (b.sizeBytes === null ? null : Number(b.sizeBytes)) }),
    checksum: t.exposeString('checksum', { nullable: true, description: 'sha256 of the stored archive' }),
    contentChecksum: t.exposeString('contentChecksum', {
      nullable: true,
      description: 'sha256 of the archive before compression and encryption',
    }),
    tables: t.field({ type: 'JSON', nullable: true, description: 'Rows per table', resolve: (b) => b.tables }),
    taskId: t.exposeString('jobId', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (b) => b.createdAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (b) => b.completedAt }),
  }),
});

const SystemRestoreRef = builder.objectRef<SystemRestore>('SystemRestore').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    backupId: t.exposeString('backupId'),
    status: t.exposeString('status', { description: 'pending, running, completed or failed (nothing changed)' }),
    components: t.exposeStringList('components'),
    tables: t.field({ type: 'JSON', nullable: true, description: 'Rows restored per table', resolve: (r) => r.tables }),
    taskId: t.exposeString('jobId', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.completedAt }),
  }),
});

const SystemBackupPageRef = builder
  .objectRef<Awaited<ReturnType<typeof listSystemBackups>>>('SystemBackupPage')
  .implement({
    fields: (t) => ({
      backups: t.field({ type: [SystemBackupRef], resolve: (p) => p.backups }),
      pagination: t.field({ type: PlatformPaginationRef, resolve: (p) => p.pagination }),
    }),
  });

const StartedRestoreRef = builder
  .objectRef<Awaited<ReturnType<typeof restoreSystemBackup>>>('StartedSystemRestore')
  .implement({
    fields: (t) => ({
      restore: t.field({ type: SystemRestoreRef, resolve: (r) => r.restore }),
      backup: t.field({ type: SystemBackupRef, resolve: (r) => r.backup }),
    }),
  });

builder.queryFields((t) => ({
  systemBackups: t.field({
    type: SystemBackupPageRef,
    description: 'Newest first. Requires admin:backup.',
    args: { page: t.arg.int(), limit: t.arg.int() },
    resolve: (_root, args, ctx) => listSystemBackups({ deps: ctx.deps, principal: ctx.principal, input: args }),
  }),
  systemBackup: t.field({
    type: SystemBackupRef,
    description: 'Requires admin:backup.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getSystemBackup({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
  systemRestore: t.field({
    type: SystemRestoreRef,
    description: 'Requires admin:backup.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getSystemRestore({ deps: ctx.deps, principal: ctx.principal, id: String(args.id) }),
  }),
}));

builder.mutationFields((t) => ({
  createSystemBackup: t.field({
    type: SystemBackupRef,
    description: 'Queues a backup job (task). Requires admin:backup.',
    args: {
      include: t.arg({ type: [BackupComponentEnum] }),
      compression: t.arg.boolean(),
      encryption: t.arg.boolean(),
    },
    resolve: (_root, args, ctx) => createSystemBackup({ deps: ctx.deps, principal: ctx.principal, input: args }),
  }),
  restoreSystemBackup: t.field({
    type: StartedRestoreRef,
    description: 'Queues a restore job: checksums verified, all or nothing. Requires admin:backup and confirm: true.',
    args: {
      backupId: t.arg.id({ required: true }),
      components: t.arg({ type: [BackupComponentEnum] }),
      confirm: t.arg.boolean(),
    },
    resolve: (_root, args, ctx) =>
      restoreSystemBackup({
        deps: ctx.deps,
        principal: ctx.principal,
        input: { backupId: String(args.backupId), components: args.components, confirm: args.confirm },
      }),
  }),
}));
