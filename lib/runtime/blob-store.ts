import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';

/**
 * The platform's object storage: every feature that keeps files (uploads, extension packages,
 * firmware artifacts, brand assets, exports) goes through this one interface, so the backend
 * (local folder by default, S3-compatible when configured) is chosen in one place (app/deps.ts).
 * Callers keep metadata (content type, owner, tenant) in their own rows; the store keeps bytes.
 */
export interface BlobStore {
  readonly backend: 'filesystem' | 's3';
  /**
   * Streams `body` to `key`, hashing as it goes; over `maxBytes` it stops reading, keeps nothing
   * and throws PAYLOAD_TOO_LARGE. The write is atomic: readers see the old object or the new one.
   */
  put(key: string, body: Readable | Uint8Array, options?: { maxBytes?: number }): Promise<StoredBlob>;
  /** The object's bytes; NOT_FOUND when there is none. */
  get(key: string): Promise<Readable>;
  stat(key: string): Promise<BlobInfo | null>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Objects under a prefix (`a/b/`), in no particular order. */
  list(prefix: string): AsyncIterable<BlobInfo>;
}

export interface StoredBlob {
  key: string;
  size: number;
  /** Hex SHA-256 of the bytes written. */
  sha256: string;
}

export interface BlobInfo {
  key: string;
  size: number;
  modifiedAt: Date;
}

/** Keys are allow-listed, not cleaned: slash-separated segments of safe characters, no `.`/`..`. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const MAX_KEY_LENGTH = 512;

export function assertBlobKey(key: string): void {
  const segments = key.split('/');
  if (key.length > MAX_KEY_LENGTH || segments.some((s) => !SEGMENT.test(s))) {
    throw new AppError('VALIDATION_ERROR', 'Invalid storage key', { key: key.slice(0, 80) });
  }
}

/** A pass-through that counts and hashes bytes and fails past a size bound. */
export function meteredStream(maxBytes: number | undefined): Transform & { size(): number; sha256(): string } {
  const hash = createHash('sha256');
  let size = 0;
  let digest: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (maxBytes !== undefined && size > maxBytes) {
        callback(new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  return Object.assign(stream, {
    size: () => size,
    sha256: () => (digest ??= hash.digest('hex')),
  });
}

/** Local folder backend: objects are files under `root`, written to a temporary name then renamed. */
export function createFilesystemBlobStore(rootDir: string): BlobStore {
  const root = resolve(rootDir);
  const pathOf = (key: string) => {
    assertBlobKey(key);
    return join(root, ...key.split('/'));
  };
  return {
    backend: 'filesystem',
    async put(key, body, options = {}) {
      const file = pathOf(key);
      await mkdir(resolve(file, '..'), { recursive: true, mode: 0o700 });
      const temporary = `${file}.${randomUUID()}.part`;
      const meter = meteredStream(options.maxBytes);
      try {
        const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)]);
        await pipeline(source, meter, createWriteStream(temporary, { mode: 0o600 }));
        await rename(temporary, file);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
      return { key, size: meter.size(), sha256: meter.sha256() };
    },
    async get(key) {
      const file = pathOf(key);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) throw new AppError('NOT_FOUND', 'No stored object with this key', { key });
      return createReadStream(file);
    },
    async stat(key) {
      const info = await stat(pathOf(key)).catch(() => null);
      return info?.isFile() ? { key, size: info.size, modifiedAt: info.mtime } : null;
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    async *list(prefix) {
      const trimmed = prefix.replace(/\/+$/, '');
      if (trimmed !== '') assertBlobKey(trimmed);
      const base = trimmed === '' ? root : join(root, ...trimmed.split('/'));
      const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isFile() || entry.name.endsWith('.part')) continue;
        const absolute = join(entry.parentPath, entry.name);
        const info = await stat(absolute).catch(() => null);
        if (!info) continue;
        const key = absolute
          .slice(root.length + 1)
          .split(/[\\/]/)
          .join('/');
        yield { key, size: info.size, modifiedAt: info.mtime };
      }
    },
  };
}
