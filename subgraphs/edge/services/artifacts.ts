import { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import { newId } from '../../../lib/ids.js';
import { requireScope, tenantScopeFor, type Principal } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import { parseInput } from '../../../lib/validate.js';
import type { EdgeArtifact } from '../../../prisma/generated/client.js';
import { tenantSigner } from './signing.js';

export type { EdgeArtifact };

/**
 * Artifacts travel base64 inside GraphQL (publish) and inside the device's WebSocket message
 * (delivery), and a subgraph request body is capped at 1 MB: 512 KiB of payload keeps both under it.
 */
export const MAX_ARTIFACT_BYTES = 512 * 1024;

export const ARTIFACT_KINDS = ['firmware', 'application'] as const;
export const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
export const ARTIFACT_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const publishInput = z.object({
  tenantId: z.string().nullish(),
  kind: z.enum(ARTIFACT_KINDS),
  name: z.string().regex(ARTIFACT_NAME).nullish(),
  version: z.string().regex(VERSION),
  contentBase64: z
    .string()
    .min(1)
    .max(Math.ceil((MAX_ARTIFACT_BYTES * 4) / 3) + 4),
});

export function artifactName(kind: (typeof ARTIFACT_KINDS)[number], name: string | null | undefined): string {
  return name ?? (kind === 'firmware' ? 'firmware' : '');
}

/** Stores a firmware or application payload in the object store, with its SHA-256 and Ed25519 signature. */
export async function publishArtifact({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof publishInput>;
}): Promise<EdgeArtifact> {
  requireScope(principal, 'write:edge');
  const data = parseInput(publishInput, input);
  const tenantId = tenantScopeFor(principal, data.tenantId);
  const name = artifactName(data.kind, data.name);
  if (name === '') throw new AppError('VALIDATION_ERROR', 'An application artifact needs a name');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data.contentBase64)) {
    throw new AppError('VALIDATION_ERROR', 'contentBase64 is not base64');
  }
  const bytes = Buffer.from(data.contentBase64, 'base64');
  if (bytes.length > MAX_ARTIFACT_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Artifacts are limited to ${MAX_ARTIFACT_BYTES} bytes`);
  }
  const existing = await deps.db.prisma.edgeArtifact.findUnique({
    where: { tenantId_kind_name_version: { tenantId, kind: data.kind, name, version: data.version } },
  });
  if (existing) {
    throw new AppError('CONFLICT', 'This version is already published; versions are immutable', {
      version: data.version,
    });
  }
  const id = newId('art');
  const blobKey = `edge/${tenantId}/artifacts/${id}`;
  const stored = await deps.blobs.put(blobKey, bytes, { maxBytes: MAX_ARTIFACT_BYTES });
  const signer = await tenantSigner(deps, tenantId);
  try {
    return await deps.db.prisma.edgeArtifact.create({
      data: {
        id,
        tenantId,
        kind: data.kind,
        name,
        version: data.version,
        blobKey,
        sha256: stored.sha256,
        size: stored.size,
        signature: signer.sign(bytes),
      },
    });
  } catch (error) {
    await deps.blobs.delete(blobKey);
    if ((error as { code?: string }).code === 'P2002') {
      throw new AppError('CONFLICT', 'This version is already published; versions are immutable');
    }
    throw error;
  }
}
