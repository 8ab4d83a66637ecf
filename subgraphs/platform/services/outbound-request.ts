import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkOutbound } from '../../../lib/outbound-address.js';
import type { OutboundSettings } from '../../../lib/subgraph/context.js';

/**
 * One HTTP request to an address a user chose (a webhook endpoint, a mesh service's health
 * check), through the SSRF guard: the host is resolved once by lib/outbound-address.ts and the
 * connection goes to that checked address (the name only travels as Host and TLS servername), so
 * DNS rebinding cannot redirect it. No redirects are followed. The whole exchange (DNS, connect,
 * answer) is bounded by `timeoutMs`, and only the first `maxResponseBytes` of the answer are kept.
 */
export type OutboundResult =
  | { ok: true; status: number; body: string; durationMs: number }
  | { ok: false; error: string; refused: boolean; durationMs: number };

export async function outboundRequest(options: {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  settings: OutboundSettings;
  timeoutMs?: number;
  maxResponseBytes?: number;
}): Promise<OutboundResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timeoutMs = options.timeoutMs ?? options.settings.timeoutMs;
  const maxBytes = options.maxResponseBytes ?? 1024;
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return { ok: false, error: 'invalid URL', refused: true, durationMs: elapsed() };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: 'only http and https URLs are allowed', refused: true, durationMs: elapsed() };
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const check = await checkOutbound(host, port, { allow: options.settings.allow, timeoutMs });
  if (!check.ok) {
    // The caller sees the class of refusal only; which rule refused stays in the detail for logs.
    const error = check.reason === 'unresolvable' ? 'host could not be resolved' : 'address not allowed';
    return { ok: false, error, refused: check.reason === 'not_allowed', durationMs: elapsed() };
  }
  const remaining = Math.max(1, timeoutMs - elapsed());
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<OutboundResult>((resolve) => {
    let settled = false;
    const finish = (result: OutboundResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = send(
      {
        host: check.address,
        family: check.family,
        port,
        path: `${url.pathname}${url.search}`,
        method: options.method,
        servername: check.servername ?? undefined,
        headers: {
          host: url.host,
          'user-agent': 'platform-webhooks/1',
          ...(options.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) }
            : {}),
          ...options.headers,
        },
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < maxBytes) chunks.push(chunk.subarray(0, maxBytes - size));
          size += chunk.length;
        });
        res.on('end', () =>
          finish({
            ok: true,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            durationMs: elapsed(),
          }),
        );
        res.on('error', (error) => finish({ ok: false, error: error.message, refused: false, durationMs: elapsed() }));
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, error: `timed out after ${timeoutMs} ms`, refused: false, durationMs: elapsed() });
      req.destroy();
    }, remaining);
    req.on('error', (error) => finish({ ok: false, error: error.message, refused: false, durationMs: elapsed() }));
    req.end(options.body);
  });
}
