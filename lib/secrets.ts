import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Hashing and comparison for high-entropy secrets (API keys, refresh tokens, one-time codes
 * with attempt limits). Passwords are not for this: they use argon2id.
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A random secret: `<prefix><hex>` with `bytes` bytes of entropy. */
export function randomSecret(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('hex')}`;
}

/**
 * Constant-time string equality. Both sides are hashed first, so neither the content nor the
 * length of the expected value leaks through timing.
 */
export function safeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}
