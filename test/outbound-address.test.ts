import { describe, expect, it } from 'vitest';
import { checkOutbound, classifyAddress, parseAllowEntry, parseAllowList } from '../lib/outbound-address.js';

// The address rules behind every caller-chosen outbound connection (data import today). Real
// resolution through the system resolver: `localhost` comes from /etc/hosts; nothing here opens
// a connection.

const NONE = { allow: [], timeoutMs: 2_000 };

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1', 'loopback'],
    ['2130706433', '127.0.0.1', 'loopback'], // decimal
    ['0x7f000001', '127.0.0.1', 'loopback'], // hex
    ['0x7f.0.0.1', '127.0.0.1', 'loopback'],
    ['0177.0.0.1', '127.0.0.1', 'loopback'], // octal
    ['017700000001', '127.0.0.1', 'loopback'],
    ['127.1', '127.0.0.1', 'loopback'], // short form
    ['::1', '::1', 'loopback'],
    ['[::1]', '::1', 'loopback'],
    ['::ffff:127.0.0.1', '127.0.0.1', 'loopback'], // IPv4-mapped, dotted
    ['::ffff:7f00:1', '127.0.0.1', 'loopback'], // IPv4-mapped, hex
    ['::ffff:10.1.2.3', '10.1.2.3', 'private'],
    ['10.0.0.1', '10.0.0.1', 'private'],
    ['172.16.5.4', '172.16.5.4', 'private'],
    ['192.168.1.1', '192.168.1.1', 'private'],
    ['169.254.169.254', '169.254.169.254', 'linkLocal'], // cloud metadata
    ['fe80::1', 'fe80::1', 'linkLocal'],
    ['fc00::1', 'fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'fd12:3456::1', 'uniqueLocal'],
    ['224.0.0.1', '224.0.0.1', 'multicast'],
    ['ff02::1', 'ff02::1', 'multicast'],
    ['0.0.0.0', '0.0.0.0', 'unspecified'],
    ['::', '::', 'unspecified'],
    ['100.64.0.1', '100.64.0.1', 'carrierGradeNat'],
    ['255.255.255.255', '255.255.255.255', 'broadcast'],
    ['64:ff9b::7f00:1', '64:ff9b::7f00:1', 'rfc6052'], // NAT64 of 127.0.0.1
    ['2002:7f00:1::', '2002:7f00:1::', '6to4'],
  ])('%s is %s (%s), not public', (literal, address, range) => {
    expect(classifyAddress(literal)).toMatchObject({ address, range, isPublic: false });
  });

  it.each([
    ['8.8.8.8', 4],
    ['1.1.1.1', 4],
    ['2001:4860:4860::8888', 6],
    ['::ffff:8.8.8.8', 4],
  ])('%s is public', (literal, family) => {
    expect(classifyAddress(literal)).toMatchObject({ isPublic: true, family, range: 'unicast' });
  });

  it('refuses what is not an address', () => {
    expect(() => classifyAddress('db.example.com')).toThrow(/not an IP address/);
  });
});

describe('parseAllowEntry / parseAllowList', () => {
  it('reads host, host:port, [v6]:port, IP spellings and CIDR ranges', () => {
    expect(parseAllowEntry('db.internal')).toMatchObject({ kind: 'name', name: 'db.internal' });
    expect(parseAllowEntry('DB.Internal.:6432')).toMatchObject({ kind: 'name', name: 'db.internal', port: 6432 });
    expect(parseAllowEntry('10.0.0.5:5432')).toMatchObject({ kind: 'address', port: 5432 });
    expect(parseAllowEntry('[fd00::5]:5432')).toMatchObject({ kind: 'address', port: 5432 });
    expect(parseAllowEntry('fd00::5')).toMatchObject({ kind: 'address' });
    expect(parseAllowEntry('10.0.0.0/8')).toMatchObject({ kind: 'cidr' });
    expect(parseAllowEntry('fd00::/8')).toMatchObject({ kind: 'cidr' });
  });

  it('reports every bad entry at once', () => {
    expect(() => parseAllowList('ok.host, 10.0.0.0/33, bad host, db:99999, x:y')).toThrow(
      /10\.0\.0\.0\/33.*bad host.*db:99999.*x:y/,
    );
    expect(parseAllowList('')).toEqual([]);
    expect(parseAllowList(' a.b , 10.0.0.0/8 ').map((e) => e.text)).toEqual(['a.b', '10.0.0.0/8']);
  });
});

describe('checkOutbound', () => {
  it('refuses every non-public address, in every spelling, before any connection', async () => {
    for (const host of [
      '127.0.0.1',
      '2130706433',
      '0x7f.1',
      '[::1]',
      '::ffff:127.0.0.1',
      '10.0.0.1',
      'fe80::1',
      '::',
    ]) {
      const check = await checkOutbound(host, 5432, NONE);
      expect(check, host).toMatchObject({ ok: false, reason: 'not_allowed' });
    }
  });

  it('resolves a name and refuses it when it resolves to a loopback address', async () => {
    expect(await checkOutbound('localhost', 5432, NONE)).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await checkOutbound('no-such-host.invalid', 5432, NONE)).toMatchObject({
      ok: false,
      reason: 'unresolvable',
    });
  });

  it('passes a public address, pinned to the address checked', async () => {
    expect(await checkOutbound('8.8.8.8', 5432, NONE)).toEqual({
      ok: true,
      address: '8.8.8.8',
      family: 4,
      port: 5432,
      servername: null,
    });
    expect(await checkOutbound('::ffff:8.8.8.8', 5432, NONE)).toMatchObject({ ok: true, address: '8.8.8.8' });
  });

  it('refuses the platform’s own database server even on a public address', async () => {
    const policy = { ...NONE, deny: ['8.8.8.8'] };
    expect(await checkOutbound('8.8.8.8', 5432, policy)).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await checkOutbound('::ffff:8.8.8.8', 6543, policy)).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await checkOutbound('8.8.4.4', 5432, policy)).toMatchObject({ ok: true });
  });

  it('lets the operator allow-list through: by address and port, by CIDR, by name', async () => {
    const byPort = { ...NONE, allow: parseAllowList('127.0.0.1:6543') };
    expect(await checkOutbound('127.0.0.1', 6543, byPort)).toMatchObject({ ok: true, address: '127.0.0.1' });
    expect(await checkOutbound('2130706433', 6543, byPort)).toMatchObject({ ok: true, address: '127.0.0.1' });
    expect(await checkOutbound('127.0.0.1', 6544, byPort)).toMatchObject({ ok: false });
    // The name resolves to the listed address: allowed, and the name is kept for TLS.
    expect(await checkOutbound('localhost', 6543, byPort)).toMatchObject({ ok: true, servername: 'localhost' });

    const byCidr = { ...NONE, allow: parseAllowList('10.0.0.0/8'), deny: ['10.1.1.1'] };
    expect(await checkOutbound('10.200.0.1', 1, byCidr)).toMatchObject({ ok: true });
    expect(await checkOutbound('::ffff:10.200.0.1', 1, byCidr)).toMatchObject({ ok: true, address: '10.200.0.1' });
    expect(await checkOutbound('10.1.1.1', 5432, byCidr)).toMatchObject({ ok: true }); // the operator said so
    expect(await checkOutbound('11.0.0.1', 1, byCidr)).toMatchObject({ ok: true }); // public anyway
    expect(await checkOutbound('192.168.0.1', 1, byCidr)).toMatchObject({ ok: false });

    // A name entry covers that name only, not its address typed directly.
    const byName = { ...NONE, allow: parseAllowList('localhost:6543') };
    expect(await checkOutbound('localhost', 6543, byName)).toMatchObject({ ok: true, address: '127.0.0.1' });
    expect(await checkOutbound('127.0.0.1', 6543, byName)).toMatchObject({ ok: false });
    expect(await checkOutbound('localhost', 5432, byName)).toMatchObject({ ok: false });
  });
});
