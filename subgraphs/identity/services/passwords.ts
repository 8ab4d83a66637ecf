import { randomBytes } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { AppError } from '../../../lib/errors.js';

/**
 * Password hashing and policy.
 *
 * Hashing: argon2id with OWASP's recommended minimum (Password Storage Cheat Sheet): 19 MiB of
 * memory, 2 iterations, 1 lane. About 20-30 ms per hash on this machine's class of CPU: slow for
 * an attacker with a stolen table, fast enough that sign-in stays snappy.
 *
 * Policy (NIST SP 800-63B style: length and a blocklist, no composition rules):
 * - 12 to 128 characters, counted as Unicode code points after NFKC normalisation (the cap
 *   bounds the hashing work a single request can ask for);
 * - not one of a small list of the most common passwords (compared case-insensitively);
 * - not the account's email address, nor its local part (`alice` of alice@example.com).
 */
// The package declares Algorithm as an ambient const enum, which isolatedModules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * The most common passwords that are 12 characters or longer (shorter ones are refused by length
 * already), from the public breach-corpus top lists.
 */
const COMMON_PASSWORDS = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '123456789123',
  '1q2w3e4r5t6y',
  '1qaz2wsx3edc',
  'qwertyuiopasdfghjkl',
  'qwertyuiop123',
  'qwerty123456',
  'qwertyqwerty',
  'password1234',
  'password12345',
  'password123456',
  'password123!',
  'passwordpassword',
  'p@ssword1234',
  'p@ssw0rd1234',
  'iloveyou1234',
  'abc123456789',
  'abcdefghijkl',
  'abcd12345678',
  'aaaaaaaaaaaa',
  '111111111111',
  '000000000000',
  '987654321098',
  'letmein12345',
  'welcome12345',
  'welcome123456',
  'administrator',
  'administrator1',
  'changeme1234',
  'changemenow!',
  'trustno1trustno1',
  'football1234',
  'baseball1234',
  'superman1234',
  'starwars1234',
  'sunshine1234',
  'princess1234',
  'dragon123456',
  'monkey123456',
  'master123456',
  'whatever1234',
  'qazwsxedcrfv',
  'zaq12wsxcde3',
  '1q2w3e4r5t6y7u',
  'asdfghjkl123',
  'zxcvbnm12345',
  'mypassword123',
  'secretpassword',
  'securepassword',
  'securepassword1',
  'securepassword123',
  'securepassword123!',
  'correcthorsebatterystaple',
]);

/** What every password is compared and hashed as: canonical Unicode, so the same typed text always matches. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Throws VALIDATION_ERROR listing every rule the password breaks. */
export function assertPasswordPolicy(password: string, context: { email: string }): void {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  const problems: string[] = [];
  if (length < PASSWORD_MIN_LENGTH) problems.push(`must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`must be at most ${PASSWORD_MAX_LENGTH} characters`);
  const lowered = normalized.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) problems.push('is too common');
  const email = context.email.toLowerCase();
  const localPart = email.split('@')[0] ?? '';
  if (lowered === email || (localPart !== '' && lowered === localPart)) problems.push('must not be your email address');
  if (problems.length > 0) {
    throw new AppError('VALIDATION_ERROR', `Password ${problems.join('; ')}`, {
      fields: problems.map((message) => ({ path: 'password', message: `Password ${message}` })),
    });
  }
}

export async function hashPassword(password: string): Promise<string> {
  return hash(normalizePassword(password), ARGON2_OPTIONS);
}

// A hash of a random password nobody knows, made with the same parameters: verifying against it
// costs what a real verification costs, so "no such user" answers as slowly as "wrong password".
let dummyHash: Promise<string> | undefined;
export function getDummyHash(): Promise<string> {
  dummyHash ??= hash(randomBytes(32).toString('hex'), ARGON2_OPTIONS);
  return dummyHash;
}

/**
 * Verifies a password against a stored hash, or against the dummy hash when there is none (an
 * unknown user, an SSO-only user): the same argon2 work either way, and a null hash never matches.
 * Input longer than the policy allows is cut to the maximum before hashing so a 1 MB "password"
 * costs no more than a real one (it cannot match anyway: no stored password is that long).
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  const candidate = [...normalizePassword(password)].slice(0, PASSWORD_MAX_LENGTH + 1).join('');
  const target = storedHash ?? (await getDummyHash());
  let matches: boolean;
  try {
    matches = await verify(target, candidate);
  } catch {
    // A corrupt stored hash is a failed sign-in, not a 500 that tells the caller the account exists.
    matches = false;
  }
  return storedHash !== null && matches;
}

/** True when a stored hash was made with weaker parameters than today's, so login should re-hash it. */
export function needsRehash(storedHash: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
  if (!match) return true;
  const [, m, t, p] = match.map(Number);
  return m! < ARGON2_OPTIONS.memoryCost || t! < ARGON2_OPTIONS.timeCost || p! !== ARGON2_OPTIONS.parallelism;
}
