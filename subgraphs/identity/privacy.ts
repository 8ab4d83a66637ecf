import { randomBytes } from 'node:crypto';
import type { PrivacyHook, PrivacySubject } from '../../lib/subgraph/privacy.js';
import type { Prisma } from '../../prisma/generated/client.js';
import { releasedEmail } from './services/users.js';

/** Each section is capped so one export stays a reasonable download; the cap is stated in the archive. */
const SECTION_LIMIT = 10_000;

export function erasedEmail(userId: string): string {
  return releasedEmail(userId, 'erased');
}

/** Removes every string equal to the user's email, at any depth, from an audit entry's details. */
function scrubValue(value: unknown, email: string): unknown {
  if (typeof value === 'string') return value.toLowerCase() === email ? '[erased]' : value;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, email));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubValue(item, email)]));
  }
  return value;
}

async function exportUserData({ deps, userId }: PrivacySubject): Promise<Record<string, unknown>> {
  const prisma = deps.db.prisma;
  const user = await prisma.user.findUnique({ where: { id: userId } });
  if (!user) return { profile: null, note: 'No account with this id exists any more' };
  const take = SECTION_LIMIT;
  const [
    consents,
    factors,
    backupCodes,
    sessions,
    ssoIdentities,
    loginAttempts,
    auditAsActor,
    auditAsSubject,
    dataRequests,
    threats,
    projects,
  ] = await Promise.all([
    prisma.consentRecord.findMany({ where: { userId }, orderBy: { createdAt: 'asc' }, take }),
    // Secrets, code hashes and replay counters are credentials, not information about the person.
    prisma.mfaFactor.findMany({
      where: { userId },
      select: { id: true, method: true, destination: true, verifiedAt: true, createdAt: true },
    }),
    prisma.mfaBackupCode.findMany({ where: { userId }, select: { usedAt: true } }),
    prisma.refreshToken.findMany({
      where: { userId },
      select: {
        id: true,
        familyId: true,
        createdAt: true,
        expiresAt: true,
        usedAt: true,
        revokedAt: true,
        ip: true,
        userAgent: true,
      },
      orderBy: { createdAt: 'asc' },
      take,
    }),
    prisma.ssoIdentity.findMany({
      where: { userId },
      select: { connectionId: true, subject: true, createdAt: true },
    }),
    prisma.loginAttempt.findMany({
      where: { OR: [{ userId }, { directory: user.directory, email: user.email }] },
      select: { createdAt: true, ip: true, userAgent: true, success: true, reason: true },
      orderBy: { createdAt: 'asc' },
      take,
    }),
    prisma.auditLog.findMany({ where: { actorId: userId }, orderBy: { createdAt: 'asc' }, take }),
    prisma.auditLog.findMany({
      where: { resourceId: userId, NOT: { actorId: userId } },
      orderBy: { createdAt: 'asc' },
      take,
    }),
    prisma.dataRequest.findMany({
      where: { userId },
      select: {
        id: true,
        kind: true,
        status: true,
        reason: true,
        requestedAt: true,
        completedAt: true,
        expiresAt: true,
      },
      orderBy: { requestedAt: 'asc' },
    }),
    prisma.threat.findMany({
      where: { userId },
      select: { kind: true, severity: true, status: true, ip: true, attempts: true, detectedAt: true },
      orderBy: { detectedAt: 'asc' },
      take,
    }),
    prisma.project.findMany({ where: { ownerId: userId }, select: { id: true, name: true, createdAt: true } }),
  ]);
  return {
    profile: {
      id: user.id,
      tenant_id: user.tenantId,
      email: user.email,
      name: user.name,
      roles: user.roles,
      status: user.status,
      has_password: user.passwordHash !== null,
      last_login_at: user.lastLoginAt,
      created_at: user.createdAt,
      updated_at: user.updatedAt,
      deleted_at: user.deletedAt,
    },
    consents: consents.map((c) => ({
      category: c.category,
      granted: c.granted,
      version: c.version,
      created_at: c.createdAt,
      ip: c.ip,
    })),
    mfa_factors: factors,
    mfa_backup_codes: { total: backupCodes.length, unused: backupCodes.filter((c) => c.usedAt === null).length },
    sessions,
    sso_identities: ssoIdentities,
    login_attempts: loginAttempts,
    audit_entries_as_actor: auditAsActor,
    audit_entries_about_user: auditAsSubject,
    data_requests: dataRequests,
    security_threats: threats,
    owned_projects: projects,
    limits: { entries_per_section: SECTION_LIMIT },
  };
}

/**
 * Deletes what exists only for the person (consents, MFA, sessions, SSO links, sign-in attempts,
 * earlier export archives) and anonymizes what must outlive them:
 * - audit entries are kept, because the audit log is the tenant's record of what happened (a
 *   security and legal obligation, GDPR art. 17(3)(b)/(e)), and deleting an actor's rows would
 *   leave holes in it. The actor id is replaced by a pseudonym drawn at random for this erasure
 *   (consistent across the user's rows, not derivable from the user id), and ip, user agent and
 *   any copy of the email in the details are removed.
 * - the users row stays, marked deleted, because other rows (this erasure's request, projects)
 *   point to it; its email becomes `erasedEmail(id)` so the person can sign up again with theirs.
 * - threats detected against the account keep their attacker data but lose the user's email and id.
 */
async function eraseUserData({ deps, userId }: PrivacySubject) {
  const prisma = deps.db.prisma;
  const user = await prisma.user.findUnique({ where: { id: userId } });
  if (!user) return { erased: 0, anonymized: 0, notes: ['No account with this id exists'] };
  const email = user.email;
  const pseudonym = `anon_${randomBytes(10).toString('hex')}`;
  const notes: string[] = [];

  const auditRows = await prisma.auditLog.findMany({
    where: { OR: [{ actorId: userId }, { resourceId: userId }] },
    select: { id: true, actorId: true, resourceId: true, details: true },
  });
  let erased = 0;
  let anonymized = 0;
  await prisma.$transaction(
    async (tx) => {
      const deleted = await Promise.all([
        tx.consentRecord.deleteMany({ where: { userId } }),
        tx.mfaFactor.deleteMany({ where: { userId } }),
        tx.mfaBackupCode.deleteMany({ where: { userId } }),
        tx.refreshToken.deleteMany({ where: { userId } }),
        tx.ssoIdentity.deleteMany({ where: { userId } }),
        tx.loginAttempt.deleteMany({ where: { OR: [{ userId }, { directory: user.directory, email }] } }),
      ]);
      erased += deleted.reduce((sum, r) => sum + r.count, 0);
      const archives = await tx.dataRequest.updateMany({
        where: { userId, archive: { not: null } },
        data: { archive: null, archiveName: null, expiresAt: new Date() },
      });
      erased += archives.count;
      const threats = await tx.threat.updateMany({
        where: { OR: [{ userId }, { email }] },
        data: { userId: null, email: null },
      });
      anonymized += threats.count;
      for (const row of auditRows) {
        await tx.auditLog.update({
          where: { id: row.id },
          data: {
            ...(row.actorId === userId ? { actorId: pseudonym, ip: null, userAgent: null } : {}),
            ...(row.resourceId === userId ? { resourceId: pseudonym } : {}),
            details: scrubValue(row.details, email) as Prisma.InputJsonValue,
          },
        });
      }
      anonymized += auditRows.length;
      if (user.email !== erasedEmail(userId)) {
        const now = new Date();
        await tx.user.update({
          where: { id: userId },
          data: {
            email: erasedEmail(userId),
            name: 'Deleted user',
            roles: [],
            status: 'deleted',
            passwordHash: null,
            failedLoginCount: 0,
            lockedUntil: null,
            lastLoginAt: null,
            tokensValidAfter: now,
            deletedAt: user.deletedAt ?? now,
          },
        });
        anonymized += 1;
      }
      // One row update per audit entry: a long history needs more than Prisma's 5 s default.
    },
    { timeout: 120_000, maxWait: 30_000 },
  );
  const owned = await prisma.project.count({ where: { ownerId: userId, deletedAt: null } });
  if (owned > 0) {
    notes.push(
      `${owned} project(s) owned by this account were kept: deleting a project is the owner's separate decision`,
    );
  }
  return { erased, anonymized, ...(notes.length > 0 ? { notes } : {}) };
}

export const identityPrivacyHook: PrivacyHook = { subgraph: 'identity', exportUserData, eraseUserData };
