import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { Prisma } from '../../../../prisma/generated/client.js';
import { getRuntimeConfig, ROTATION_POLICIES, type RotationPolicy } from '../config/runtime-config.js';
import { resolveOwner } from '../owner.js';

/**
 * Secrets by path, per owner (tenant, project or the platform), versioned. Envelope encryption:
 * each version's JSON is sealed with AES-256-GCM under a fresh data key, and that key is sealed by
 * the platform's secret box (lib/secret-box.ts). A database dump yields neither; rotating the
 * platform key means re-sealing data keys only. Values never reach a log line: the services
 * log nothing about them and errors name fields, never values.
 */

const MAX_DATA_BYTES = 64 * 1024;
const MAX_FIELDS = 100;
/** `database/credentials/production`: lowercase segments; `rotate` is reserved as the last one (the rotate route). */
const PATH = /^[a-z0-9][a-z0-9_.-]{0,63}(\/[a-z0-9][a-z0-9_.-]{0,63}){0,7}$/i;

export const ROTATION_PERIOD_MS: Record<RotationPolicy, number> = {
  daily: 86_400_000,
  weekly: 7 * 86_400_000,
  monthly: 30 * 86_400_000,
  quarterly: 91 * 86_400_000,
  yearly: 365 * 86_400_000,
};

function assertPath(path: string): void {
  if (!PATH.test(path) || path.endsWith('/rotate') || path.length > 256) {
    throw new AppError('VALIDATION_ERROR', 'Secret path format is invalid', {
      reason: 'invalid_secret_path',
      path: path.slice(0, 80),
    });
  }
}

/** Go-style durations as the document writes them (`720h`, `30m`, `45s`, `1h30m`) or bare seconds. */
export function parseTtl(ttl: string): number {
  if (/^\d+$/.test(ttl)) return Number(ttl);
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(ttl);
  if (!match || ttl === '')
    throw new AppError('VALIDATION_ERROR', 'ttl must look like 720h, 30m, 1h30m or a number of seconds');
  const [, h = '0', m = '0', s = '0'] = match;
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}

function formatTtl(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function sealData(deps: SubgraphDeps, data: Record<string, unknown>): { wrappedKey: string; ciphertext: string } {
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  const ciphertext = [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
  const wrappedKey = deps.secretBox.seal(dataKey.toString('base64url'));
  dataKey.fill(0);
  return { wrappedKey, ciphertext };
}

function openData(deps: SubgraphDeps, version: { wrappedKey: string; ciphertext: string }): Record<string, unknown> {
  const dataKey = Buffer.from(deps.secretBox.open(version.wrappedKey), 'base64url');
  const [iv, tag, body] = version.ciphertext.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !body) throw new AppError('INTERNAL_ERROR', 'A stored secret is malformed');
  const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
  decipher.setAuthTag(tag);
  const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  dataKey.fill(0);
  return JSON.parse(plain) as Record<string, unknown>;
}

const metadataSchema = z.record(
  z.string().min(1).max(64),
  z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]),
);

const setInput = z.object({
  path: z.string(),
  tenantId: z.string().nullish(),
  data: z
    .record(z.string().min(1).max(128), z.unknown())
    .refine((d) => Object.keys(d).length > 0 && Object.keys(d).length <= MAX_FIELDS, `1 to ${MAX_FIELDS} fields`)
    .refine((d) => Buffer.byteLength(JSON.stringify(d)) <= MAX_DATA_BYTES, `at most ${MAX_DATA_BYTES} bytes of JSON`),
  ttl: z.string().max(32).nullish(),
  metadata: metadataSchema.refine((m) => Object.keys(m).length <= 50, 'at most 50 metadata entries').nullish(),
});

export interface SecretWriteResult {
  path: string;
  version: number;
  createdAt: Date;
  ttl: string | null;
  expiresAt: Date | null;
}

function rotationPolicyOf(metadata: Record<string, unknown>, fallback: RotationPolicy | null): RotationPolicy | null {
  const given = metadata.rotation_policy;
  if (given === undefined || given === null) return fallback;
  if (typeof given === 'string' && (ROTATION_POLICIES as readonly string[]).includes(given))
    return given as RotationPolicy;
  throw new AppError('VALIDATION_ERROR', `rotation_policy must be one of ${ROTATION_POLICIES.join(', ')}`);
}

/** Writes a new version (version 1 for a new path) in one transaction. */
export async function setSecret({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  input: z.input<typeof setInput>;
}): Promise<SecretWriteResult> {
  const data = parseInput(setInput, input);
  assertPath(data.path);
  const owner = resolveOwner(principal, data.tenantId);
  const ttlSeconds = data.ttl ? parseTtl(data.ttl) : null;
  if (ttlSeconds !== null && (ttlSeconds < 1 || ttlSeconds > 10 * 365 * 86_400)) {
    throw new AppError('VALIDATION_ERROR', 'ttl must be between 1s and 10 years');
  }
  const config = await getRuntimeConfig(deps);
  const metadata = data.metadata ?? {};
  rotationPolicyOf(metadata, null);
  const sealed = sealData(deps, data.data);
  const now = new Date();
  const expiresAt = ttlSeconds === null ? null : new Date(now.getTime() + ttlSeconds * 1000);
  const createdBy = `${principal.kind}:${principal.id}`;
  const version = await runUnique(() =>
    deps.db.prisma.$transaction(async (tx) => {
      const existing = await tx.secret.findUnique({ where: { owner_path: { owner, path: data.path } } });
      // A new version keeps the metadata it does not restate, its rotation policy included.
      const merged = { ...((existing?.metadata as Record<string, unknown> | undefined) ?? {}), ...metadata };
      const policy = rotationPolicyOf(merged, config.secrets.default_rotation_policy);
      const secret = existing
        ? await tx.secret.update({
            where: { id: existing.id },
            data: {
              currentVersion: { increment: 1 },
              metadata: merged as Prisma.InputJsonValue,
              rotationPolicy: policy,
              rotateAfter: policy ? new Date(now.getTime() + ROTATION_PERIOD_MS[policy]) : null,
            },
          })
        : await tx.secret.create({
            data: {
              id: newId('sec'),
              owner,
              path: data.path,
              currentVersion: 1,
              metadata: metadata as Prisma.InputJsonValue,
              rotationPolicy: policy,
              rotateAfter: policy ? new Date(now.getTime() + ROTATION_PERIOD_MS[policy]) : null,
              createdBy,
            },
          });
      const row = await tx.secretVersion.create({
        data: {
          secretId: secret.id,
          version: secret.currentVersion,
          ...sealed,
          fields: Object.keys(data.data),
          ttlSeconds,
          expiresAt,
          createdBy,
          origin: 'set',
        },
      });
      return row;
    }),
  );
  return {
    path: data.path,
    version: version.version,
    createdAt: version.createdAt,
    ttl: ttlSeconds === null ? null : formatTtl(ttlSeconds),
    expiresAt,
  };
}

/** Two first writes of one path race on the unique (owner, path): the loser retries as an update. */
async function runUnique<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') return fn();
    throw error;
  }
}

export interface SecretReadResult {
  path: string;
  version: number;
  createdAt: Date;
  expiresAt: Date | null;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  createdBy: string;
  lastRotatedAt: Date | null;
  rotationPolicy: string | null;
  currentVersion: number;
}

export async function getSecret({
  deps,
  principal,
  path,
  version,
  tenantId,
}: {
  deps: SubgraphDeps;
  principal: Principal;
  path: string;
  version?: number | null;
  tenantId?: string | null;
}): Promise<SecretReadResult> {
  assertPath(path);
  const owner = resolveOwner(principal, tenantId);
  const secret = await deps.db.prisma.secret.findUnique({ where: { owner_path: { owner, path } } });
  if (!secret) throw new AppError('NOT_FOUND', 'No secret at this path', { path });
  const wanted = version ?? secret.currentVersion;
  const row = await deps.db.prisma.secretVersion.findUnique({
    where: { secretId_version: { secretId: secret.id, version: wanted } },
  });
  if (!row) throw new AppError('NOT_FOUND', 'No such version of this secret', { path, version: wanted });
  if (row.expiresAt && row.expiresAt <= new Date()) {
    throw new AppError('NOT_FOUND', 'This secret version has expired (ttl)', {
      path,
      version: wanted,
      reason: 'expired',
    });
  }
  return {
    path,
    version: row.version,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    data: openData(deps, row),
    metadata: secret.metadata as Record<string, unknown>,
    createdBy: row.createdBy,
    lastRotatedAt: secret.lastRotatedAt,
    rotationPolicy: secret.rotationPolicy,
    currentVersion: secret.currentVersion,
  };
}

/** Field names whose values are credentials the platform can mint again. */
const ROTATABLE = /(password|passwd|secret|token|api_key|apikey|access_key|private_key|key)$/i;

/** A new value of the same shape: a `sk_live_`-style prefix is kept, the random part is new. */
function mintLike(old: unknown): string {
  const prefix = typeof old === 'string' ? (/^([a-z]{2,8}_(?:[a-z]{2,8}_)?)/i.exec(old)?.[1] ?? '') : '';
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export interface RotationResult {
  path: string;
  oldVersion: number;
  newVersion: number;
  rotatedAt: Date;
  changedFields: string[];
}

/**
 * New values for the credential fields of the current version (password, *_secret, *_token,
 * api_key, ...); other fields are carried over. A secret without such fields cannot be rotated
 * automatically (VALIDATION_ERROR): the caller writes a new version instead.
 */
export async function rotateSecret({
  deps,
  principal,
  path,
  tenantId,
  origin = 'rotate',
  owner: givenOwner,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  path: string;
  tenantId?: string | null;
  origin?: 'rotate' | 'policy';
  /** The rotation job names the owner itself (no principal). */
  owner?: string;
}): Promise<RotationResult> {
  assertPath(path);
  const owner = givenOwner ?? resolveOwner(principal!, tenantId);
  const createdBy = principal ? `${principal.kind}:${principal.id}` : 'system:rotation-policy';
  return deps.db.prisma.$transaction(async (tx) => {
    const secret = await tx.secret.findUnique({ where: { owner_path: { owner, path } } });
    if (!secret) throw new AppError('NOT_FOUND', 'No secret at this path', { path });
    const current = await tx.secretVersion.findUniqueOrThrow({
      where: { secretId_version: { secretId: secret.id, version: secret.currentVersion } },
    });
    const data = openData(deps, current);
    const changed = Object.keys(data).filter((field) => ROTATABLE.test(field) && typeof data[field] === 'string');
    if (changed.length === 0) {
      throw new AppError('VALIDATION_ERROR', 'This secret has no credential fields the platform can rotate', {
        path,
        fields: Object.keys(data),
      });
    }
    const next = { ...data };
    for (const field of changed) next[field] = mintLike(data[field]);
    const now = new Date();
    const updated = await tx.secret.update({
      where: { id: secret.id },
      data: {
        currentVersion: { increment: 1 },
        lastRotatedAt: now,
        rotateAfter: secret.rotationPolicy
          ? new Date(now.getTime() + ROTATION_PERIOD_MS[secret.rotationPolicy as RotationPolicy])
          : null,
      },
    });
    await tx.secretVersion.create({
      data: {
        secretId: secret.id,
        version: updated.currentVersion,
        ...sealData(deps, next),
        fields: Object.keys(next),
        ttlSeconds: current.ttlSeconds,
        expiresAt: current.ttlSeconds ? new Date(now.getTime() + current.ttlSeconds * 1000) : null,
        createdBy,
        origin,
      },
    });
    return {
      path,
      oldVersion: secret.currentVersion,
      newVersion: updated.currentVersion,
      rotatedAt: now,
      changedFields: changed,
    };
  });
}

/** Rotates every secret whose policy says it is due (the rotation job); failures are counted, not thrown. */
export async function rotateDueSecrets(deps: SubgraphDeps, limit = 100): Promise<{ rotated: number; failed: number }> {
  const due = await deps.db.prisma.secret.findMany({
    where: { rotateAfter: { lte: new Date() } },
    orderBy: { rotateAfter: 'asc' },
    take: limit,
  });
  let rotated = 0;
  let failed = 0;
  for (const secret of due) {
    try {
      await rotateSecret({ deps, principal: null, path: secret.path, owner: secret.owner, origin: 'policy' });
      rotated += 1;
    } catch {
      failed += 1;
      // Not rotatable (no credential fields): push the due date out instead of retrying every run.
      await deps.db.prisma.secret.update({
        where: { id: secret.id },
        data: { rotateAfter: new Date(Date.now() + ROTATION_PERIOD_MS.daily) },
      });
    }
  }
  return { rotated, failed };
}
