import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectRestError, uniqueClientIp, waitFor } from './rest.js';
import { uniqueSlug, type RestInit, type TestPlatform } from './platform.js';
import { createTenant, signInTenantAdmin, type TenantInfo } from './tenants.js';

// The storage suite, run on each object store backend (test/platform-storage*.test.ts): streamed
// multipart uploads (sniffed type, checksums, thumbnails, text extraction, scan status), signed
// download URLs the gateway verifies, stats, limits and tenant isolation.

export function storageSuite(boot: () => Promise<TestPlatform>) {
  const PASSWORD = 'correct horse battery 42';
  let t: TestPlatform;
  let tenantA: TenantInfo;
  let tokenA: string;
  let tokenB: string;
  const headers = { 'x-forwarded-for': uniqueClientIp() };
  const rest = (path: string, init: RestInit = {}) =>
    t.rest(path, { ...init, headers: { ...headers, ...init.headers } });

  async function upload(
    fields: Record<string, string>,
    file: { data: Buffer; name: string; type?: string } | null,
    token: string | null = tokenA,
  ) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (file)
      form.append(
        'file',
        new Blob([new Uint8Array(file.data)], { type: file.type ?? 'application/octet-stream' }),
        file.name,
      );
    const response = await fetch(`${t.url}/api/storage/upload`, {
      method: 'POST',
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: form,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
  }

  beforeAll(async () => {
    t = await boot();
    tenantA = await createTenant(t, t.operatorKey, headers, 'stoa');
    const tenantB = await createTenant(t, t.operatorKey, headers, 'stob');
    tokenA = await signInTenantAdmin(t, tenantA.id, { password: PASSWORD, headers });
    tokenB = await signInTenantAdmin(t, tenantB.id, { password: PASSWORD, headers });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  it('stores an image: sniffed type, checksums, thumbnail, signed download', async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const key = `uploads/${uniqueSlug('u')}/photo.png`;
    const answer = await upload(
      {
        key,
        metadata: JSON.stringify({ category: 'images', user_id: '123' }),
        processing: JSON.stringify(['virus_scan', 'thumbnail', 'text_extraction']),
        acl: 'private',
        content_type: 'application/pdf',
      },
      { data: png, name: 'photo.png', type: 'image/png' },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const data = answer.body.data;
    expect(data).toMatchObject({
      key,
      size_bytes: png.length,
      content_type: 'image/png',
      declared_content_type: 'application/pdf',
      md5_hash: createHash('md5').update(png).digest('hex'),
      sha256: createHash('sha256').update(png).digest('hex'),
      processing_results: {
        virus_scan: 'not_scanned',
        thumbnail_generated: true,
        text_extracted: false,
      },
    });
    expect(data.file_id).toMatch(/^file_/);
    expect(data.processing_results.virus_scan_note).toContain('CLAMAV_HOST');
    const thumb = await sharp(
      Buffer.concat(await collect(await t.platform.deps.blobs.get(data.processing_results.thumbnail_key))),
    ).metadata();
    expect(thumb).toMatchObject({ format: 'jpeg', width: 256, height: 192 });

    const download = await fetch(data.url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);

    const row = await t.platform.db.prisma.storedFile.findFirstOrThrow({ where: { key } });
    expect(row.owner).toBe(tenantA.id);
    expect(row.metadata).toMatchObject({ category: 'images', user_id: '123', filename: 'photo.png' });
  });

  it('extracts text and counts words; checks signatures and expiry of URLs', async () => {
    const key = `docs/${uniqueSlug('d')}/notes.txt`;
    const text = Buffer.from('one two three\nfour five — six\n');
    const answer = await upload({ key, processing: 'text_extraction,thumbnail' }, { data: text, name: 'notes.txt' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.data).toMatchObject({
      content_type: 'text/plain',
      processing_results: { text_extracted: true, word_count: 6, thumbnail_generated: false },
    });

    const signed = await rest(`/api/storage/url?key=${encodeURIComponent(key)}&operation=download&expires_in=60`, {
      token: tokenA,
    });
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body.data).toMatchObject({ key, operation: 'download', headers: {} });
    const url = new URL(signed.body.data.url);
    expect((await fetch(url)).status).toBe(200);
    const tampered = new URL(url);
    tampered.searchParams.set('owner', 'platform');
    expect((await fetch(tampered)).status).toBe(403);
    const forged = new URL(url);
    forged.searchParams.set('sig', 'A'.repeat(43));
    expect((await fetch(forged)).status).toBe(403);
    const expired = new URL(url);
    expired.searchParams.set('exp', String(Math.floor(Date.now() / 1000) - 1));
    expect((await fetch(expired)).status).toBe(403);

    const missing = await rest(`/api/storage/url?key=nope/x.txt&operation=download`, { token: tokenA });
    expectRestError('core-platform', missing, 404, 'not_found');
    const otherTenant = await rest(`/api/storage/url?key=${encodeURIComponent(key)}&operation=download`, {
      token: tokenB,
    });
    expectRestError('core-platform', otherTenant, 404, 'not_found');
    const anonymous = await rest(`/api/storage/url?key=a/b.txt&operation=upload`, { token: null });
    expectRestError('core-platform', anonymous, 401, 'unauthorized');
  });

  it('refuses oversize files, missing parts, bad keys and callers without scopes', async () => {
    const set = await rest('/api/v1/config', { method: 'PUT', body: { storage: { max_upload_mb: 1 } } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    try {
      const big = await upload(
        { key: `big/${uniqueSlug('b')}.bin` },
        { data: Buffer.alloc(1024 * 1024 + 10, 7), name: 'big.bin' },
      );
      expectRestError('core-platform', big, 413, 'payload_too_large');
    } finally {
      await rest('/api/v1/config', { method: 'PUT', body: { storage: { max_upload_mb: 100 } } });
    }
    const noFile = await upload({ key: 'x/y.txt' }, null);
    expectRestError('core-platform', noFile, 400, 'validation_error');
    const badKey = await upload({ key: '../etc/passwd' }, { data: Buffer.from('x'), name: 'x' });
    expectRestError('core-platform', badKey, 400, 'validation_error');
    const anonymous = await upload({ key: 'x/y.txt' }, { data: Buffer.from('x'), name: 'x' }, null);
    expectRestError('core-platform', anonymous, 401, 'unauthorized');
    const json = await rest('/api/storage/upload', { method: 'POST', token: tokenA, body: { key: 'x' } });
    expectRestError('core-platform', json, 415, 'unsupported_media_type');
    // Nothing is left behind in the staging area by refused uploads.
    const staged = [];
    for await (const blob of t.platform.deps.blobs.list('staging')) staged.push(blob);
    expect(staged).toEqual([]);
  });

  it('reports stats of the caller space only', async () => {
    const before = await rest('/api/storage/stats?period=1d', { token: tokenB });
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.data.overview.total_files).toBe(0);
    const a = await rest('/api/storage/stats', { token: tokenA });
    expect(a.body.data.overview.total_files).toBe(2);
    expect(a.body.data.buckets.map((b: { name: string }) => b.name).sort()).toEqual(['docs', 'uploads']);
    const uploads = a.body.data.buckets.find((b: { name: string }) => b.name === 'uploads');
    expect(uploads).toMatchObject({ file_count: 1, most_common_type: 'image/png' });
    expect(a.body.data.trends.daily_uploads).toBeGreaterThan(0);
    const filtered = await rest('/api/storage/stats?bucket=docs', { token: tokenA });
    expect(filtered.body.data.overview.total_files).toBe(1);
    const operatorForTenant = await rest(`/api/storage/stats?tenant_id=${tenantA.id}`);
    expect(operatorForTenant.body.data.overview.total_files).toBe(2);
    const cross = await rest(`/api/storage/stats?tenant_id=${tenantA.id}`, { token: tokenB });
    expectRestError('core-platform', cross, 403, 'tenant_access_denied');

    const health = await rest('/api/health/detailed');
    expect(health.body.data.components.storage).toMatchObject({
      status: 'healthy',
      backend: t.platform.deps.blobs.backend,
    });
    expect(health.body.data.components.storage.total_files).toBeGreaterThanOrEqual(2);
  });

  it('uploads through a signed URL (PUT), verified by the gateway, and counts signed downloads', async () => {
    const key = `signed/${uniqueSlug('s')}/data.csv`;
    const csv = Buffer.from('id,name\n1,Ada\n2,Grace\n');
    const signed = await rest(
      `/api/storage/url?key=${encodeURIComponent(key)}&operation=upload&expires_in=120&content_type=text/csv`,
      { token: tokenA },
    );
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body.data).toMatchObject({
      key,
      operation: 'upload',
      method: 'PUT',
      headers: { 'Content-Type': 'text/csv' },
    });
    const url = new URL(signed.body.data.url);

    // The signature covers the content type; a download of an upload URL is refused.
    const wrongType = await fetch(url, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: csv });
    expect(wrongType.status).toBe(400);
    expect((await fetch(url)).status).toBe(403);
    const tampered = new URL(url);
    tampered.pathname = tampered.pathname.replace('data.csv', 'other.csv');
    expect((await fetch(tampered, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: csv })).status).toBe(
      403,
    );
    const expired = new URL(url);
    expired.searchParams.set('exp', String(Math.floor(Date.now() / 1000) - 1));
    expect((await fetch(expired, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: csv })).status).toBe(
      403,
    );

    const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: csv });
    const stored = (await put.json()) as Record<string, unknown>;
    expect(put.status, JSON.stringify(stored)).toBe(200);
    expect(stored).toMatchObject({
      key,
      size_bytes: csv.length,
      sha256: createHash('sha256').update(csv).digest('hex'),
      md5_hash: createHash('md5').update(csv).digest('hex'),
    });
    const row = await t.platform.db.prisma.storedFile.findFirstOrThrow({ where: { key } });
    expect(row.owner).toBe(tenantA.id);

    // Tenant B cannot reach it; tenant A downloads it through a signed URL, and it is counted.
    const other = await rest(`/api/storage/url?key=${encodeURIComponent(key)}&operation=download`, { token: tokenB });
    expectRestError('core-platform', other, 404, 'not_found');
    const before = (await rest('/api/storage/stats?period=1d', { token: tokenA })).body.data.trends;
    const download = await rest(`/api/storage/url?key=${encodeURIComponent(key)}&operation=download`, {
      token: tokenA,
    });
    for (let i = 0; i < 2; i += 1) {
      const got = await fetch(download.body.data.url);
      expect(Buffer.from(await got.arrayBuffer()).equals(csv)).toBe(true);
    }
    // A download is counted once the whole object went out, after the client has it (gateway/storage-objects.ts).
    const after = await waitFor(
      async () => {
        const trends = (await rest('/api/storage/stats?period=1d', { token: tokenA })).body.data.trends;
        return trends.daily_downloads >= before.daily_downloads + 2 ? trends : undefined;
      },
      'two downloads counted',
      { timeoutMs: 10_000 },
    );
    expect(after.daily_downloads).toBe(before.daily_downloads + 2);
    expect(after.bandwidth_usage_gb_per_day).toBeGreaterThanOrEqual(before.bandwidth_usage_gb_per_day);
    const b = (await rest('/api/storage/stats?period=1d', { token: tokenB })).body.data.trends;
    expect(b.daily_downloads).toBe(0);
  });

  it('sweeps abandoned upload staging objects with a job', async () => {
    const abandoned = `staging/${uniqueSlug('gone')}/${uniqueSlug('x')}`;
    await t.platform.deps.blobs.put(abandoned, Buffer.from('half an upload'));
    await t.platform.jobs.enqueue('platform.sweep-staging', { maxAgeMs: 0 });
    await waitFor(
      async () => ((await t.platform.deps.blobs.stat(abandoned)) === null ? true : undefined),
      'the sweep job to remove the staging object',
      { timeoutMs: 20_000 },
    );
  });
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}
