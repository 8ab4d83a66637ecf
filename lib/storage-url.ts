import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Expiring signed storage URLs: the platform subgraph signs, the gateway serves and verifies.
 * The key is derived from the secrets key (`secretBox.derive(STORAGE_URL_KEY_LABEL)`), so every
 * process of a deployment agrees on it without storing it. The signature covers the operation,
 * the object, its owner, the content type and the expiry: none can be changed without breaking it.
 */
export const STORAGE_URL_KEY_LABEL = 'storage-url:v1';
export const STORAGE_URL_PATH = '/storage/objects/';

export interface StorageGrant {
  op: 'download' | 'upload';
  owner: string;
  key: string;
  /** Download: the stored type, served as Content-Type. Upload: the expected type ('' = any). */
  contentType: string;
  /** Unix seconds. */
  expires: number;
}

function canonical(grant: StorageGrant): string {
  return ['v1', grant.op, grant.owner, grant.key, grant.contentType, String(grant.expires)].join('\n');
}

export function signStorageGrant(grant: StorageGrant, key: string): string {
  return createHmac('sha256', key).update(canonical(grant)).digest('base64url');
}

/** Path and query of a signed URL (the gateway answers it); callers put their origin in front. */
export function storageUrlPath(grant: StorageGrant, key: string): string {
  const query = new URLSearchParams({
    op: grant.op,
    owner: grant.owner,
    ct: grant.contentType,
    exp: String(grant.expires),
    sig: signStorageGrant(grant, key),
  });
  return `${STORAGE_URL_PATH}${grant.key.split('/').map(encodeURIComponent).join('/')}?${query}`;
}

export type GrantCheck =
  { ok: true; grant: StorageGrant } | { ok: false; reason: 'malformed' | 'expired' | 'bad_signature' };

/** Reads and verifies a signed URL (constant-time comparison); `now` in ms. */
export function verifyStorageUrl(url: URL, key: string, now = Date.now()): GrantCheck {
  const q = url.searchParams;
  const op = q.get('op');
  const owner = q.get('owner');
  const contentType = q.get('ct');
  const expires = Number(q.get('exp'));
  const sig = q.get('sig');
  let objectKey: string;
  try {
    objectKey = decodeURIComponent(url.pathname.slice(STORAGE_URL_PATH.length));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if ((op !== 'download' && op !== 'upload') || !owner || contentType === null || !Number.isInteger(expires) || !sig) {
    return { ok: false, reason: 'malformed' };
  }
  const grant: StorageGrant = { op, owner, key: objectKey, contentType, expires };
  const expected = Buffer.from(signStorageGrant(grant, key), 'base64url');
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad_signature' };
  if (expires * 1000 <= now) return { ok: false, reason: 'expired' };
  return { ok: true, grant };
}

/** Where a stored file's bytes live in the object store: per owner, so no key can reach another's. */
export function fileBlobKey(owner: string, key: string): string {
  return `files/${owner}/${key}`;
}

/**
 * Staging area of uploads in flight: per caller (a hash of who it is), so completing an upload
 * can only claim bytes the same caller sent.
 */
export function stagingPrefix(callerId: string): string {
  return `staging/${createHash('sha256').update(callerId).digest('hex').slice(0, 24)}`;
}

/** Who staged an upload, as the staging prefix hashes it: every service that claims staged bytes agrees. */
export function stagingCallerId(principal: { kind: string; id: string }): string {
  return `${principal.kind}:${principal.id}`;
}

/**
 * What a streamed upload is for: the platform's upload ticket checks the caller's right and sets
 * the size limit per purpose, and the service it is for claims the staged bytes afterwards.
 * `storage`: a stored file (write:storage, the configured limit). `brand_asset`: a whitelabel
 * image (write:tenants, {@link BRAND_ASSET_MAX_BYTES}), claimed by tenancy.
 */
export const UPLOAD_PURPOSES = ['storage', 'brand_asset'] as const;
export type UploadPurpose = (typeof UPLOAD_PURPOSES)[number];

/** Largest brand asset accepted (before it is re-encoded). */
export const BRAND_ASSET_MAX_BYTES = 512 * 1024;
