import type { IncomingMessage } from 'node:http';

/**
 * The caller's address for rate limits and audit. X-Forwarded-For is believed only when the
 * direct peer is a listed proxy; otherwise any client could pick its own rate-limit bucket.
 */
export function createClientIpResolver(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trusted = new Set(trustedProxies.map(normalize).filter(Boolean));
  return (req) => {
    const peer = normalize(req.socket.remoteAddress ?? '');
    if (!trusted.has(peer)) return peer || 'unknown';
    const forwarded = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
      .split(',')
      .map((h) => normalize(h.trim()))
      .filter(Boolean);
    // Walk from the nearest hop back, skipping our own proxies: the first untrusted one is the client.
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!trusted.has(hops[i]!)) return hops[i]!;
    }
    return hops[0] ?? peer;
  };
}

function normalize(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
