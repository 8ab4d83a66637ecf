import { mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../../../lib/errors.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';

/**
 * The platform's file storage as tenancy uses it: a local folder (STORAGE_DIR) until the storage
 * capability exists. Backups live at `tenant-backups/<tenant id>/<file>`; `storage_path` values
 * are relative to the storage root, so they stay valid when the folder is mounted elsewhere.
 */
const BACKUP_FOLDER = 'tenant-backups';

export function storageRoot(deps: SubgraphDeps): string {
  if (!deps.storageDir) {
    throw new AppError('NOT_CONFIGURED', 'File storage is not configured (STORAGE_DIR): tenant backups need it');
  }
  return resolve(deps.storageDir);
}

export function backupRelativePath(tenantId: string, fileName: string): string {
  return [BACKUP_FOLDER, tenantId, fileName].join('/');
}

/** Absolute path of a stored file, creating its folder. */
export async function prepareStoredFile(deps: SubgraphDeps, relativePath: string): Promise<string> {
  const file = join(storageRoot(deps), ...relativePath.split('/'));
  await mkdir(resolve(file, '..'), { recursive: true, mode: 0o700 });
  return file;
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * A caller-given `storage_path` resolved to one of the tenant's own backup files: a path relative
 * to the storage root, an absolute path or a file:// URL inside it. Object storage URLs are refused
 * with what is missing; anything outside the storage root is refused, and another tenant's backup
 * is TENANT_MISMATCH. Symbolic links are resolved before the check, so a link cannot lead out.
 */
export async function resolveTenantBackupPath(
  deps: SubgraphDeps,
  tenantId: string,
  given: string,
): Promise<{ absolute: string; relative: string }> {
  const root = storageRoot(deps);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(given)?.[1]?.toLowerCase();
  let candidate: string;
  if (scheme === 'file') {
    try {
      candidate = fileURLToPath(given);
    } catch {
      throw new AppError('VALIDATION_ERROR', 'storage_path is not a valid file:// URL', { storage_path: given });
    }
  } else if (scheme !== undefined) {
    throw new AppError(
      'NOT_CONFIGURED',
      `Object storage (${scheme}://) is not configured: backups are kept in the platform's local file storage; give a storage_path from GET /tenants/{id}/backups`,
      { storage_path: given },
    );
  } else {
    candidate = resolve(root, given);
  }
  const outside = () =>
    new AppError('VALIDATION_ERROR', "storage_path must point inside the platform's file storage", {
      storage_path: given,
    });
  if (!isInside(root, candidate)) throw outside();
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    throw new AppError('NOT_FOUND', 'No backup file at storage_path', { storage_path: given });
  }
  const realRoot = await realpath(root);
  if (!isInside(realRoot, real)) throw outside();
  const tenantFolder = join(realRoot, BACKUP_FOLDER, tenantId);
  if (!isInside(tenantFolder, real)) {
    throw new AppError('TENANT_MISMATCH', 'storage_path is not one of this tenant’s backups', { storage_path: given });
  }
  return { absolute: real, relative: relative(realRoot, real).split(sep).join('/') };
}
