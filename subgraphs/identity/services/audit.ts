import { z } from 'zod';
import { pageInput, paginationOf, type Pagination } from '../../../lib/pagination.js';
import { AppError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { AuditLog, Prisma } from '../../../prisma/generated/client.js';
import { sanitizeAuditEntry, type AuditEntry } from '../contract.js';
import { publishAuditEntries } from './audit-live.js';

export type { AuditLog };

const toRow = (entry: AuditEntry): Prisma.AuditLogCreateManyInput => ({
  ...entry,
  details: entry.details as Prisma.InputJsonValue,
  createdAt: new Date(entry.createdAt),
});

/**
 * Idempotent: entries whose id is already stored (an earlier attempt of the same job) are skipped.
 *
 * Every entry of a batch must land even if one cannot: entries are sanitised first (NUL bytes,
 * lone surrogates, sizes), and a batch the database still refuses is written again one entry at a
 * time, so only an entry that is itself unstorable is lost, and it is logged whole. When no entry
 * at all could be written the cause is the database rather than the data: the error is thrown so
 * the job retries later.
 */
export async function recordAuditEntries({
  deps,
  entries,
  logger,
}: {
  /** Without kv (tools writing entries directly) nothing is published live. */
  deps: Pick<SubgraphDeps, 'db'> & Partial<Pick<SubgraphDeps, 'kv'>>;
  entries: AuditEntry[];
  logger: Logger;
}): Promise<{ recorded: number }> {
  if (entries.length === 0) return { recorded: 0 };
  const sanitized = entries.map((entry) => sanitizeAuditEntry(entry));
  const rows = sanitized.map(toRow);
  try {
    const { count } = await deps.db.prisma.auditLog.createMany({ data: rows, skipDuplicates: true });
    // Admins watching live (auditEntries subscription) see the batch once it is stored.
    if (deps.kv) await publishAuditEntries({ kv: deps.kv }, sanitized);
    return { recorded: count };
  } catch (batchError) {
    if (rows.length === 1) throw batchError;
    let recorded = 0;
    let written = 0;
    const failures: Array<{ row: Prisma.AuditLogCreateManyInput; error: unknown }> = [];
    for (const row of rows) {
      try {
        const { count } = await deps.db.prisma.auditLog.createMany({ data: [row], skipDuplicates: true });
        recorded += count;
        written += 1;
      } catch (error) {
        failures.push({ row, error });
      }
    }
    if (written === 0) throw batchError;
    for (const { row, error } of failures) {
      logger.error({ err: error, auditEntry: row }, 'audit entry could not be stored; its siblings were');
    }
    return { recorded };
  }
}

/** The documented page size limits: default 20, at most 100. */
export const AUDIT_PAGE_DEFAULT = 20;
export const AUDIT_PAGE_MAX = 100;

const listAuditLogsInput = z
  .object({
    userId: z.string().min(1).max(200).nullish(),
    action: z.string().min(1).max(120).nullish(),
    startDate: z.date().nullish(),
    endDate: z.date().nullish(),
    ...pageInput({ defaultLimit: AUDIT_PAGE_DEFAULT, maxLimit: AUDIT_PAGE_MAX }),
  })
  .refine((i) => !i.startDate || !i.endDate || i.startDate <= i.endDate, {
    message: 'startDate must not be after endDate',
    path: ['startDate'],
  });

export type { Pagination };

export interface AuditLogPage {
  logs: AuditLog[];
  pagination: Pagination;
}

/**
 * Which entries a caller may read, from the principal alone: a tenant-bound caller its tenant's,
 * a project-bound one (no tenant) its project's, the operator everything.
 */
function visibleTo(principal: Principal): Prisma.AuditLogWhereInput {
  if (principal.tenantId !== null) return { tenantId: principal.tenantId };
  if (principal.projectId !== null) return { projectId: principal.projectId };
  if (principal.kind === 'operator') return {};
  throw new AppError('FORBIDDEN', 'The audit log is readable only by a tenant, a project or the operator');
}

/**
 * Requires admin:security (the admin role, the operator, or a key the operator granted it):
 * the trail shows who did what across the whole tenant, which read:users alone should not reveal.
 */
export async function listAuditLogs({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof listAuditLogsInput>;
}): Promise<AuditLogPage> {
  requireScope(principal, 'admin:security');
  const { userId, action, startDate, endDate, page, limit } = parseInput(listAuditLogsInput, input);
  const where: Prisma.AuditLogWhereInput = {
    ...visibleTo(principal),
    ...(userId ? { actorId: userId } : {}),
    ...(action ? { action } : {}),
    ...(startDate || endDate
      ? { createdAt: { ...(startDate ? { gte: startDate } : {}), ...(endDate ? { lte: endDate } : {}) } }
      : {}),
  };
  const [total, logs] = await Promise.all([
    deps.db.prisma.auditLog.count({ where }),
    deps.db.prisma.auditLog.findMany({
      where,
      // id breaks ties between entries of the same millisecond, so pages never overlap.
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      skip: (page - 1) * limit,
      take: limit,
    }),
  ]);
  return { logs, pagination: paginationOf({ page, limit }, total) };
}
