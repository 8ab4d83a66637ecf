import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { AppError } from '../../../../lib/errors.js';
import type { SecretBox } from '../../../../lib/secret-box.js';

/**
 * The stored form of a system backup: JSON, gzip-compressed, then AES-256-GCM with a key derived
 * from the platform's secrets key (SECRETS_ENCRYPTION_KEY) for this one purpose. Layout:
 * `PSB1` | flags (1 byte: 1 = gzip, 2 = encrypted) | [iv 12 | tag 16] | body.
 * Every process sharing the secrets key can read it; a database dump or a copied object cannot.
 */

const MAGIC = Buffer.from('PSB1');
const FLAG_GZIP = 1;
const FLAG_ENCRYPTED = 2;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Bounds the unpacked archive, so a hostile or corrupt object cannot exhaust memory on restore. */
export const MAX_ARCHIVE_BYTES = 256 * 1024 * 1024;

function backupKey(secretBox: SecretBox): Buffer {
  // derive() is HMAC-SHA-256: 32 bytes, the AES-256 key size.
  return Buffer.from(secretBox.derive('system-backup:v1'), 'base64url');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function packArchive(
  plain: Buffer,
  options: { compress: boolean; encrypt: boolean; secretBox: SecretBox },
): Promise<Buffer> {
  let body = options.compress ? await gzipAsync(plain, { level: 6 }) : plain;
  let flags = options.compress ? FLAG_GZIP : 0;
  const parts: Buffer[] = [];
  if (options.encrypt) {
    flags |= FLAG_ENCRYPTED;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', backupKey(options.secretBox), iv);
    // The header is authenticated too: flipping the flags cannot make a reader skip decryption.
    cipher.setAAD(Buffer.concat([MAGIC, Buffer.from([flags])]));
    body = Buffer.concat([cipher.update(body), cipher.final()]);
    parts.push(iv, cipher.getAuthTag());
  }
  return Buffer.concat([MAGIC, Buffer.from([flags]), ...parts, body]);
}

export async function unpackArchive(stored: Buffer, secretBox: SecretBox): Promise<Buffer> {
  if (stored.length < 5 || !stored.subarray(0, 4).equals(MAGIC)) {
    throw new AppError('VALIDATION_ERROR', 'Not a system backup archive');
  }
  const flags = stored[4]!;
  let offset = 5;
  let body: Buffer;
  if (flags & FLAG_ENCRYPTED) {
    const iv = stored.subarray(offset, offset + 12);
    const tag = stored.subarray(offset + 12, offset + 28);
    offset += 28;
    const decipher = createDecipheriv('aes-256-gcm', backupKey(secretBox), iv);
    decipher.setAAD(stored.subarray(0, 5));
    decipher.setAuthTag(tag);
    try {
      body = Buffer.concat([decipher.update(stored.subarray(offset)), decipher.final()]);
    } catch {
      throw new AppError('VALIDATION_ERROR', 'The backup archive does not decrypt with this platform’s secrets key');
    }
  } else {
    body = stored.subarray(offset);
  }
  if (flags & FLAG_GZIP) body = await gunzipAsync(body, { maxOutputLength: MAX_ARCHIVE_BYTES });
  return body;
}
