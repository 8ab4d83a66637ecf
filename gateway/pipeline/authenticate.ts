import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { AppError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Principal } from '../../lib/principal.js';
import type { Kv } from '../../lib/runtime/kv.js';
import { SCOPES } from '../../lib/scopes.js';
import type { Gateway } from '../server.js';
import { createApiKeyResolver } from './api-key.js';
import { createJwtResolver } from './jwt.js';
import { createTenantStatusGuard, withTenantStatus } from './tenant-status.js';
import { createApiMeter, withApiMetering } from './api-metering.js';

export type Authenticate = (headers: IncomingHttpHeaders) => Promise<Principal | null>;

/** Resolves a credential to a principal, or null when it is not this resolver's kind of credential. */
export type CredentialResolver = (credential: string) => Promise<Principal | null>;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The credential a caller sent: `Authorization: Bearer …` (every dialect) or `X-API-Key` (nexus-core). */
export function readCredential(headers: IncomingHttpHeaders): string | null {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization !== 'string' || authorization.trim() === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) throw new AppError('UNAUTHORIZED', 'Authorization header must be "Bearer <token>"');
  return match[1];
}

/** The bootstrap operator: lets the operator in before identity has any accounts. Holds every scope. */
export const OPERATOR_PRINCIPAL: Principal = {
  kind: 'operator',
  id: 'operator',
  projectId: null,
  tenantId: null,
  roles: ['operator'],
  scopes: [...SCOPES],
};

/** Compares hashes, not keys, so the comparison is constant-time whatever the caller's key length. */
export function createOperatorKeyResolver(keyHash: Buffer): CredentialResolver {
  return async (credential) => (timingSafeEqual(sha256(credential), keyHash) ? OPERATOR_PRINCIPAL : null);
}

/** Tries each resolver in turn; a credential no resolver recognises is refused, never treated as anonymous. */
export function createAuthenticator(resolvers: CredentialResolver[]): Authenticate {
  return async (headers) => {
    const credential = readCredential(headers);
    if (credential === null) return null;
    for (const resolve of resolvers) {
      const principal = await resolve(credential);
      if (principal) return principal;
    }
    throw new AppError('UNAUTHORIZED', 'Invalid or expired credentials');
  };
}

const KEY_FILE = 'operator-key.sha256';

/**
 * ADMIN_API_KEY when set. Otherwise (embedded default) a key generated on first start, printed
 * once, and kept only as a hash in DATA_DIR so later starts accept it without showing it again.
 */
export async function loadOperatorKeyHash(options: {
  adminApiKey: string | undefined;
  dataDir: string;
  logger: Logger;
  print?: (line: string) => void;
}): Promise<Buffer> {
  if (options.adminApiKey) return sha256(options.adminApiKey);
  const file = join(options.dataDir, KEY_FILE);
  try {
    const stored = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    if (stored.length === 32) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = `op_${randomBytes(32).toString('hex')}`;
  await mkdir(options.dataDir, { recursive: true });
  await writeFile(file, sha256(key).toString('hex'), { mode: 0o600, flag: 'wx' });
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  print(`\n  Operator API key (shown once; set ADMIN_API_KEY to choose your own):\n\n    ${key}\n`);
  options.logger.info({ file }, 'generated the bootstrap operator key');
  return sha256(key);
}

/** What identity-backed resolvers need: the gateway's executor and the shared cache and pub/sub. */
export interface GatewayAuthDeps {
  operatorKeyHash: Buffer;
  execute: Gateway['execute'];
  kv: Kv;
  logger: Logger;
}

/**
 * The one list of credential resolvers, used by `npm start` and by bin/gateway.ts alike. Order
 * matters only for cost: the operator key is a local hash comparison.
 */
export function createGatewayAuthenticator(deps: GatewayAuthDeps): Authenticate {
  const authenticate = createAuthenticator([
    createOperatorKeyResolver(deps.operatorKeyHash),
    createJwtResolver({ execute: deps.execute, kv: deps.kv, logger: deps.logger }),
    createApiKeyResolver({ execute: deps.execute, kv: deps.kv, logger: deps.logger }),
  ]);
  // A principal bound to a suspended or deleted tenant goes no further (TENANT_SUSPENDED); one
  // that may go on counts one API call for its tenant (LIMIT_EXCEEDED past the plan's day).
  return withApiMetering(
    withTenantStatus(
      authenticate,
      createTenantStatusGuard({ execute: deps.execute, kv: deps.kv, logger: deps.logger }),
    ),
    createApiMeter({ kv: deps.kv, logger: deps.logger }),
  );
}
