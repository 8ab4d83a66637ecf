import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { AppError, appErrorFromGraphQL } from '../../lib/errors.js';
import type { BlobStore } from '../../lib/runtime/blob-store.js';
import type { UploadPurpose } from '../../lib/storage-url.js';
import type { ExecuteResult } from './handler.js';

/** What a route that reads its own body gets from the handler. */
export interface BodyReceiverContext {
  /** Runs an operation as the caller (same principal, request id and client). */
  execute(document: string, variables?: Record<string, unknown>): Promise<ExecuteResult>;
  blobs: BlobStore | undefined;
}

export interface StagedUpload {
  key: string;
  size: number;
  sha256: string;
  filename: string | null;
  mimeType: string | null;
}

const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;

const TICKET = `query UploadTicket($purpose: UploadPurpose) { uploadTicket(purpose: $purpose) { maxBytes stagingPrefix } }`;

/**
 * multipart/form-data with one `file` part, streamed (busboy) straight into the object store's
 * staging area; nothing is buffered whole. The platform subgraph is asked first (uploadTicket for
 * the upload's purpose), so a caller without the purpose's scope (write:storage for a stored
 * file, write:tenants for a brand asset) is refused before a byte is read, and the size limit is
 * the purpose's. The text fields come back as strings for the route to map; the service the
 * upload is for claims the staged bytes and deletes them.
 */
export async function receiveMultipartUpload(
  req: IncomingMessage,
  ctx: BodyReceiverContext,
  { purpose = 'storage' }: { purpose?: UploadPurpose } = {},
): Promise<{ fields: Record<string, string>; staged: StagedUpload }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'multipart/form-data') {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Upload with Content-Type: multipart/form-data');
  }
  if (!ctx.blobs) throw new AppError('NOT_CONFIGURED', 'This gateway has no object store to receive uploads');
  const blobs = ctx.blobs;
  const ticketAnswer = await ctx.execute(TICKET, { purpose });
  const ticket = (ticketAnswer.data as { uploadTicket?: { maxBytes: number; stagingPrefix: string } } | null)
    ?.uploadTicket;
  if (!ticket) throw appErrorFromGraphQL(ticketAnswer.errors?.[0] ?? { message: 'No upload ticket' });
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > ticket.maxBytes + MAX_FIELDS * MAX_FIELD_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${ticket.maxBytes} bytes`);
  }

  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // One byte over the limit: the store's meter then refuses the file instead of keeping a truncated one.
        limits: {
          files: 1,
          fileSize: ticket.maxBytes + 1,
          fields: MAX_FIELDS,
          fieldSize: MAX_FIELD_BYTES,
          parts: MAX_FIELDS + 1,
        },
      });
    } catch (error) {
      reject(new AppError('BAD_REQUEST', `Malformed multipart body: ${(error as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    let stored: Promise<StagedUpload> | undefined;
    let stagingKey: string | undefined;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      if (stagingKey) void blobs.delete(stagingKey).catch(() => undefined);
      reject(error);
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated)
        fail(new AppError('PAYLOAD_TOO_LARGE', `Field ${name} exceeds ${MAX_FIELD_BYTES} bytes`));
      else fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || stored) {
        stream.resume();
        return;
      }
      stagingKey = `${ticket.stagingPrefix}/${randomUUID()}`;
      const key = stagingKey;
      stored = blobs.put(key, stream, { maxBytes: ticket.maxBytes }).then((blob) => ({
        key,
        size: blob.size,
        sha256: blob.sha256,
        filename: info.filename ?? null,
        mimeType: info.mimeType ?? null,
      }));
      stored.catch(fail);
    });
    parser.on('partsLimit', () => fail(new AppError('BAD_REQUEST', 'Too many parts in the upload')));
    parser.on('fieldsLimit', () => fail(new AppError('BAD_REQUEST', `At most ${MAX_FIELDS} fields`)));
    parser.on('error', (error: Error) =>
      fail(new AppError('BAD_REQUEST', `Malformed multipart body: ${error.message}`)),
    );
    parser.on('close', () => {
      if (failed) return;
      if (!stored) {
        fail(new AppError('VALIDATION_ERROR', 'The upload has no file part named "file"'));
        return;
      }
      stored.then((staged) => {
        if (!failed) resolve({ fields, staged });
      }, fail);
    });
    req.on('aborted', () => fail(new AppError('BAD_REQUEST', 'The upload was cut off')));
    req.pipe(parser);
  });
}
