import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFilesystemBlobStore, type BlobStore } from '../lib/runtime/blob-store.js';

describe('filesystem blob store', () => {
  let root: string;
  let store: BlobStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'blobs-'));
    store = createFilesystemBlobStore(root);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('stores a stream, hashes it, and reads it back', async () => {
    const stored = await store.put('t1/files/a.txt', Readable.from(['hello ', 'world']));
    expect(stored).toEqual({
      key: 't1/files/a.txt',
      size: 11,
      sha256: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
    });
    expect(await text(await store.get('t1/files/a.txt'))).toBe('hello world');
    expect((await store.stat('t1/files/a.txt'))?.size).toBe(11);
    const listed = [];
    for await (const item of store.list('t1/')) listed.push(item.key);
    expect(listed).toEqual(['t1/files/a.txt']);
  });

  it('refuses an object over the size bound and keeps nothing of it', async () => {
    await expect(store.put('t1/big.bin', new Uint8Array(2048), { maxBytes: 1024 })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(await store.stat('t1/big.bin')).toBeNull();
    expect((await readdir(join(root, 't1'))).filter((name) => name.includes('big'))).toEqual([]);
  });

  it('allow-lists keys, so no key leaves the root', async () => {
    for (const key of ['../x', 'a/../../x', '/abs', 'a//b', '.hidden', 'a/./b', 'a\\b', '']) {
      await expect(store.put(key, new Uint8Array(1))).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    }
  });

  it('answers NOT_FOUND for a missing object and deletes idempotently', async () => {
    await expect(store.get('t1/missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.put('t1/gone', new Uint8Array([1]));
    await store.delete('t1/gone');
    await store.delete('t1/gone');
    expect(await store.stat('t1/gone')).toBeNull();
  });
});
