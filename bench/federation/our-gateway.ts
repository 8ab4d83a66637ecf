import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { REVOCATIONS_RESTORED_KEY } from '../../lib/access-token.js';
import { createLogger } from '../../lib/logger.js';
import { createMemoryKv } from '../../lib/runtime/kv/memory.js';
import { createAuthenticator } from '../../gateway/pipeline/authenticate.js';
import { createJwtResolver } from '../../gateway/pipeline/jwt.js';
import { createGateway } from '../../gateway/server.js';

// Our gateway (createGateway) on the benchmark's foreign supergraph, every subgraph remote. Every
// caller is authenticated: an ES256 access token verified locally against the key set the runner
// made (BENCH_JWKS; identity's JWKS in production), with the revocation check on the kv as in
// production. Rate limits are off. Started by bench/federation/run.ts, which reads "ready <url>".
const logger = createLogger({ level: 'silent' });
const kv = createMemoryKv('bench:', logger);
// The marker identity writes once revocations are complete; without it every token would wait on a restore.
await kv.cache.set(REVOCATIONS_RESTORED_KEY, '1');
const keys = JSON.parse(process.env.BENCH_JWKS!) as JSONWebKeySet;
const jwks = { get: async () => keys, refreshForUnknownKid: async () => false };

const gateway = await createGateway({
  supergraphSdl: readFileSync(process.env.BENCH_SUPERGRAPH_FILE!, 'utf8'),
  inProcess: {},
  urls: {},
  signingSecret: 'bench-signing-secret-bench-signing-secret',
  authenticate: (execute) => createAuthenticator([createJwtResolver({ execute, kv, logger, jwks })]),
  kv,
  logger,
  requestTimeoutMs: 30_000,
  rateLimitEnabled: false,
  trustedProxies: [],
});
const { url } = await gateway.listen(0, '127.0.0.1');
process.stdout.write(`ready ${url}/graphql\n`);
// Exits cleanly on SIGTERM from the runner (so --cpu-prof writes its profile).
process.on('SIGTERM', () => process.exit(0));
