import { Readable } from 'node:stream';
import { ByteWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import { publishTopic } from '../../../lib/realtime/topics.js';
import { fileBlobKey, STORAGE_URL_KEY_LABEL, storageUrlPath } from '../../../lib/storage-url.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import { telemetryTenant } from './tenant-scope.js';
import type { Event } from '../../../prisma/generated/client.js';

/**
 * Telemetry export: a tenant's events in a bounded time range as CSV, NDJSON or Parquet.
 * Events are read in keyset pages (occurred_at, id) and encoded page by page into a stream that
 * the object store writes as it comes, so memory stays at one page whatever the range. Up to
 * SYNC_MAX_ROWS events the file is written during the request; more become a job
 * (`telemetry.export`) whose progress is published on the `tenancy.progress` topic. Either way the
 * answer (or the finished job) gives a signed download URL the gateway serves.
 */
export const EXPORT_FORMATS = ['csv', 'json', 'ndjson', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_JOB = 'telemetry.export';

/** The widest range one export may cover. */
export const MAX_RANGE_DAYS = 92;
/** Exports of at most this many events are written during the request; more run as a job. */
export const SYNC_MAX_ROWS = 10_000;
/** Events per database page, and per Parquet row group. */
const PAGE_ROWS = 2_000;
const RECORD_PREFIX = 'telemetry-export:';
const RECORD_TTL_SECONDS = 7 * 86_400;
/** How long a download URL of an export is valid. */
const URL_EXPIRY_SECONDS = 3_600;

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv',
  json: 'application/x-ndjson',
  ndjson: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};
const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', json: 'ndjson', ndjson: 'ndjson', parquet: 'parquet' };

const COLUMNS = [
  'id',
  'tenant_id',
  'type',
  'source',
  'actor_id',
  'message_id',
  'occurred_at',
  'received_at',
  'payload',
  'context',
] as const;

export interface ExportRange {
  tenantId: string;
  start: Date;
  end: Date;
  format: ExportFormat;
}

export interface ExportResult {
  id: string;
  status: 'completed' | 'queued' | 'running' | 'failed';
  format: ExportFormat;
  startDate: Date;
  endDate: Date;
  /** Events in the range (counted when the export was asked for). */
  totalRows: number;
  /** Events written so far. */
  exportedRows: number;
  sizeBytes: number | null;
  /** Signed download path (the gateway serves it); null until the file exists. */
  downloadPath: string | null;
  expiresAt: Date | null;
  /** The job of a large export (GET /api/v1/tasks/{id}); null when written during the request. */
  jobId: string | null;
  percent: number;
  error: string | null;
}

const requestSchema = z
  .object({
    format: z.enum(EXPORT_FORMATS),
    startDate: z.date(),
    endDate: z.date(),
  })
  .refine((v) => v.endDate > v.startDate, { message: 'end_date must be after start_date', path: ['endDate'] })
  .refine((v) => v.endDate.getTime() - v.startDate.getTime() <= MAX_RANGE_DAYS * 86_400_000, {
    message: `The range is at most ${MAX_RANGE_DAYS} days`,
    path: ['endDate'],
  });

function objectKey(id: string, format: ExportFormat): string {
  return `exports/telemetry/${id}.${EXTENSIONS[format]}`;
}

function signedDownload(deps: SubgraphDeps, tenantId: string, id: string, format: ExportFormat) {
  const expires = Math.floor(Date.now() / 1000) + URL_EXPIRY_SECONDS;
  const path = storageUrlPath(
    { op: 'download', owner: tenantId, key: objectKey(id, format), contentType: CONTENT_TYPES[format], expires },
    deps.secretBox.derive(STORAGE_URL_KEY_LABEL),
  );
  return { downloadPath: path, expiresAt: new Date(expires * 1000) };
}

/** The range's events in pages, oldest first (keyset on occurred_at, id: stable under inserts). */
async function* eventPages(deps: SubgraphDeps, range: ExportRange): AsyncGenerator<Event[]> {
  let after: { occurredAt: Date; id: string } | null = null;
  for (;;) {
    const cursor: { occurredAt: Date; id: string } | null = after;
    const page: Event[] = await deps.db.prisma.event.findMany({
      where: {
        tenantId: range.tenantId,
        occurredAt: { gte: range.start, lt: range.end },
        ...(cursor
          ? {
              OR: [{ occurredAt: { gt: cursor.occurredAt } }, { occurredAt: cursor.occurredAt, id: { gt: cursor.id } }],
            }
          : {}),
      },
      orderBy: [{ occurredAt: 'asc' }, { id: 'asc' }],
      take: PAGE_ROWS,
    });
    if (page.length === 0) return;
    yield page;
    if (page.length < PAGE_ROWS) return;
    const last = page[page.length - 1]!;
    after = { occurredAt: last.occurredAt, id: last.id };
  }
}

/** RFC 4180 quoting; a cell a spreadsheet would run as a formula is prefixed with '. */
function csvCell(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function row(event: Event): Record<(typeof COLUMNS)[number], string | null> {
  return {
    id: event.id,
    tenant_id: event.tenantId,
    type: event.type,
    source: event.source,
    actor_id: event.actorId,
    message_id: event.messageId,
    occurred_at: event.occurredAt.toISOString(),
    received_at: event.receivedAt.toISOString(),
    payload: JSON.stringify(event.payload),
    context: event.context === null ? null : JSON.stringify(event.context),
  };
}

/** A Parquet file written one row group per page, its bytes handed on after each group. */
function parquetEncoder() {
  const writer = new ByteWriter();
  const sample = {
    columnData: [
      { name: 'id', data: [''], type: 'STRING' as const, nullable: false },
      { name: 'tenant_id', data: [''], type: 'STRING' as const, nullable: false },
      { name: 'type', data: [''], type: 'STRING' as const, nullable: false },
      { name: 'source', data: [''], type: 'STRING' as const },
      { name: 'actor_id', data: [''], type: 'STRING' as const },
      { name: 'message_id', data: [''], type: 'STRING' as const },
      { name: 'occurred_at', data: [new Date()], type: 'TIMESTAMP' as const, nullable: false },
      { name: 'received_at', data: [new Date()], type: 'TIMESTAMP' as const, nullable: false },
      { name: 'payload', data: [''], type: 'JSON' as const, nullable: false },
      { name: 'context', data: [''], type: 'JSON' as const },
    ],
  };
  const parquet = new ParquetWriter({
    writer,
    schema: schemaFromColumnData(sample),
    createdBy: 'platform telemetry export',
  });
  const take = (): Buffer => {
    const bytes = Buffer.from(writer.getBytes());
    writer.index = 0;
    return bytes;
  };
  return {
    header: take(),
    page(events: Event[]): Buffer {
      const columns = sample.columnData.map((column) => ({ ...column, data: [] as unknown[] }));
      for (const event of events) {
        const r = [
          event.id,
          event.tenantId,
          event.type,
          event.source,
          event.actorId,
          event.messageId,
          event.occurredAt,
          event.receivedAt,
          event.payload,
          event.context,
        ];
        r.forEach((value, i) => columns[i]!.data.push(value));
      }
      void parquet.write({ columnData: columns as never, rowGroupSize: events.length });
      return take();
    },
    finish(): Buffer {
      void parquet.finish();
      return take();
    },
  };
}

/** The encoded file as a stream of chunks, one page at a time; `onPage` sees the running count. */
export function encodeEvents(
  pages: AsyncIterable<Event[]>,
  format: ExportFormat,
  onPage?: (rows: number) => Promise<void>,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let rows = 0;
    const parquet = format === 'parquet' ? parquetEncoder() : null;
    if (parquet) yield parquet.header;
    if (format === 'csv') yield Buffer.from(`${COLUMNS.join(',')}\r\n`);
    for await (const page of pages) {
      if (parquet) yield parquet.page(page);
      else if (format === 'csv') {
        yield Buffer.from(page.map((e) => COLUMNS.map((c) => csvCell(row(e)[c])).join(',') + '\r\n').join(''), 'utf8');
      } else yield Buffer.from(page.map((e) => JSON.stringify(row(e)) + '\n').join(''), 'utf8');
      rows += page.length;
      await onPage?.(rows);
    }
    if (parquet) yield parquet.finish();
  }
  return Readable.from(chunks());
}

/** Writes the export file into the object store; returns its size and row count. */
export async function writeExport(
  deps: SubgraphDeps,
  range: ExportRange,
  id: string,
  onPage?: (rows: number) => Promise<void>,
): Promise<{ rows: number; sizeBytes: number }> {
  let rows = 0;
  const stream = encodeEvents(eventPages(deps, range), range.format, async (n) => {
    rows = n;
    await onPage?.(n);
  });
  const stored = await deps.blobs.put(fileBlobKey(range.tenantId, objectKey(id, range.format)), stream);
  return { rows, sizeBytes: stored.size };
}

async function publishProgress(deps: SubgraphDeps, tenantId: string, result: ExportResult): Promise<void> {
  await publishTopic(deps.kv, 'tenancy.progress', tenantId, {
    kind: 'telemetry.export',
    id: result.id,
    status: result.status,
    percent: result.percent,
    exportedRows: result.exportedRows,
    totalRows: result.totalRows,
  }).catch(() => undefined);
}

/**
 * Starts an export of the caller's tenant (the operator names one). Small ranges are written now;
 * large ones are queued as a job.
 */
export async function startExport({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: { format: string; startDate: Date; endDate: Date; tenantId?: string | null };
}): Promise<ExportResult> {
  requireScope(principal, 'read:telemetry');
  const tenantId = await telemetryTenant(deps, principal, input.tenantId);
  const data = parseInput(requestSchema, { format: input.format, startDate: input.startDate, endDate: input.endDate });
  const range: ExportRange = { tenantId, start: data.startDate, end: data.endDate, format: data.format };
  const totalRows = await deps.db.prisma.event.count({
    where: { tenantId, occurredAt: { gte: range.start, lt: range.end } },
  });
  const id = newId('exp', 12);
  const base: ExportResult = {
    id,
    status: 'queued',
    format: data.format,
    startDate: range.start,
    endDate: range.end,
    totalRows,
    exportedRows: 0,
    sizeBytes: null,
    downloadPath: null,
    expiresAt: null,
    jobId: null,
    percent: 0,
    error: null,
  };
  if (totalRows > SYNC_MAX_ROWS) {
    const payload = {
      id,
      tenantId,
      format: data.format,
      start: range.start.toISOString(),
      end: range.end.toISOString(),
      totalRows,
    };
    // What the status query needs about the export, kept as long as the queue keeps finished jobs.
    await deps.kv.cache.set(RECORD_PREFIX + id, JSON.stringify(payload), RECORD_TTL_SECONDS);
    const { jobId } = await deps.jobs.enqueue(EXPORT_JOB, payload, { jobId: `telemetry-export-${id}`, tenantId });
    const queued = { ...base, jobId };
    await publishProgress(deps, tenantId, queued);
    return queued;
  }
  const written = await writeExport(deps, range, id);
  return {
    ...base,
    status: 'completed',
    exportedRows: written.rows,
    sizeBytes: written.sizeBytes,
    percent: 100,
    ...signedDownload(deps, tenantId, id, data.format),
  };
}

export const exportJobPayload = z.object({
  id: z.string(),
  tenantId: z.string(),
  format: z.enum(EXPORT_FORMATS),
  start: z.string(),
  end: z.string(),
  totalRows: z.number().int(),
});

/** The job's work: the same writer, with progress after every page. */
export async function runExportJob(
  deps: SubgraphDeps,
  payload: z.output<typeof exportJobPayload>,
  updateProgress: (progress: object) => Promise<void>,
): Promise<{ rows: number; sizeBytes: number }> {
  const range: ExportRange = {
    tenantId: payload.tenantId,
    start: new Date(payload.start),
    end: new Date(payload.end),
    format: payload.format,
  };
  const progress = async (rows: number, status: ExportResult['status']) => {
    const percent = payload.totalRows === 0 ? 100 : Math.min(100, Math.round((rows / payload.totalRows) * 100));
    await updateProgress({ percent, exportedRows: rows, totalRows: payload.totalRows });
    await publishProgress(deps, payload.tenantId, {
      id: payload.id,
      status,
      format: payload.format,
      startDate: range.start,
      endDate: range.end,
      totalRows: payload.totalRows,
      exportedRows: rows,
      sizeBytes: null,
      downloadPath: null,
      expiresAt: null,
      jobId: null,
      percent: status === 'completed' ? 100 : percent,
      error: null,
    });
  };
  const written = await writeExport(deps, range, payload.id, (rows) => progress(rows, 'running'));
  await progress(written.rows, 'completed');
  return written;
}

const NOT_YOURS: ReadonlySet<string> = new Set(['TENANT_MISMATCH', 'FORBIDDEN', 'NOT_FOUND', 'TENANT_SUSPENDED']);

/** A queued export as it stands: its job's state and, once written, a fresh signed URL. */
export async function getExport({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  id: string;
}): Promise<ExportResult> {
  requireScope(principal, 'read:telemetry');
  const [job, record] = await Promise.all([
    deps.jobs.getJob(`telemetry-export-${id}`),
    deps.kv.cache.get(RECORD_PREFIX + id),
  ]);
  const parsed = record ? exportJobPayload.safeParse(JSON.parse(record)) : null;
  const payload = parsed?.success ? parsed.data : null;
  if (!job || !job.tenantId) throw new AppError('NOT_FOUND', 'No such export', { id });
  // Only the export's own tenant's callers (its project's keys, the operator) see it: anyone else
  // gets the same NOT_FOUND.
  await telemetryTenant(deps, principal, job.tenantId).catch((error: unknown) => {
    if (error instanceof AppError && NOT_YOURS.has(error.code))
      throw new AppError('NOT_FOUND', 'No such export', { id });
    throw error;
  });
  const progress = (typeof job.progress === 'object' ? job.progress : {}) as {
    percent?: number;
    exportedRows?: number;
    totalRows?: number;
  };
  const result = (job.result ?? null) as { rows: number; sizeBytes: number } | null;
  const format = (payload?.format ?? 'csv') as ExportFormat;
  const status: ExportResult['status'] =
    job.state === 'completed'
      ? 'completed'
      : job.state === 'failed'
        ? 'failed'
        : job.state === 'active'
          ? 'running'
          : 'queued';
  return {
    id,
    status,
    format,
    startDate: payload ? new Date(payload.start) : job.createdAt,
    endDate: payload ? new Date(payload.end) : job.createdAt,
    totalRows: progress.totalRows ?? payload?.totalRows ?? 0,
    exportedRows: result?.rows ?? progress.exportedRows ?? 0,
    sizeBytes: result?.sizeBytes ?? null,
    jobId: job.id,
    percent: status === 'completed' ? 100 : (progress.percent ?? 0),
    error: status === 'failed' ? (job.failedReason ?? 'failed') : null,
    ...(status === 'completed'
      ? signedDownload(deps, job.tenantId, id, format)
      : { downloadPath: null, expiresAt: null }),
  };
}
