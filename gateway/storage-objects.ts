import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TadaDocumentNode } from 'gql.tada';
import { AppError, appErrorFromGraphQL } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { GATEWAY_PRINCIPAL } from '../lib/principal.js';
import type { BlobStore } from '../lib/runtime/blob-store.js';
import { fileBlobKey, STORAGE_URL_PATH, verifyStorageUrl } from '../lib/storage-url.js';
import { graphql } from './rest/graphql.js';
import type { Gateway } from './server.js';

export { STORAGE_URL_PATH };

const SIGNED_UPLOAD_TICKET = graphql(`
  query SignedUploadTicket($path: String!) {
    signedUploadTicket(path: $path) {
      maxBytes
      stagingPrefix
    }
  }
`);

const COMPLETE_SIGNED_UPLOAD = graphql(`
  mutation CompleteSignedUpload($path: String!, $stagingKey: String!, $declaredType: String) {
    completeSignedUpload(path: $path, stagingKey: $stagingKey, declaredType: $declaredType) {
      file {
        id
        key
        sizeBytes
        contentType
        declaredType
        md5
        sha256
        createdAt
      }
    }
  }
`);

const RECORD_DOWNLOAD = graphql(`
  mutation RecordStorageDownload($path: String!, $bytes: Float!) {
    recordStorageDownload(path: $path, bytes: $bytes)
  }
`);

/**
 * Serves signed storage URLs (lib/storage-url.ts), verified here with the derived key in constant
 * time before anything is read, and again by the platform subgraph, which owns the files:
 * - GET/HEAD of a download URL streams the object as an attachment with nosniff (an uploaded HTML
 *   file can never run as a page of the API's origin); each completed GET is counted.
 * - PUT of an upload URL streams the raw body into the staging area (size limit from the
 *   platform's configuration) and has the platform store it at the URL's key.
 */
export function createStorageObjectHandler(options: {
  blobs: BlobStore;
  urlKey: string;
  logger: Logger;
  execute: Gateway['execute'];
}) {
  const refuse = (res: ServerResponse, status: number, code: string, message: string) => {
    const body = JSON.stringify({ error: { code, message } });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  /** Runs one of the documents above as the gateway itself; a GraphQL error becomes an AppError. */
  const run = async <TData, TVariables extends Record<string, unknown>>(
    document: TadaDocumentNode<TData, TVariables>,
    variables: TVariables,
    requestId: string,
  ): Promise<TData> => {
    const answer = await options.execute({ document, variables, principal: GATEWAY_PRINCIPAL, requestId });
    if (answer.errors?.length || !answer.data) throw appErrorFromGraphQL(answer.errors?.[0] ?? { message: 'No data' });
    return answer.data as TData;
  };

  const upload = async (req: IncomingMessage, res: ServerResponse, requestId: string, path: string) => {
    const { signedUploadTicket: ticket } = await run(SIGNED_UPLOAD_TICKET, { path }, requestId);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > ticket.maxBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${ticket.maxBytes} bytes`);
    }
    const stagingKey = `${ticket.stagingPrefix}/${randomUUID()}`;
    try {
      await options.blobs.put(stagingKey, req, { maxBytes: ticket.maxBytes });
    } catch (error) {
      await options.blobs.delete(stagingKey).catch(() => undefined);
      throw error;
    }
    // The platform deletes the staged bytes whatever it decides.
    const type = req.headers['content-type']?.split(';')[0]?.trim() || null;
    const { completeSignedUpload: done } = await run(
      COMPLETE_SIGNED_UPLOAD,
      { path, stagingKey, declaredType: type },
      requestId,
    );
    const f = done.file;
    const body = JSON.stringify({
      file_id: f.id,
      key: f.key,
      size_bytes: f.sizeBytes,
      content_type: f.contentType,
      declared_content_type: f.declaredType,
      md5_hash: f.md5,
      sha256: f.sha256,
      uploaded_at: f.createdAt,
    });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
    });
    res.end(body);
  };

  return async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    const url = new URL(`http://localhost${req.url ?? '/'}`);
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'PUT') {
      res.setHeader('Allow', 'GET, HEAD, PUT');
      return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'Signed storage URLs are read with GET and written with PUT');
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
    if (req.method === 'PUT') {
      if (grant.op !== 'upload') return refuse(res, 403, 'FORBIDDEN', 'This URL is not an upload URL');
      try {
        return await upload(req, res, requestId, url.pathname + url.search);
      } catch (error) {
        req.resume();
        const known = error instanceof AppError ? error : null;
        if (!known) options.logger.error({ err: error, requestId }, 'signed upload failed');
        return refuse(
          res,
          known ? known.status : 500,
          known?.code ?? 'INTERNAL_ERROR',
          known?.message ?? 'Upload failed',
        );
      }
    }
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
      // Counted once the whole object went out; a download cut off midway is not one.
      if (res.writableFinished) {
        await run(RECORD_DOWNLOAD, { path: url.pathname + url.search, bytes: info.size }, requestId).catch(
          (error: unknown) => options.logger.warn({ err: error, requestId }, 'download not counted'),
        );
      }
    } catch (error) {
      options.logger.error({ err: error, requestId }, 'storage download failed');
      res.destroy();
    }
  };
}
