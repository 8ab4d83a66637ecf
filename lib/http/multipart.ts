import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { AppError } from '../errors.js';

export interface MultipartOptions {
  /** The one file field the route takes. */
  fileField: string;
  maxFileBytes: number;
  maxFields?: number;
  maxFieldBytes?: number;
}

export interface MultipartFile {
  filename: string | null;
  /** As the client declared it: not trusted (the owning service sniffs the bytes). */
  mime_type: string | null;
  size: number;
  content_base64: string;
}

/**
 * A multipart/form-data body (busboy) as a plain object: text fields as strings, the one file as
 * {@link MultipartFile}. Over a limit (file size, field count or size, a second file) is refused
 * while reading; nothing past the limit is buffered.
 */
export function readMultipart(req: IncomingMessage, options: MultipartOptions): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: {
          files: 1,
          fields: options.maxFields ?? 20,
          fieldSize: options.maxFieldBytes ?? 8 * 1024,
          fileSize: options.maxFileBytes,
          parts: (options.maxFields ?? 20) + 1,
        },
      });
    } catch (error) {
      reject(new AppError('VALIDATION_ERROR', `Malformed multipart body: ${(error as Error).message}`));
      return;
    }
    const body: Record<string, unknown> = {};
    let failed: AppError | null = null;
    let pendingFile: Promise<void> = Promise.resolve();
    const fail = (error: AppError) => {
      failed ??= error;
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new AppError('PAYLOAD_TOO_LARGE', `Form field ${name} is too long`));
      else body[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== options.fileField) {
        stream.resume();
        fail(new AppError('VALIDATION_ERROR', `Unexpected file field ${name}; send the file as ${options.fileField}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      pendingFile = new Promise<void>((done) => {
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          chunks.push(chunk);
        });
        stream.on('limit', () =>
          fail(new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${options.maxFileBytes} bytes`)),
        );
        stream.on('end', () => {
          body[name] = {
            filename: info.filename ?? null,
            mime_type: info.mimeType ?? null,
            size,
            content_base64: Buffer.concat(chunks).toString('base64'),
          } satisfies MultipartFile;
          done();
        });
      });
    });
    parser.on('filesLimit', () => fail(new AppError('VALIDATION_ERROR', 'Send one file')));
    parser.on('fieldsLimit', () => fail(new AppError('VALIDATION_ERROR', 'Too many form fields')));
    parser.on('partsLimit', () => fail(new AppError('VALIDATION_ERROR', 'Too many form parts')));
    parser.on('error', (error: Error) =>
      reject(failed ?? new AppError('VALIDATION_ERROR', `Malformed multipart body: ${error.message}`)),
    );
    parser.on('close', () => {
      void pendingFile.then(() => (failed ? reject(failed) : resolve(body)));
    });
    req.pipe(parser);
  });
}
