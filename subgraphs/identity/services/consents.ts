import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requirePrincipal, type ClientInfo, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { ConsentRecord } from '../../../prisma/generated/client.js';

export type { ConsentRecord };

/**
 * The categories the platform-forge privacy module documents. `necessary` is not a choice: the
 * service cannot run without those cookies/processing, so it is always granted and never recorded.
 * Other categories are refused rather than stored, so the status shape stays the documented one
 * and a typo (`analitycs`) is an error instead of a consent that nothing ever reads.
 */
export const CONSENT_CATEGORIES = ['analytics', 'marketing', 'necessary', 'preferences'] as const;
export type ConsentCategory = (typeof CONSENT_CATEGORIES)[number];
/** The categories a user chooses; each one is opt-in (false until granted), as GDPR consent must be. */
const OPTIONAL_CATEGORIES = ['analytics', 'marketing', 'preferences'] as const;
type OptionalCategory = (typeof OPTIONAL_CATEGORIES)[number];

export interface ConsentStatus {
  analytics: boolean;
  marketing: boolean;
  necessary: true;
  preferences: boolean;
  /** When the user last changed a choice; null if they never have (every optional category is off). */
  updatedAt: Date | null;
  /** The policy version of the latest change; null if none. */
  version: string | null;
}

/** A consent belongs to a person: API keys, the operator and services have none. */
function requireUser(principal: Principal | null): Principal & { kind: 'user' } {
  const p = requirePrincipal(principal);
  if (p.kind !== 'user') throw new AppError('FORBIDDEN', 'Consent is managed by the signed-in user');
  return p as Principal & { kind: 'user' };
}

/** The latest record per category is the status; reads only the newest row of each category. */
export async function readConsentStatus(deps: SubgraphDeps, userId: string): Promise<ConsentStatus> {
  const latest = await deps.db.prisma.consentRecord.findMany({
    where: { userId, category: { in: [...OPTIONAL_CATEGORIES] } },
    orderBy: [{ category: 'asc' }, { createdAt: 'desc' }, { id: 'desc' }],
    distinct: ['category'],
  });
  const status: ConsentStatus = {
    analytics: false,
    marketing: false,
    necessary: true,
    preferences: false,
    updatedAt: null,
    version: null,
  };
  for (const record of latest) {
    status[record.category as OptionalCategory] = record.granted;
    if (!status.updatedAt || record.createdAt > status.updatedAt) {
      status.updatedAt = record.createdAt;
      status.version = record.version;
    }
  }
  return status;
}

export async function getConsentStatus({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<ConsentStatus> {
  const user = requireUser(principal);
  return readConsentStatus(deps, user.id);
}

const historyInput = z.object({
  category: z.enum(CONSENT_CATEGORIES).nullish(),
  limit: z.number().int().min(1).max(500).default(100),
});

/** Newest first: the evidence of what the user agreed to, under which policy version, and when. */
export async function listConsentHistory({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof historyInput>;
}): Promise<ConsentRecord[]> {
  const user = requireUser(principal);
  const { category, limit } = parseInput(historyInput, input);
  return deps.db.prisma.consentRecord.findMany({
    where: { userId: user.id, ...(category ? { category } : {}) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit,
  });
}

const updateInput = z.object({
  consents: z
    .object({
      analytics: z.boolean().optional(),
      marketing: z.boolean().optional(),
      // Accepted when true so a client may echo the whole status back; false is impossible.
      necessary: z
        .literal(true, { error: 'necessary consent cannot be withdrawn: the service cannot run without it' })
        .optional(),
      preferences: z.boolean().optional(),
    })
    .strict(),
  consentVersion: z
    .string()
    .trim()
    .min(1)
    .max(32)
    .regex(/^[\w.-]+$/, 'a policy version such as 2.0 or 2024-01'),
});

/**
 * Appends one row per category whose choice or policy version changes, in one transaction, and
 * answers the new status. Re-sending the same choice under the same version records nothing: the
 * history holds changes, not clicks. The same choice under a new version is recorded, since the
 * user then agreed to different terms.
 */
export async function updateConsent({
  deps,
  principal,
  input,
  client,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof updateInput>;
  client: ClientInfo;
}): Promise<ConsentStatus> {
  const user = requireUser(principal);
  const data = parseInput(updateInput, input);
  const wanted = OPTIONAL_CATEGORIES.flatMap((category) => {
    const granted = data.consents[category];
    return granted === undefined ? [] : [{ category, granted }];
  });
  if (wanted.length === 0 && data.consents.necessary === undefined) {
    throw new AppError('VALIDATION_ERROR', 'consents must name at least one category', {
      fields: [{ path: 'consents', message: `one of ${CONSENT_CATEGORIES.join(', ')}` }],
    });
  }
  await deps.db.prisma.$transaction(async (tx) => {
    const account = await tx.user.findUnique({ where: { id: user.id }, select: { status: true } });
    if (!account || account.status === 'deleted') throw new AppError('UNAUTHORIZED', 'Account no longer exists');
    const current = await tx.consentRecord.findMany({
      where: { userId: user.id, category: { in: wanted.map((w) => w.category) } },
      orderBy: [{ category: 'asc' }, { createdAt: 'desc' }, { id: 'desc' }],
      distinct: ['category'],
    });
    const byCategory = new Map(current.map((record) => [record.category, record]));
    const now = new Date();
    const rows = wanted
      .filter(({ category, granted }) => {
        const last = byCategory.get(category);
        return !last || last.granted !== granted || last.version !== data.consentVersion;
      })
      .map(({ category, granted }) => ({
        id: newId('cns'),
        userId: user.id,
        category,
        granted,
        version: data.consentVersion,
        createdAt: now,
        ip: client.ip,
      }));
    if (rows.length > 0) await tx.consentRecord.createMany({ data: rows });
  });
  return readConsentStatus(deps, user.id);
}
