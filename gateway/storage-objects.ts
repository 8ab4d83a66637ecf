import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { BlobStore } from '../lib/runtime/blob-store.js';
import { fileBlobKey, STORAGE_URL_PATH, verifyStorageUrl } from '../lib/storage-url.js';

export { STORAGE_URL_PATH };

/**
 * Serves signed download URLs (lib/storage-url.ts): verified here with the derived key, in
 * constant time, then streamed from the object store. The bytes are served as an attachment with
 * nosniff, so an uploaded HTML file can never run as a page of the API's origin.
 */
export function createStorageObjectHandler(options: { blobs: BlobStore; urlKey: string; logger: Logger }) {
  const refuse = (res: ServerResponse, status: number, code: string, message: string) => {
    const body = JSON.stringify({ error: { code, message } });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  return async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    const url = new URL(`http://localhost${req.url ?? '/'}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'Signed storage URLs are read with GET');
    }
    const check = verifyStorageUrl(url, options.urlKey);
    if (!check.ok) {
      return refuse(
        res,
        403,
        check.reason === 'expired' ? 'URL_EXPIRED' : 'FORBIDDEN',
        check.reason === 'expired' ? 'This storage URL has expired' : 'Invalid storage URL signature',
      );
    }
    const { grant } = check;
    if (grant.op !== 'download') return refuse(res, 403, 'FORBIDDEN', 'This URL is not a download URL');
    const blobKey = fileBlobKey(grant.owner, grant.key);
    const info = await options.blobs.stat(blobKey).catch(() => null);
    if (!info) return refuse(res, 404, 'NOT_FOUND', 'The file no longer exists');
    const filename = grant.key
      .split('/')
      .pop()!
      .replace(/[^\w.-]/g, '_');
    res.writeHead(200, {
      'content-type': grant.contentType || 'application/octet-stream',
      'content-length': info.size,
      'content-disposition': `attachment; filename="${filename}"`,
      'x-content-type-options': 'nosniff',
      'cache-control': `private, max-age=${Math.max(0, grant.expires - Math.floor(Date.now() / 1000))}`,
      'x-request-id': requestId,
    });
    if (req.method === 'HEAD') return void res.end();
    try {
      const body = await options.blobs.get(blobKey);
      body.on('error', (error) => {
        options.logger.error({ err: error, requestId }, 'storage download failed midway');
        res.destroy(error);
      });
      body.pipe(res);
      await new Promise<void>((resolve) => res.on('close', resolve));
    } catch (error) {
      options.logger.error({ err: error, requestId }, 'storage download failed');
      res.destroy();
    }
  };
}
