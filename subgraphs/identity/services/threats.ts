import { z } from 'zod';
import { pageInput, paginationOf } from '../../../lib/pagination.js';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { createLogger, type Logger } from '../../../lib/logger.js';
import { requireScope, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { Pagination } from '../../../lib/pagination.js';
import type { Prisma, Threat } from '../../../prisma/generated/client.js';

export type { Threat };

/**
 * Login threat detection. Every sign-in attempt is recorded; each failure re-counts the recent
 * failures around it and, past a threshold, opens (or updates) one threat row per attack and
 * blocks the ip or account for a while. Three detections:
 *
 * | kind                       | counted over 10 min                 | opens at | severity by count                 | block  |
 * |----------------------------|-------------------------------------|----------|-----------------------------------|--------|
 * | failed_login_burst_account | failures for one directory + email  | 5        | medium 5+, high 10+, critical 25+ | 15 min |
 * | failed_login_burst_ip      | failures from one ip, any account   | 10       | medium 10+, high 25+, critical 50+| 15 min |
 * | credential_stuffing        | distinct accounts one ip failed on  | 5        | high 5+, critical 10+             | 60 min |
 *
 * Every further failure while the threat is active updates the same row (attempts, severity)
 * and extends the block from now. Attempts refused before any password check (`blocked` by a
 * threat, `locked` by the account lockout) only add to the size of the active threat: they never
 * open one or extend a block, so a blocked user retrying does not prolong their own block.
 * Correct passwords awaiting MFA (`mfa_required`) are never counted.
 */
export const THREAT_KINDS = ['failed_login_burst_account', 'failed_login_burst_ip', 'credential_stuffing'] as const;
export type ThreatKind = (typeof THREAT_KINDS)[number];
export const THREAT_SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type ThreatSeverity = (typeof THREAT_SEVERITIES)[number];
export const THREAT_STATUSES = ['active', 'mitigated', 'false_positive'] as const;
export type ThreatStatus = (typeof THREAT_STATUSES)[number];

const WINDOW_MS = 10 * 60_000;
/** A correct password awaiting its second factor is no attack. */
const NEVER_COUNTED = ['mfa_required'];
/**
 * Refusals before any password check (a threat block, the account lockout): they measure an
 * attack already detected, never open or prolong one.
 */
const REFUSAL_REASONS = ['blocked', 'locked'];

interface DetectionRule {
  /** The count at which the threat opens. */
  threshold: number;
  /** Lower bounds, checked from the most severe down. */
  severity: Array<[min: number, severity: ThreatSeverity]>;
  blockMs: number;
}

export const DETECTION_RULES: Record<ThreatKind, DetectionRule> = {
  failed_login_burst_account: {
    threshold: 5,
    severity: [
      [25, 'critical'],
      [10, 'high'],
      [5, 'medium'],
    ],
    blockMs: 15 * 60_000,
  },
  failed_login_burst_ip: {
    threshold: 10,
    severity: [
      [50, 'critical'],
      [25, 'high'],
      [10, 'medium'],
    ],
    blockMs: 15 * 60_000,
  },
  // Many accounts from one address is a deliberate attack, not a forgetful user: block longer.
  credential_stuffing: {
    threshold: 5,
    severity: [
      [10, 'critical'],
      [5, 'high'],
    ],
    blockMs: 60 * 60_000,
  },
};

export function severityFor(kind: ThreatKind, count: number): ThreatSeverity {
  for (const [min, severity] of DETECTION_RULES[kind].severity) if (count >= min) return severity;
  return 'low';
}

/** `tenant:<id>` → the tenant id; `accounts` (project owners) → null. */
export function tenantIdOfDirectory(directory: string): string | null {
  return directory.startsWith('tenant:') ? directory.slice('tenant:'.length) : null;
}

export interface LoginAttemptInput {
  directory: string;
  email: string;
  userId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  success: boolean;
  /** bad_password | unknown_user | locked | mfa_required | mfa_invalid | suspended | blocked */
  reason?: string | null;
}

// Used only when the caller passes no logger: detection must still report its failures somewhere.
let fallbackLogger: Logger | undefined;
function loggerOr(logger: Logger | undefined): Logger {
  return logger ?? (fallbackLogger ??= createLogger({ level: 'warn', name: 'identity-threats' }));
}

/**
 * Records one sign-in attempt and, for a failure, runs the detections. Never throws: a broken
 * detection must not turn into a broken login, so errors are logged and swallowed. Awaited by
 * login so that the very next attempt already sees a block this one caused.
 */
export async function recordLoginAttempt({
  deps,
  attempt,
  logger,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  attempt: LoginAttemptInput;
  logger?: Logger;
  now?: Date;
}): Promise<void> {
  const email = attempt.email.toLowerCase();
  try {
    await deps.db.prisma.loginAttempt.create({
      data: {
        id: newId('la'),
        directory: attempt.directory,
        email,
        userId: attempt.userId ?? null,
        ip: attempt.ip ?? null,
        userAgent: attempt.userAgent?.slice(0, 500) ?? null,
        success: attempt.success,
        reason: attempt.reason ?? null,
        createdAt: now,
      },
    });
    if (attempt.success || NEVER_COUNTED.includes(attempt.reason ?? '')) return;
    const mode = REFUSAL_REASONS.includes(attempt.reason ?? '') ? 'measure' : 'detect';
    await detectThreats({ deps, attempt: { ...attempt, email }, now, mode });
  } catch (error) {
    loggerOr(logger).error(
      { err: error, directory: attempt.directory, ip: attempt.ip },
      'login attempt recording or threat detection failed',
    );
  }
}

/**
 * detect: a failure that reached the password check may open a threat or extend its block, and
 * only such failures are counted. measure: an attempt refused by a block only updates the size
 * (attempts, severity) of the active threat, counting the refused attempts too, so a persistent
 * attacker still escalates to critical while a blocked user retrying never prolongs their block.
 */
type DetectionMode = 'detect' | 'measure';

const countedFailure = (since: Date, mode: DetectionMode): Prisma.LoginAttemptWhereInput => {
  const excluded = mode === 'detect' ? [...NEVER_COUNTED, ...REFUSAL_REASONS] : NEVER_COUNTED;
  return {
    success: false,
    createdAt: { gte: since },
    OR: [{ reason: null }, { reason: { notIn: excluded } }],
  };
};

async function detectThreats({
  deps,
  attempt,
  now,
  mode,
}: {
  deps: SubgraphDeps;
  attempt: LoginAttemptInput & { email: string };
  now: Date;
  mode: DetectionMode;
}): Promise<void> {
  const prisma = deps.db.prisma;
  const windowStart = new Date(now.getTime() - WINDOW_MS);
  const tenantId = tenantIdOfDirectory(attempt.directory);

  const accountSince = await countingStart({
    deps,
    kind: 'failed_login_burst_account',
    key: { email: attempt.email, tenantId },
    windowStart,
  });
  const accountFailures = await prisma.loginAttempt.count({
    where: { directory: attempt.directory, email: attempt.email, ...countedFailure(accountSince, mode) },
  });
  if (accountFailures >= DETECTION_RULES.failed_login_burst_account.threshold) {
    await openOrUpdateThreat({
      deps,
      now,
      mode,
      kind: 'failed_login_burst_account',
      count: accountFailures,
      key: { email: attempt.email, tenantId },
      fields: { tenantId, email: attempt.email, userId: attempt.userId ?? null, ip: attempt.ip ?? null },
      details: { directory: attempt.directory, window_minutes: WINDOW_MS / 60_000 },
    });
  }

  if (!attempt.ip) return;
  const ip = attempt.ip;
  const ipSince = await countingStart({ deps, kind: 'failed_login_burst_ip', key: { ip }, windowStart });
  const stuffingSince = await countingStart({ deps, kind: 'credential_stuffing', key: { ip }, windowStart });
  const since = ipSince < stuffingSince ? ipSince : stuffingSince;
  // One read serves both ip detections; the rows are few (only this ip's recent failures).
  const ipFailures = await prisma.loginAttempt.findMany({
    where: { ip, ...countedFailure(since, mode) },
    select: { directory: true, email: true, createdAt: true },
  });
  const directories = [...new Set(ipFailures.map((f) => f.directory))];
  // An ip attack across several tenants belongs to no single tenant: only the operator sees it.
  const ipTenantId = directories.length === 1 && directories[0] ? tenantIdOfDirectory(directories[0]) : null;

  const ipCount = ipFailures.filter((f) => f.createdAt >= ipSince).length;
  if (ipCount >= DETECTION_RULES.failed_login_burst_ip.threshold) {
    await openOrUpdateThreat({
      deps,
      now,
      mode,
      kind: 'failed_login_burst_ip',
      count: ipCount,
      key: { ip },
      fields: { tenantId: ipTenantId, ip, email: null, userId: null },
      details: { directories, window_minutes: WINDOW_MS / 60_000 },
    });
  }

  const accounts = new Set(
    ipFailures.filter((f) => f.createdAt >= stuffingSince).map((f) => `${f.directory}\u0000${f.email}`),
  );
  if (accounts.size >= DETECTION_RULES.credential_stuffing.threshold) {
    await openOrUpdateThreat({
      deps,
      now,
      mode,
      kind: 'credential_stuffing',
      count: accounts.size,
      key: { ip },
      fields: { tenantId: ipTenantId, ip, email: null, userId: null },
      details: {
        directories,
        distinct_accounts: accounts.size,
        failures: ipFailures.filter((f) => f.createdAt >= stuffingSince).length,
        window_minutes: WINDOW_MS / 60_000,
      },
    });
  }
}

type ThreatKey = { ip: string } | { email: string; tenantId: string | null };

function keyWhere(kind: ThreatKind, key: ThreatKey): Prisma.ThreatWhereInput {
  return 'ip' in key ? { kind, ip: key.ip } : { kind, email: key.email, tenantId: key.tenantId };
}

/**
 * Failures before an operator marked the last threat on this key a false positive are not
 * counted again: otherwise the very next typo would re-open the block that was just lifted.
 */
async function countingStart({
  deps,
  kind,
  key,
  windowStart,
}: {
  deps: SubgraphDeps;
  kind: ThreatKind;
  key: ThreatKey;
  windowStart: Date;
}): Promise<Date> {
  const cleared = await deps.db.prisma.threat.findFirst({
    where: { ...keyWhere(kind, key), status: 'false_positive', updatedAt: { gt: windowStart } },
    orderBy: { updatedAt: 'desc' },
    select: { updatedAt: true },
  });
  return cleared ? cleared.updatedAt : windowStart;
}

/**
 * One active threat per kind and key: concurrent failures are serialised on an advisory lock
 * so two of them cannot both open a row.
 */
async function openOrUpdateThreat({
  deps,
  now,
  mode,
  kind,
  count,
  key,
  fields,
  details,
}: {
  deps: SubgraphDeps;
  now: Date;
  mode: DetectionMode;
  kind: ThreatKind;
  count: number;
  key: ThreatKey;
  fields: { tenantId: string | null; ip: string | null; email: string | null; userId: string | null };
  details: Record<string, unknown>;
}): Promise<void> {
  const rule = DETECTION_RULES[kind];
  const blockedUntil = new Date(now.getTime() + rule.blockMs);
  const severity = severityFor(kind, count);
  const lockKey = `threat:${kind}:${'ip' in key ? key.ip : `${key.tenantId ?? ''}:${key.email}`}`;
  await deps.db.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
    await expireBlocks(tx, now, keyWhere(kind, key));
    const active = await tx.threat.findFirst({
      where: { ...keyWhere(kind, key), status: 'active' },
      orderBy: { detectedAt: 'desc' },
    });
    if (active) {
      await tx.threat.update({
        where: { id: active.id },
        data: {
          attempts: Math.max(active.attempts, count),
          severity: moreSevere(active.severity, severity),
          blockedUntil:
            mode === 'measure' || (active.blockedUntil && active.blockedUntil > blockedUntil)
              ? active.blockedUntil
              : blockedUntil,
          userId: active.userId ?? fields.userId,
          details: { ...(active.details as Record<string, unknown>), ...details, last_attempt_at: now.toISOString() },
        },
      });
      return;
    }
    if (mode === 'measure') return;
    await tx.threat.create({
      data: {
        id: newId('thr'),
        kind,
        severity,
        status: 'active',
        attempts: count,
        blockedUntil,
        detectedAt: now,
        ...fields,
        details: { ...details, last_attempt_at: now.toISOString() } as Prisma.InputJsonValue,
      },
    });
  });
}

function moreSevere(a: string, b: ThreatSeverity): string {
  const rank = (s: string) => {
    const i = THREAT_SEVERITIES.indexOf(s as ThreatSeverity);
    return i === -1 ? THREAT_SEVERITIES.length : i;
  };
  return rank(a) <= rank(b) ? a : b;
}

/**
 * A block that has run out makes its threat 'mitigated'. Done lazily wherever threats are read
 * (detection, the list, status changes) rather than by a timer: the answer is the same and no
 * job has to run on time. assertNotBlocked needs no update: it compares blocked_until itself.
 */
async function expireBlocks(
  client: Pick<Prisma.TransactionClient, 'threat'>,
  now: Date,
  where: Prisma.ThreatWhereInput = {},
): Promise<void> {
  await client.threat.updateMany({
    where: { ...where, status: 'active', blockedUntil: { lte: now } },
    data: { status: 'mitigated' },
  });
}

/**
 * The one answer for an account that may not sign in for a while, whether its own failure
 * counter locked it (a real account) or a burst against its email did (any email, real or not):
 * the same code, message and details, so the lockout never tells which accounts exist.
 */
export function accountLockedError(until: Date, now: Date): AppError {
  return new AppError('ACCOUNT_LOCKED', 'Too many failed sign-in attempts: the account is temporarily locked', {
    locked_until: until.toISOString(),
    retry_after_seconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)),
  });
}

/**
 * Throws while an active threat blocks this ip (ACCESS_BLOCKED) or this account (ACCOUNT_LOCKED,
 * the answer a locked real account gets). Login calls it
 * before checking the password, so a blocked attacker learns nothing and costs no argon2 hash.
 * Both lookups are served by indexes: threats(ip, status) and threats(tenant_id, detected_at).
 */
export async function assertNotBlocked({
  deps,
  ip,
  directory,
  email,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  ip?: string | null;
  directory: string;
  email: string;
  now?: Date;
}): Promise<void> {
  const blocking: Prisma.ThreatWhereInput[] = [
    {
      kind: 'failed_login_burst_account',
      tenantId: tenantIdOfDirectory(directory),
      email: email.toLowerCase(),
    },
  ];
  if (ip) blocking.push({ kind: { in: ['failed_login_burst_ip', 'credential_stuffing'] }, ip });
  const threats = await deps.db.prisma.threat.findMany({
    where: { status: 'active', blockedUntil: { gt: now }, OR: blocking },
    select: { id: true, kind: true, blockedUntil: true, details: true },
  });
  // The tenant id names the directory (null: `accounts`); the directory recorded on the threat
  // is compared too, so a directory of another shape could never match by a shared null.
  const threat = threats.find(
    (t) =>
      t.kind !== 'failed_login_burst_account' ||
      (t.details as { directory?: unknown } | null)?.directory === undefined ||
      (t.details as { directory?: unknown }).directory === directory,
  );
  if (!threat?.blockedUntil) return;
  if (threat.kind === 'failed_login_burst_account') throw accountLockedError(threat.blockedUntil, now);
  const retryAfter = Math.max(1, Math.ceil((threat.blockedUntil.getTime() - now.getTime()) / 1000));
  throw new AppError('ACCESS_BLOCKED', 'Sign-in is temporarily blocked after repeated failed attempts', {
    reason: threat.kind,
    blocked_until: threat.blockedUntil.toISOString(),
    retry_after_seconds: retryAfter,
  });
}

const listThreatsInput = z.object({
  severity: z.enum(THREAT_SEVERITIES).nullish(),
  status: z.enum(THREAT_STATUSES).nullish(),
  startDate: z.coerce.date().nullish(),
  ...pageInput(),
});

/** Loose on purpose: GraphQL and REST pass strings, and the zod schema above says what is valid. */
export interface ListThreatsInput {
  severity?: string | null;
  status?: string | null;
  startDate?: Date | string | null;
  page?: number | null;
  limit?: number | null;
}

export interface ThreatPage {
  threats: Threat[];
  pagination: Pagination;
}

/** A tenant-bound caller sees its tenant's threats; the operator sees all; anyone else nothing. */
function threatScope(principal: Principal): Prisma.ThreatWhereInput {
  if (principal.tenantId !== null) return { tenantId: principal.tenantId };
  if (principal.kind === 'operator') return {};
  // A project's owner or key could only be shown tenants identity cannot map to its project.
  throw new AppError('FORBIDDEN', 'Threats are visible to a tenant administrator or the operator');
}

export async function listThreats({
  deps,
  principal,
  input,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: ListThreatsInput;
  now?: Date;
}): Promise<ThreatPage> {
  requireScope(principal, 'admin:security');
  const data = parseInput(listThreatsInput, input);
  const scope = threatScope(principal);
  await expireBlocks(deps.db.prisma, now, scope);
  const where: Prisma.ThreatWhereInput = {
    ...scope,
    ...(data.severity ? { severity: data.severity } : {}),
    ...(data.status ? { status: data.status } : {}),
    ...(data.startDate ? { detectedAt: { gte: data.startDate } } : {}),
  };
  const [threats, total] = await Promise.all([
    deps.db.prisma.threat.findMany({
      where,
      orderBy: [{ detectedAt: 'desc' }, { id: 'asc' }],
      skip: (data.page - 1) * data.limit,
      take: data.limit,
    }),
    deps.db.prisma.threat.count({ where }),
  ]);
  return { threats, pagination: paginationOf(data, total) };
}

const updateThreatStatusInput = z.object({
  id: z.string().min(1),
  status: z.enum(THREAT_STATUSES),
});

/**
 * mitigated or false_positive lifts the block at once (blocked_until becomes now, kept as the
 * moment it ended); back to active re-blocks for the kind's full duration.
 */
export async function updateThreatStatus({
  deps,
  principal,
  input,
  now = new Date(),
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: { id: string; status: string };
  now?: Date;
}): Promise<Threat> {
  requireScope(principal, 'admin:security');
  const data = parseInput(updateThreatStatusInput, input);
  const scope = threatScope(principal);
  const threat = await deps.db.prisma.threat.findFirst({ where: { ...scope, id: data.id } });
  // Another tenant's threat is answered exactly like a missing one.
  if (!threat) throw new AppError('NOT_FOUND', 'Threat not found', { id: data.id });
  const kind = THREAT_KINDS.find((k) => k === threat.kind);
  const blockedUntil =
    data.status === 'active'
      ? new Date(now.getTime() + (kind ? DETECTION_RULES[kind].blockMs : 15 * 60_000))
      : threat.blockedUntil && threat.blockedUntil < now
        ? threat.blockedUntil
        : now;
  return deps.db.prisma.threat.update({
    where: { id: threat.id },
    data: {
      status: data.status,
      blockedUntil,
      details: {
        ...(threat.details as Record<string, unknown>),
        status_changed_by: principal.id,
        status_changed_at: now.toISOString(),
      },
    },
  });
}
