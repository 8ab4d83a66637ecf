import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER } from '../../lib/access-token.js';
import { startSubgraphs } from './subgraphs.js';
import { composeBenchSupergraph, QUERY } from './workload.js';

// `node --cpu-prof --import tsx bench/federation/profile.ts [stock|ours]`: one gateway, the
// subgraphs in the same process, BENCH_PROFILE_REQUESTS sequential-ish requests (8 at a time).
const which = process.argv[2] ?? 'ours';
const N = Number(process.env.BENCH_PROFILE_REQUESTS ?? 300);
const subgraphs = await startSubgraphs();
const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
process.env.BENCH_SUPERGRAPH_FILE = join(dir, 'supergraph.graphql');
writeFileSync(process.env.BENCH_SUPERGRAPH_FILE, composeBenchSupergraph(subgraphs.urls));
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
process.env.BENCH_JWKS = JSON.stringify({
  keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'ES256', use: 'sig' }],
});
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const token = (i: number) => {
  const now = Math.floor(Date.now() / 1000);
  const signed = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })}.${b64({ iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, sub: `u${i}`, tenant_id: null, roles: ['member'], iat: now, exp: now + 3600, jti: randomUUID() })}`;
  return `${signed}.${sign('sha256', Buffer.from(signed), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};
let url = '';
const origWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string) => {
  const m = /^ready (.+)$/m.exec(String(chunk));
  if (m) url = m[1]!;
  return true;
}) as never;
await import(which === 'stock' ? './stock-gateway.js' : './our-gateway.js');
process.stdout.write = origWrite;
const body = JSON.stringify({ query: QUERY });
let i = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (i < N) {
      i += 1;
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token(i)}` },
        body,
      });
      await r.text();
    }
  }),
);
const ms = performance.now() - started;
process.stdout.write(
  `${which}: ${N} requests in ${ms.toFixed(0)} ms, ${((N / ms) * 1000).toFixed(1)} req/s, subgraph requests ${JSON.stringify(subgraphs.counts)}\n`,
);
process.exit(0);
