import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Encryption at rest for secrets the platform must read back (access-token signing keys, SSO
 * client secrets, TOTP secrets, database login passwords shown in connection strings): AES-256-GCM
 * with a random IV per value, stored as `sb1:<iv>.<tag>.<ciphertext>` (base64url). A database dump
 * alone then yields none of them. Values stored before encryption existed (no prefix) are read as
 * they are and sealed the next time they are written.
 */
export interface SecretBox {
  seal(plaintext: string): string;
  open(stored: string): string;
  /**
   * A secret derived from the key for one purpose (HMAC-SHA-256 of the label, base64url): the
   * same in every process sharing the key, so a credential made from it need not be stored.
   */
  derive(label: string): string;
}

const PREFIX = 'sb1:';

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('The secrets key must be 32 bytes');
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'));
      return `${PREFIX}${parts.join('.')}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const [iv, tag, ciphertext] = stored
        .slice(PREFIX.length)
        .split('.')
        .map((p) => Buffer.from(p, 'base64url'));
      if (!iv || !tag || !ciphertext) throw new Error('Malformed sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    },
    derive(label) {
      // Domain-separated from sealing by the prefix: no sealed value is ever an HMAC input.
      return createHmac('sha256', key).update(`derive:v1:${label}`).digest('base64url');
    },
  };
}

const KEY_FILE = 'secrets.key';

/**
 * SECRETS_ENCRYPTION_KEY (64 hex) when set — required in production, the same in every process.
 * Otherwise (embedded default) a key generated on first start and kept in DATA_DIR beside the
 * data it protects: that protects a copied database dump, not a copied data folder.
 */
export async function loadSecretsKey(options: { configured: string | undefined; dataDir: string }): Promise<Buffer> {
  if (options.configured) return Buffer.from(options.configured, 'hex');
  const file = join(options.dataDir, KEY_FILE);
  try {
    const stored = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    if (stored.length === 32) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  await mkdir(options.dataDir, { recursive: true });
  try {
    await writeFile(file, key.toString('hex'), { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process of this start wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadSecretsKey(options);
    throw error;
  }
}
