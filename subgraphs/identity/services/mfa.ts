import { randomInt } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import type { Logger } from '../../../lib/logger.js';
import { requirePrincipal, type Principal } from '../../../lib/principal.js';
import { safeEqual, sha256Hex } from '../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { MfaFactor, User } from '../../../prisma/generated/client.js';

/**
 * Multi-factor authentication: TOTP (RFC 6238, 6 digits, 30 s, SHA-1 as every authenticator
 * app expects), a code sent by email, and one-time backup codes. SMS needs a provider this
 * deployment does not have. A factor is pending until its first code is verified; only verified
 * factors are asked for at sign-in.
 */
export const MFA_METHODS = ['totp', 'email', 'sms'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

/** Shown by authenticator apps next to the account. */
export const TOTP_ISSUER = 'Platform';
const TOTP_PERIOD_S = 30;
const TOTP_DIGITS = 6;
/** Codes from one step either side are accepted: clocks drift and people type slowly. */
const TOTP_WINDOW = 1;
const EMAIL_CODE_TTL_MS = 10 * 60_000;
export const BACKUP_CODE_COUNT = 10;
const BACKUP_CODE_LENGTH = 8;
/** No 0/O or 1/I: codes are read off paper. 32 symbols: 40 bits per code. */
const BACKUP_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function totpFor(secret: string, label = ''): TOTP {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_S,
    secret: Secret.fromBase32(secret),
  });
}

/**
 * The time step a TOTP code belongs to, or null. Every step of the window is compared in
 * constant time and none returns early, so timing tells nothing about which step was near.
 */
export function matchTotpStep(secret: string, code: string, now = Date.now()): number | null {
  const totp = totpFor(secret);
  const current = Math.floor(now / 1000 / TOTP_PERIOD_S);
  let matched: number | null = null;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    const expected = totp.generate({ timestamp: step * TOTP_PERIOD_S * 1000 });
    if (safeEqual(code, expected) && matched === null) matched = step;
  }
  return matched;
}

function randomBackupCode(): string {
  let code = '';
  for (let i = 0; i < BACKUP_CODE_LENGTH; i++) code += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
  return code;
}

/** Users type backup codes with spaces, dashes or in lower case. */
function normalizeBackupCode(code: string): string | null {
  const normalized = code.replace(/[\s-]/g, '').toUpperCase();
  return new RegExp(`^[${BACKUP_ALPHABET}]{${BACKUP_CODE_LENGTH}}$`).test(normalized) ? normalized : null;
}

function randomEmailCode(): string {
  return String(randomInt(0, 10 ** TOTP_DIGITS)).padStart(TOTP_DIGITS, '0');
}

function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}***@${domain}`;
}

const SMTP_MISSING = 'Email MFA needs SMTP: set SMTP_URL and SMTP_FROM to send codes by email';

/**
 * Mails a fresh code and returns what to store: its hash and expiry. Sent before anything is
 * stored, so a mail server that is down changes nothing (no half-started enrolment, no lost
 * backup codes); the code then replaces the previous one.
 */
async function deliverEmailCode(
  deps: SubgraphDeps,
  to: string,
  purpose: 'enrol' | 'login',
  logger: Logger | undefined,
): Promise<{ codeHash: string; codeExpiresAt: Date }> {
  if (!deps.mailer) throw new AppError('NOT_CONFIGURED', SMTP_MISSING, { method: 'email' });
  const code = randomEmailCode();
  try {
    await deps.mailer.send({
      to,
      subject: purpose === 'enrol' ? 'Confirm your sign-in verification email' : 'Your sign-in verification code',
      text:
        `Your verification code is ${code}\n\n` +
        `It expires in ${EMAIL_CODE_TTL_MS / 60_000} minutes and works once. ` +
        (purpose === 'enrol'
          ? `If you did not ask to turn on email verification, change your password.\n`
          : `If you did not try to sign in, change your password.\n`),
    });
  } catch (error) {
    // The SMTP server's own words go to the log, not to the caller.
    logger?.error({ err: error }, 'sending an MFA email code failed');
    throw new AppError('SERVICE_UNAVAILABLE', 'The verification email could not be sent: try again later', {
      method: 'email',
    });
  }
  return { codeHash: sha256Hex(code), codeExpiresAt: new Date(Date.now() + EMAIL_CODE_TTL_MS) };
}

/**
 * Checks a code against one factor and consumes it: a TOTP step or an email code is accepted
 * once. The consuming update is conditional, so two concurrent uses of one code cannot both win.
 */
async function consumeFactorCode(deps: SubgraphDeps, factor: MfaFactor, code: string): Promise<boolean> {
  if (factor.method === 'totp' && factor.secret) {
    const step = matchTotpStep(deps.secretBox.open(factor.secret), code);
    if (step === null) return false;
    const claimed = await deps.db.prisma.mfaFactor.updateMany({
      where: {
        id: factor.id,
        OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: BigInt(step) } }],
      },
      data: { lastUsedStep: BigInt(step) },
    });
    return claimed.count === 1;
  }
  if (factor.method === 'email') {
    if (!factor.codeHash || !factor.codeExpiresAt || factor.codeExpiresAt <= new Date()) return false;
    if (!safeEqual(sha256Hex(code), factor.codeHash)) return false;
    const claimed = await deps.db.prisma.mfaFactor.updateMany({
      where: { id: factor.id, codeHash: factor.codeHash },
      data: { codeHash: null, codeExpiresAt: null },
    });
    return claimed.count === 1;
  }
  return false;
}

/** Backup codes are hashed with argon2id: 40 bits would not survive a leaked table behind a fast hash. */
async function consumeBackupCode(deps: SubgraphDeps, userId: string, code: string): Promise<boolean> {
  const normalized = normalizeBackupCode(code);
  if (!normalized) return false;
  const unused = await deps.db.prisma.mfaBackupCode.findMany({ where: { userId, usedAt: null } });
  // Every unused code is checked, matched or not, so the time taken does not say which one matched.
  const results = await Promise.all(unused.map((row) => argon2Verify(row.codeHash, normalized).catch(() => false)));
  const match = unused.find((_, i) => results[i]);
  if (!match) return false;
  const claimed = await deps.db.prisma.mfaBackupCode.updateMany({
    where: { id: match.id, usedAt: null },
    data: { usedAt: new Date() },
  });
  return claimed.count === 1;
}

/**
 * The second step of sign-in, called after the password has been verified. No-op for a user
 * without a verified factor. Without a code: MFA_REQUIRED, naming the enrolled methods (and
 * sending a fresh email code when email is one of them). With a wrong code: INVALID_MFA_CODE.
 * It does not count failures itself: the caller's per-account lockout counts INVALID_MFA_CODE
 * like a wrong password, which bounds guessing to that lockout's limit.
 */
export async function verifyLoginMfa({
  deps,
  user,
  code,
  logger,
}: {
  deps: SubgraphDeps;
  user: Pick<User, 'id'>;
  code?: string | null;
  logger?: Logger;
}): Promise<void> {
  const factors = await deps.db.prisma.mfaFactor.findMany({
    where: { userId: user.id, verifiedAt: { not: null } },
    orderBy: { createdAt: 'asc' },
  });
  if (factors.length === 0) return;
  const methods = factors.map((f) => f.method);
  const given = code?.trim();
  if (!given) {
    const details: Record<string, unknown> = { methods, backup_codes: true };
    const email = factors.find((f) => f.method === 'email');
    if (email) {
      try {
        if (!email.destination) throw new Error('email factor without a destination');
        const code = await deliverEmailCode(deps, email.destination, 'login', logger);
        await deps.db.prisma.mfaFactor.update({ where: { id: email.id }, data: code });
        details.email_code_sent = true;
      } catch (error) {
        // The other methods may still be usable, so the answer stays MFA_REQUIRED.
        logger?.error({ err: error, userId: user.id }, 'sending the MFA email code failed');
        details.email_code_sent = false;
      }
    }
    throw new AppError('MFA_REQUIRED', 'A verification code is required to complete sign-in', details);
  }
  for (const factor of factors) {
    if (await consumeFactorCode(deps, factor, given)) return;
  }
  if (await consumeBackupCode(deps, user.id, given)) return;
  throw new AppError('INVALID_MFA_CODE', 'The verification code is invalid or has already been used', { methods });
}

async function requireUser(deps: SubgraphDeps, principal: Principal | null): Promise<User> {
  const p = requirePrincipal(principal);
  if (p.kind !== 'user') throw new AppError('FORBIDDEN', 'MFA is managed by a signed-in user for their own account');
  const user = await deps.db.prisma.user.findUnique({ where: { id: p.id } });
  if (!user || user.status !== 'active') throw new AppError('UNAUTHORIZED', 'Authentication required');
  return user;
}

/** A fresh set replaces all earlier codes, used or not: only the newest printout is valid. */
async function issueBackupCodes(): Promise<{ codes: string[]; hashes: string[] }> {
  const codes = Array.from({ length: BACKUP_CODE_COUNT }, randomBackupCode);
  const hashes = await Promise.all(codes.map((c) => argon2Hash(c)));
  return { codes, hashes };
}

const enableMfaInput = z
  .object({
    method: z.enum(MFA_METHODS),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number such as +14155550100')
      .optional()
      .nullable(),
  })
  .refine((v) => v.method !== 'sms' || !!v.phone, { path: ['phone'], message: 'phone is required for sms' });

export interface MfaEnrolment {
  method: MfaMethod;
  /** TOTP only: the base32 secret, for typing into an app that cannot scan. */
  secret: string | null;
  /** TOTP only: a PNG data URL of the otpauth URI. */
  qrCode: string | null;
  otpauthUri: string | null;
  /** Email only: where the code was sent, masked. */
  destination: string | null;
  codeSent: boolean;
  /** Shown once, here; stored hashed. */
  backupCodes: string[];
}

/**
 * Starts enrolment of a method. The factor stays pending (not asked for at sign-in) until
 * verifyMfaEnrolment sees a valid code. Re-enabling a pending method restarts it with a new
 * secret; a verified method must be kept as is.
 */
export async function enableMfa({
  deps,
  principal,
  input,
  logger,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  logger?: Logger;
  /** Loose: the zod schema says what is valid, so every transport gets the same VALIDATION_ERROR. */
  input: { method: string; phone?: string | null };
}): Promise<MfaEnrolment> {
  const user = await requireUser(deps, principal);
  const data = parseInput(enableMfaInput, input);
  if (data.method === 'sms') {
    throw new AppError('NOT_CONFIGURED', 'SMS MFA needs an SMS provider, and none is configured on this deployment', {
      method: 'sms',
    });
  }
  const existing = await deps.db.prisma.mfaFactor.findUnique({
    where: { userId_method: { userId: user.id, method: data.method } },
  });
  if (existing?.verifiedAt) {
    throw new AppError('CONFLICT', `MFA method ${data.method} is already enabled`, { method: data.method });
  }
  const secret = data.method === 'totp' ? new Secret({ size: 20 }).base32 : null;
  const destination = data.method === 'email' ? user.email : null;
  const emailCode = destination ? await deliverEmailCode(deps, destination, 'enrol', logger) : null;
  const backup = await issueBackupCodes();
  await deps.db.prisma.$transaction(async (tx) => {
    const fields = {
      // Sealed: the shared secret is needed in clear to check codes, but not readable from a dump.
      secret: secret === null ? null : deps.secretBox.seal(secret),
      destination,
      codeHash: emailCode?.codeHash ?? null,
      codeExpiresAt: emailCode?.codeExpiresAt ?? null,
    };
    await tx.mfaFactor.upsert({
      where: { userId_method: { userId: user.id, method: data.method } },
      create: { id: newId('mfa'), userId: user.id, method: data.method, ...fields },
      update: { ...fields, verifiedAt: null, lastUsedStep: null },
    });
    await tx.mfaBackupCode.deleteMany({ where: { userId: user.id } });
    await tx.mfaBackupCode.createMany({
      data: backup.hashes.map((codeHash) => ({ id: newId('mbc'), userId: user.id, codeHash })),
    });
  });

  if (data.method === 'totp' && secret) {
    const otpauthUri = totpFor(secret, user.email).toString();
    return {
      method: 'totp',
      secret,
      qrCode: await QRCode.toDataURL(otpauthUri, { type: 'image/png', errorCorrectionLevel: 'M' }),
      otpauthUri,
      destination: null,
      codeSent: false,
      backupCodes: backup.codes,
    };
  }
  return {
    method: 'email',
    secret: null,
    qrCode: null,
    otpauthUri: null,
    destination: maskEmail(user.email),
    codeSent: true,
    backupCodes: backup.codes,
  };
}

const verifyMfaInput = z.object({
  method: z.enum(MFA_METHODS),
  code: z.string().trim().min(1).max(32),
});

export interface MfaFactorStatus {
  method: string;
  enabled: boolean;
  verifiedAt: Date | null;
  createdAt: Date;
}

function factorStatus(f: MfaFactor): MfaFactorStatus {
  return { method: f.method, enabled: f.verifiedAt !== null, verifiedAt: f.verifiedAt, createdAt: f.createdAt };
}

/** Confirms enrolment with a code from the new factor; from then on sign-in asks for a code. */
export async function verifyMfaEnrolment({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: { method: string; code: string };
}): Promise<MfaFactorStatus> {
  const user = await requireUser(deps, principal);
  const data = parseInput(verifyMfaInput, input);
  const factor = await deps.db.prisma.mfaFactor.findUnique({
    where: { userId_method: { userId: user.id, method: data.method } },
  });
  if (!factor) {
    throw new AppError('NOT_FOUND', `MFA method ${data.method} has not been enabled: enable it first`, {
      method: data.method,
    });
  }
  if (!(await consumeFactorCode(deps, factor, data.code))) {
    throw new AppError('INVALID_MFA_CODE', 'The verification code is invalid or has already been used', {
      method: data.method,
    });
  }
  const verified = factor.verifiedAt
    ? factor
    : await deps.db.prisma.mfaFactor.update({ where: { id: factor.id }, data: { verifiedAt: new Date() } });
  return factorStatus(verified);
}

/** The signed-in user's factors, pending ones included. */
export async function listMfaFactors({
  deps,
  principal,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<MfaFactorStatus[]> {
  const user = await requireUser(deps, principal);
  const factors = await deps.db.prisma.mfaFactor.findMany({
    where: { userId: user.id },
    orderBy: { createdAt: 'asc' },
  });
  return factors.map(factorStatus);
}
