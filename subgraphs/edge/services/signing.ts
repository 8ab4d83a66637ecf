import { createPrivateKey, generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/**
 * One Ed25519 key pair per tenant signs everything that tenant deploys (manifests, artifacts).
 * The private key is sealed with the platform's secret box (lib/secret-box.ts); devices pin the
 * public key (`edgeSigningKey.publicKey`, SPKI DER, base64) and refuse anything it does not verify.
 */
export interface TenantSigner {
  publicKey: string;
  sign(bytes: Uint8Array): string;
}

async function loadOrCreateKey(deps: SubgraphDeps, tenantId: string) {
  const existing = await deps.db.prisma.edgeSigningKey.findUnique({ where: { tenantId } });
  if (existing) return existing;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const row = {
    tenantId,
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKeySealed: deps.secretBox.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
  };
  // Two first deployments at once: one key wins, both sign with it.
  await deps.db.prisma.edgeSigningKey.createMany({ data: [row], skipDuplicates: true });
  return deps.db.prisma.edgeSigningKey.findUniqueOrThrow({ where: { tenantId } });
}

export async function tenantSigner(deps: SubgraphDeps, tenantId: string): Promise<TenantSigner> {
  const key = await loadOrCreateKey(deps, tenantId);
  const privateKey = createPrivateKey(deps.secretBox.open(key.privateKeySealed));
  return {
    publicKey: key.publicKey,
    sign: (bytes) => sign(null, bytes, privateKey).toString('base64'),
  };
}

/** What a device does with the pinned public key (exported for tests and device SDKs). */
export function verifyEdgeSignature(publicKeyBase64: string, bytes: Uint8Array, signature: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
  return verify(null, bytes, key, Buffer.from(signature, 'base64'));
}
