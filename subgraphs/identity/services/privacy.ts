import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import type { Logger } from '../../../lib/logger.js';
import { hasScope, requirePrincipal, type ClientInfo, type Principal } from '../../../lib/principal.js';
import { UnrecoverableJobError } from '../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { ErasureOutcome, PrivacyHook } from '../../../lib/subgraph/privacy.js';
import { parseInput } from '../../../lib/validate.js';
import type { DataRequest, Prisma } from '../../../prisma/generated/client.js';

/** A data request as services hand it out: the archive bytes are read only on download. */
export type DataRequestRecord = Omit<DataRequest, 'archive'>;
const WITHOUT_ARCHIVE = { archive: true } as const;

/** Job ids, enqueued by name so this service does not import the job modules (they import it). */
export const EXPORT_USER_DATA_JOB = 'identity.export-user-data';
export const ERASE_USER_DATA_JOB = 'identity.erase-user-data';

/** An export archive is personal data at rest: it is downloadable for this long, then refused. */
export const EXPORT_ARCHIVE_TTL_MS = 7 * 24 * 3600_000;
/**
 * The promise made in `estimated_completion`. Jobs usually finish in seconds; the margin covers a
 * backed-up queue and retries with backoff (3 attempts), and stays well inside GDPR's one month.
 */
const ESTIMATED_DURATION_MS = 3600_000;
export const EXPORT_CONTENT_TYPE = 'application/gzip';

const OPEN_STATUSES = ['pending', 'processing'];

export interface DataExportArchive {
  filename: string;
  contentType: string;
  sizeBytes: number;
  contentBase64: string;
  expiresAt: Date;
}

export function estimatedCompletion(request: Pick<DataRequest, 'requestedAt' | 'completedAt'>): Date {
  return request.completedAt ?? new Date(request.requestedAt.getTime() + ESTIMATED_DURATION_MS);
}

/** Data requests are made by the data subject themselves: API keys and the operator have no personal data here. */
function requireUser(principal: Principal | null): Principal {
  const p = requirePrincipal(principal);
  if (p.kind !== 'user') throw new AppError('FORBIDDEN', 'Data requests are made by the signed-in user');
  return p;
}

/**
 * Who may read a request (and its archive): the user it is about; an administrator of the same
 * tenant (read:users, bound to that tenant: a tenant admin answers subject requests for their
 * users); the operator. Anyone else sees nothing, not even that it exists.
 */
function canRead(principal: Principal, request: DataRequestRecord): boolean {
  if (principal.kind === 'operator') return true;
  if (principal.kind === 'user' && principal.id === request.userId) return true;
  return principal.tenantId !== null && principal.tenantId === request.tenantId && hasScope(principal, 'read:users');
}

async function enqueueOrFail(
  deps: SubgraphDeps,
  request: DataRequestRecord,
  job: typeof EXPORT_USER_DATA_JOB | typeof ERASE_USER_DATA_JOB,
): Promise<void> {
  try {
    // The job id is derived from the request, so a repeated call re-attaches to the same job.
    await deps.jobs.enqueue(job, { requestId: request.id }, { jobId: `${request.kind}-${request.id}` });
  } catch (error) {
    await deps.db.prisma.dataRequest.update({
      where: { id: request.id },
      data: { status: 'failed', error: 'The request could not be queued; please try again' },
    });
    throw error instanceof AppError ? error : new AppError('SERVICE_UNAVAILABLE', 'The job queue is unavailable');
  }
}

/**
 * Starts an export of everything the platform holds about the caller. While one is still running
 * the same request is answered again, so repeated clicks do not pile up jobs.
 */
export async function requestDataExport({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<DataRequestRecord> {
  const user = requireUser(principal);
  const open = await deps.db.prisma.dataRequest.findFirst({
    where: { userId: user.id, kind: 'export', status: { in: OPEN_STATUSES } },
    orderBy: { requestedAt: 'desc' },
    omit: WITHOUT_ARCHIVE,
  });
  const request =
    open ??
    (await deps.db.prisma.dataRequest.create({
      data: { id: newId('req'), userId: user.id, tenantId: user.tenantId, kind: 'export', status: 'processing' },
      omit: WITHOUT_ARCHIVE,
    }));
  await enqueueOrFail(deps, request, EXPORT_USER_DATA_JOB);
  return request;
}

const deletionInput = z.object({
  reason: z.string().trim().max(1000).nullish(),
  // Literally true: a missing or falsy confirmation must never erase an account.
  confirm: z.literal(true, { error: 'confirm must be true to delete the account and its data' }),
});

/**
 * Records an erasure request and cuts the caller's access at once: the account is marked deleted
 * and its sessions revoked before the job erases anything, so the deletion cannot be raced by
 * the still-signed-in user, and a failing job leaves the account closed rather than open. The
 * job then runs every subgraph's erase hook; the request row stays as the record that it happened.
 */
export async function requestDataDeletion({
  deps,
  principal,
  input,
  revokeSessions,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof deletionInput>;
  client?: ClientInfo;
  /** Ends every session of the user at once (identity's session service). */
  revokeSessions: (userId: string) => Promise<unknown>;
}): Promise<DataRequestRecord> {
  const user = requireUser(principal);
  const data = parseInput(deletionInput, input);
  const request = await deps.db.prisma.$transaction(async (tx) => {
    const open = await tx.dataRequest.findFirst({
      where: { userId: user.id, kind: 'delete', status: { in: OPEN_STATUSES } },
      omit: WITHOUT_ARCHIVE,
    });
    if (open) return open;
    const now = new Date();
    await tx.user.update({
      where: { id: user.id },
      data: { status: 'deleted', deletedAt: now, tokensValidAfter: now },
    });
    return tx.dataRequest.create({
      data: {
        id: newId('req'),
        userId: user.id,
        tenantId: user.tenantId,
        kind: 'delete',
        status: 'processing',
        reason: data.reason ?? null,
      },
      omit: WITHOUT_ARCHIVE,
    });
  });
  await revokeSessions(user.id);
  await enqueueOrFail(deps, request, ERASE_USER_DATA_JOB);
  return request;
}

export async function getDataRequest({
  deps,
  principal,
  id,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<DataRequestRecord | null> {
  const p = requirePrincipal(principal);
  const request = await deps.db.prisma.dataRequest.findUnique({ where: { id }, omit: WITHOUT_ARCHIVE });
  return request && canRead(p, request) ? request : null;
}

const listInput = z.object({
  userId: z.string().min(1).nullish(),
  limit: z.number().int().min(1).max(100).default(50),
});

/** The caller's own requests; a tenant administrator may name a user of their tenant. Newest first. */
export async function listDataRequests({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof listInput>;
}): Promise<DataRequestRecord[]> {
  const p = requirePrincipal(principal);
  const { userId, limit } = parseInput(listInput, input);
  let where: Prisma.DataRequestWhereInput;
  if (!userId || (p.kind === 'user' && userId === p.id)) {
    where = { userId: requireUser(p).id };
  } else if (p.kind === 'operator') {
    where = { userId };
  } else if (p.tenantId !== null && hasScope(p, 'read:users')) {
    where = { userId, tenantId: p.tenantId };
  } else {
    throw new AppError('FORBIDDEN', "Only a tenant administrator may list another user's data requests", {
      required_scope: 'read:users',
    });
  }
  return deps.db.prisma.dataRequest.findMany({
    where,
    orderBy: { requestedAt: 'desc' },
    take: limit,
    omit: WITHOUT_ARCHIVE,
  });
}

/**
 * The archive of a completed, unexpired export, read only when asked for (it can be large). The
 * caller was already checked by getDataRequest/listDataRequests, which produced `request`.
 */
export async function readExportArchive({
  deps,
  request,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  request: Pick<DataRequest, 'id' | 'kind' | 'status' | 'expiresAt'>;
  now?: Date;
}): Promise<DataExportArchive | null> {
  if (request.kind !== 'export' || request.status !== 'completed') return null;
  if (!request.expiresAt || request.expiresAt <= now) return null;
  const row = await deps.db.prisma.dataRequest.findUnique({
    where: { id: request.id },
    select: { archive: true, archiveName: true, expiresAt: true },
  });
  if (!row?.archive || !row.expiresAt) return null;
  const bytes = Buffer.from(row.archive);
  return {
    filename: row.archiveName ?? `${request.id}.json.gz`,
    contentType: EXPORT_CONTENT_TYPE,
    sizeBytes: bytes.length,
    contentBase64: bytes.toString('base64'),
    expiresAt: row.expiresAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Job bodies: called by subgraphs/identity/jobs/*, with the hooks of every subgraph.

interface JobRun {
  deps: SubgraphDeps;
  hooks: readonly PrivacyHook[];
  requestId: string;
  logger: Logger;
  /** True on the last attempt: a failure then is final and is written to the request. */
  isFinalAttempt: boolean;
}

async function loadRequest(deps: SubgraphDeps, requestId: string, kind: 'export' | 'delete') {
  const request = await deps.db.prisma.dataRequest.findUnique({ where: { id: requestId }, omit: WITHOUT_ARCHIVE });
  if (!request || request.kind !== kind) {
    throw new UnrecoverableJobError(`No ${kind} data request ${requestId}`);
  }
  return request;
}

/** Dates as ISO strings, BigInt as strings, binary left out: the archive is plain JSON. */
function archiveReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return undefined;
  return value;
}

async function failFinal(deps: SubgraphDeps, run: JobRun, error: unknown, result?: Prisma.InputJsonObject) {
  if (!run.isFinalAttempt) return;
  // The detail goes to the log; the request shows a message the user may read.
  await deps.db.prisma.dataRequest.update({
    where: { id: run.requestId },
    data: {
      status: 'failed',
      error: error instanceof AppError ? error.message : 'The request could not be completed',
      ...(result ? { result } : {}),
    },
  });
}

/**
 * Runs every hook's export and stores the archive: one gzip-compressed JSON document with a
 * section per subgraph (`<request>.json.gz`). Gzip rather than zip: no zip library is installed,
 * and a single JSON file opens everywhere after gunzip.
 */
export async function runUserDataExport(run: JobRun): Promise<{ sizeBytes: number; subgraphs: string[] }> {
  const { deps, hooks, requestId, logger } = run;
  const request = await loadRequest(deps, requestId, 'export');
  if (request.status === 'completed') return { sizeBytes: 0, subgraphs: [] };
  try {
    const subgraphs: Record<string, Record<string, unknown>> = {};
    for (const hook of hooks) {
      subgraphs[hook.subgraph] = await hook.exportUserData({
        deps,
        userId: request.userId,
        tenantId: request.tenantId,
      });
    }
    const generatedAt = new Date();
    const document = {
      format: 'platform-user-data-export',
      format_version: 1,
      request_id: request.id,
      user_id: request.userId,
      tenant_id: request.tenantId,
      generated_at: generatedAt.toISOString(),
      subgraphs,
    };
    const archive = gzipSync(Buffer.from(JSON.stringify(document, archiveReplacer, 2), 'utf8'));
    await deps.db.prisma.dataRequest.update({
      where: { id: request.id },
      data: {
        status: 'completed',
        archive,
        archiveName: `user-data-${request.userId}-${generatedAt.toISOString().slice(0, 10)}.json.gz`,
        result: {
          format: 'json.gz',
          size_bytes: archive.length,
          subgraphs: Object.fromEntries(Object.entries(subgraphs).map(([name, data]) => [name, Object.keys(data)])),
        },
        error: null,
        completedAt: generatedAt,
        expiresAt: new Date(generatedAt.getTime() + EXPORT_ARCHIVE_TTL_MS),
      },
    });
    logger.info({ requestId, sizeBytes: archive.length }, 'user data export stored');
    return { sizeBytes: archive.length, subgraphs: Object.keys(subgraphs) };
  } catch (error) {
    await failFinal(deps, run, error);
    throw error;
  }
}

/**
 * Runs every hook's erase and records, per subgraph, what it did. Identity runs last: it
 * anonymizes the account the other hooks were still matching on. Every hook is idempotent, so a
 * retry after a partial failure simply runs them all again.
 */
export async function runUserDataErasure(
  run: JobRun & { revokeSessions: (userId: string) => Promise<unknown> },
): Promise<Record<string, ErasureOutcome>> {
  const { deps, hooks, requestId, logger } = run;
  const request = await loadRequest(deps, requestId, 'delete');
  if (request.status === 'completed') return request.result as unknown as Record<string, ErasureOutcome>;
  // Again here, in case the request-time revocation raced a refresh.
  await run.revokeSessions(request.userId);
  const ordered = [
    ...hooks.filter((h) => h.subgraph !== 'identity'),
    ...hooks.filter((h) => h.subgraph === 'identity'),
  ];
  const result: Record<string, ErasureOutcome | { error: string }> = {};
  let failure: unknown;
  for (const hook of ordered) {
    try {
      result[hook.subgraph] = await hook.eraseUserData({
        deps,
        userId: request.userId,
        tenantId: request.tenantId,
      });
    } catch (error) {
      failure ??= error;
      logger.error({ err: error, requestId, subgraph: hook.subgraph }, 'erase hook failed');
      result[hook.subgraph] = { error: 'erase failed; will be retried' };
    }
  }
  if (failure) {
    await failFinal(deps, run, failure, result as unknown as Prisma.InputJsonObject);
    throw failure;
  }
  await deps.db.prisma.dataRequest.update({
    where: { id: request.id },
    data: {
      status: 'completed',
      result: result as unknown as Prisma.InputJsonObject,
      error: null,
      completedAt: new Date(),
    },
  });
  logger.info({ requestId, subgraphs: Object.keys(result) }, 'user data erased');
  return result as Record<string, ErasureOutcome>;
}
