import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where the platform may open a connection that a caller chose (a data-import source today,
 * outbound webhooks later). The rule is an allow rule, not a deny list: only global unicast
 * addresses pass (ipaddr.js's `unicast` range), so loopback, private, link-local (cloud metadata),
 * unique-local, carrier-grade NAT, multicast, unspecified, broadcast, documentation and the
 * IPv6 transition ranges that embed an IPv4 address (6to4, NAT64, Teredo) are all refused, and
 * so is anything a later ipaddr.js release classifies. An IPv4-mapped IPv6 address is judged as
 * the IPv4 address it carries. An operator allow-list can let specific internal hosts through.
 *
 * A name is resolved here, once, and the caller must connect to the returned address (not to
 * the name again): a second resolution could answer differently (DNS rebinding). Literal
 * addresses in any spelling ipaddr.js reads (decimal `2130706433`, octal `0177.0.0.1`, hex
 * `0x7f.1`, short `127.1`) are parsed here rather than handed to the system resolver, so what is
 * checked is exactly what is connected to.
 */

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

export type AllowEntry =
  | { kind: 'address'; address: Ip; port?: number; text: string }
  | { kind: 'cidr'; network: [Ip, number]; text: string }
  | { kind: 'name'; name: string; port?: number; text: string };

/** The one range that is reachable without an operator's say-so. */
const PUBLIC_RANGE = 'unicast';

/** An address with IPv4-mapped IPv6 unwrapped, so `::ffff:127.0.0.1` is judged as `127.0.0.1`. */
function canonical(address: Ip): Ip {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

/** An IP literal in any spelling (brackets around IPv6 allowed), or null for a host name. */
export function parseIpLiteral(host: string): Ip | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!ipaddr.isValid(bare)) return null;
  try {
    return canonical(ipaddr.parse(bare));
  } catch {
    return null;
  }
}

export interface AddressClass {
  /** Normalized: IPv4 dotted quad, IPv6 in RFC 5952 form. */
  address: string;
  family: 4 | 6;
  /** ipaddr.js's range name: unicast, loopback, private, linkLocal, uniqueLocal, multicast, … */
  range: string;
  /** Global unicast: reachable without an allow-list entry. */
  isPublic: boolean;
}

/** Classifies one address (any literal spelling). Throws on something that is not an IP address. */
export function classifyAddress(literal: string): AddressClass {
  const ip = parseIpLiteral(literal);
  if (!ip) throw new Error(`not an IP address: ${literal}`);
  return describe(ip);
}

function describe(ip: Ip): AddressClass {
  const range = ip.range();
  return {
    address: ip.kind() === 'ipv6' ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString(),
    family: ip.kind() === 'ipv6' ? 6 : 4,
    range,
    isPublic: range === PUBLIC_RANGE,
  };
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * One allow-list entry: `host`, `host:port`, `[v6]:port`, an IP in any spelling, or a CIDR
 * (`10.0.0.0/8`, `fd00::/8`; any port). Throws with a readable reason on anything else, so a
 * typo in the operator's configuration stops start-up instead of silently allowing nothing.
 */
export function parseAllowEntry(raw: string): AllowEntry {
  const text = raw.trim();
  if (text.includes('/')) {
    if (!ipaddr.isValidCIDR(text)) throw new Error(`not a CIDR range: ${text}`);
    const [network, bits] = ipaddr.parseCIDR(text);
    return { kind: 'cidr', network: [network, bits], text };
  }
  let host = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const [h, p] = text.split(':');
    host = h!;
    if (!/^\d+$/.test(p!)) throw new Error(`not a port: ${text}`);
    port = Number(p);
  }
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`port out of range: ${text}`);
  const ip = parseIpLiteral(host);
  if (ip) return { kind: 'address', address: ip, ...(port === undefined ? {} : { port }), text };
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(host)) {
    throw new Error(`not a host name, IP address or CIDR range: ${text}`);
  }
  return { kind: 'name', name: normalizeName(host), ...(port === undefined ? {} : { port }), text };
}

/** A comma-separated allow-list (the env format). Throws listing every bad entry at once. */
export function parseAllowList(value: string): AllowEntry[] {
  const entries: AllowEntry[] = [];
  const errors: string[] = [];
  for (const part of value.split(',')) {
    if (!part.trim()) continue;
    try {
      entries.push(parseAllowEntry(part));
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('; '));
  return entries;
}

function sameIp(a: Ip, b: Ip): boolean {
  return a.kind() === b.kind() && a.toNormalizedString() === b.toNormalizedString();
}

function isAllowListed(entries: readonly AllowEntry[], requestedName: string | null, ip: Ip, port: number): boolean {
  return entries.some((entry) => {
    if (entry.kind === 'cidr') return ip.kind() === entry.network[0].kind() && ip.match(entry.network);
    if (entry.port !== undefined && entry.port !== port) return false;
    if (entry.kind === 'address') return sameIp(canonical(entry.address), ip);
    return requestedName !== null && entry.name === requestedName;
  });
}

export interface OutboundPolicy {
  /** The operator's exceptions: checked first, they permit what the rules below refuse. */
  allow: readonly AllowEntry[];
  /**
   * Hosts refused whatever their address class (the platform's own database servers, which may
   * sit on a public address). Resolved at each check; a name that does not resolve adds nothing.
   */
  deny?: readonly string[];
  /** Budget for the DNS resolution; past it the host counts as unresolvable. */
  timeoutMs: number;
}

export type OutboundCheck =
  | { ok: true; address: string; family: 4 | 6; port: number; servername: string | null }
  | {
      ok: false;
      /** not_allowed: every address is refused; unresolvable: the name has no address (or DNS timed out). */
      reason: 'not_allowed' | 'unresolvable';
      /** For the operator's log only: says which rule refused, never for the caller. */
      detail: string;
    };

async function resolveAll(host: string, timeoutMs: number): Promise<Ip[]> {
  const literal = parseIpLiteral(host);
  if (literal) return [literal];
  let timer: NodeJS.Timeout | undefined;
  try {
    const answers = await Promise.race([
      lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('DNS lookup timed out')), timeoutMs);
      }),
    ]);
    return answers.flatMap((a) => {
      const ip = parseIpLiteral(a.address);
      return ip ? [ip] : [];
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves `host` once and picks the first address the policy permits. Addresses it refuses are
 * never used, so a name that answers with both a public and a private address still cannot
 * reach the private one. The answer carries the address to connect to and, for a host name, the
 * name to present as TLS servername.
 */
export async function checkOutbound(host: string, port: number, policy: OutboundPolicy): Promise<OutboundCheck> {
  const isLiteral = parseIpLiteral(host) !== null || isIP(host) !== 0;
  const requestedName = isLiteral ? null : normalizeName(host);
  let candidates: Ip[];
  try {
    candidates = await resolveAll(host, policy.timeoutMs);
  } catch (error) {
    return { ok: false, reason: 'unresolvable', detail: `${host}: ${(error as Error).message}` };
  }
  if (candidates.length === 0) return { ok: false, reason: 'unresolvable', detail: `${host}: no address` };

  const denied: Ip[] = [];
  for (const name of policy.deny ?? []) {
    denied.push(...(await resolveAll(name, policy.timeoutMs).catch(() => [])));
  }
  const refusals: string[] = [];
  for (const candidate of candidates) {
    const ip = canonical(candidate);
    const info = describe(ip);
    if (isAllowListed(policy.allow, requestedName, ip, port)) {
      return { ok: true, address: info.address, family: info.family, port, servername: requestedName };
    }
    if (denied.some((d) => sameIp(canonical(d), ip))) refusals.push(`${info.address}: the platform's own server`);
    else if (!info.isPublic) refusals.push(`${info.address}: ${info.range}`);
    else return { ok: true, address: info.address, family: info.family, port, servername: requestedName };
  }
  return { ok: false, reason: 'not_allowed', detail: `${host}:${port} → ${refusals.join(', ')}` };
}
