import { requirePrincipal } from '../../../lib/principal.js';
import { builder } from '../builder.js';
import { EXPORT_FORMATS, getExport, startExport, type ExportResult } from '../services/export.js';

const ExportFormatEnum = builder.enumType('TelemetryExportFormat', { values: EXPORT_FORMATS });

const TelemetryExportRef = builder.objectRef<ExportResult>('TelemetryExport').implement({
  description:
    'An export of telemetry events: written during the request when small, else by a job whose progress is published on tenancy.progress.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.exposeString('status', { description: 'completed, queued, running or failed.' }),
    format: t.exposeString('format'),
    startDate: t.field({ type: 'DateTime', resolve: (e) => e.startDate }),
    endDate: t.field({ type: 'DateTime', resolve: (e) => e.endDate }),
    totalRows: t.exposeInt('totalRows'),
    exportedRows: t.exposeInt('exportedRows'),
    sizeBytes: t.exposeFloat('sizeBytes', { nullable: true }),
    percent: t.exposeInt('percent'),
    downloadPath: t.exposeString('downloadPath', {
      nullable: true,
      description: 'Signed download path, served by the gateway at its own origin; null until the file exists.',
    }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.expiresAt }),
    jobId: t.exposeString('jobId', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

builder.mutationField('exportTelemetryEvents', (t) =>
  t.field({
    type: TelemetryExportRef,
    description:
      "Exports the caller's tenant's events (the operator names a tenant) in [startDate, endDate), at most 92 days. Requires read:telemetry.",
    args: {
      format: t.arg({ type: ExportFormatEnum, required: true }),
      startDate: t.arg({ type: 'DateTime', required: true }),
      endDate: t.arg({ type: 'DateTime', required: true }),
      tenantId: t.arg.id(),
    },
    resolve: (_root, args, ctx) =>
      startExport({
        deps: ctx.deps,
        principal: requirePrincipal(ctx.principal),
        input: {
          format: args.format,
          startDate: new Date(args.startDate as unknown as string),
          endDate: new Date(args.endDate as unknown as string),
          tenantId: args.tenantId === null || args.tenantId === undefined ? null : String(args.tenantId),
        },
      }),
  }),
);

builder.queryField('telemetryExport', (t) =>
  t.field({
    type: TelemetryExportRef,
    description: "A queued export's state, with a fresh download URL once written. Requires read:telemetry.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      getExport({ deps: ctx.deps, principal: requirePrincipal(ctx.principal), id: String(args.id) }),
  }),
);
