import { createConnection } from 'node:net';
import type { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';

/** What the upload's processing steps found; every field says what really happened. */
export interface ProcessingResults {
  virusScan: 'clean' | 'infected' | 'not_scanned' | 'error' | null;
  virusName: string | null;
  /** Why there was no scan (no CLAMAV_HOST) or why it failed. */
  scanNote: string | null;
  thumbnailGenerated: boolean | null;
  thumbnailKey: string | null;
  textExtracted: boolean | null;
  wordCount: number | null;
}

export const PROCESSING_STEPS = ['virus_scan', 'thumbnail', 'text_extraction'] as const;
export type ProcessingStep = (typeof PROCESSING_STEPS)[number];

/** Enough for every signature file-type knows. */
export const SNIFF_BYTES = 4100;

/**
 * The type the bytes are, not what the caller said: magic numbers (file-type), then UTF-8 text
 * without NUL bytes as text/plain, else application/octet-stream.
 */
export async function sniffContentType(head: Buffer): Promise<string> {
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime;
  if (head.length === 0) return 'application/octet-stream';
  if (!head.includes(0)) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, trimPartialUtf8(head)));
      return 'text/plain';
    } catch {
      // not UTF-8
    }
  }
  return 'application/octet-stream';
}

/** The sniffed head may cut a multi-byte character in two: decode up to its last whole one. */
function trimPartialUtf8(buffer: Buffer): number {
  const end = buffer.length;
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const byte = buffer[end - i]!;
    if ((byte & 0xc0) === 0x80) continue;
    if (byte >= 0xc0) return end - i;
    break;
  }
  return end;
}

const THUMBNAIL_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff']);
const MAX_THUMBNAIL_INPUT_BYTES = 50 * 1024 * 1024;
const MAX_TEXT_INPUT_BYTES = 20 * 1024 * 1024;

export function canThumbnail(contentType: string, size: number): boolean {
  return THUMBNAIL_TYPES.has(contentType) && size <= MAX_THUMBNAIL_INPUT_BYTES;
}

/** A 256 px (longest side) JPEG; sharp refuses decompression bombs (limitInputPixels). */
export async function makeThumbnail(input: Buffer): Promise<Buffer> {
  return sharp(input, { limitInputPixels: 100_000_000, animated: false })
    .rotate()
    .resize(256, 256, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80 })
    .toBuffer();
}

export function canExtractText(contentType: string, size: number): boolean {
  return (
    (contentType.startsWith('text/') || contentType === 'application/pdf' || contentType === 'application/json') &&
    size <= MAX_TEXT_INPUT_BYTES
  );
}

/** Text of a text file or a PDF (unpdf, pdf.js); null when the PDF holds no text layer. */
export async function extractText(contentType: string, input: Buffer): Promise<string | null> {
  if (contentType === 'application/pdf') {
    const { extractText: pdfText, getDocumentProxy } = await import('unpdf');
    const pdf = await getDocumentProxy(new Uint8Array(input));
    const { text } = await pdfText(pdf, { mergePages: true });
    return text.trim() === '' ? null : text;
  }
  return input.toString('utf8');
}

export function countWords(text: string): number {
  return text.split(/\s+/u).filter((word) => /[\p{L}\p{N}]/u.test(word)).length;
}

const CLAMD_CHUNK = 64 * 1024;
const CLAMD_TIMEOUT_MS = 30_000;

/**
 * clamd's INSTREAM: length-prefixed chunks, a zero-length chunk, then one reply line
 * (`stream: OK` or `stream: <name> FOUND`).
 */
export async function scanWithClamd(
  target: { host: string; port: number },
  body: Readable,
): Promise<{ verdict: 'clean' | 'infected'; virus: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(target);
    socket.setTimeout(CLAMD_TIMEOUT_MS, () => socket.destroy(new Error('clamd timed out')));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const line = reply.replace(/\0/g, '').trim();
      if (/:\s*OK$/.test(line)) resolve({ verdict: 'clean', virus: null });
      else if (/FOUND$/.test(line))
        resolve({ verdict: 'infected', virus: line.replace(/^.*?:\s*/, '').replace(/\s*FOUND$/, '') });
      else reject(new Error(`clamd answered: ${line.slice(0, 200) || 'nothing'}`));
    });
    socket.on('connect', async () => {
      try {
        socket.write('zINSTREAM\0');
        for await (const chunk of body) {
          const data = chunk as Buffer;
          for (let at = 0; at < data.length; at += CLAMD_CHUNK) {
            const part = data.subarray(at, at + CLAMD_CHUNK);
            const size = Buffer.alloc(4);
            size.writeUInt32BE(part.length);
            socket.write(size);
            socket.write(part);
          }
        }
        socket.end(Buffer.alloc(4));
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
  });
}
