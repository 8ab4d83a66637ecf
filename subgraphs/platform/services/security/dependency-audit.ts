import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADVISORIES, SNAPSHOT_DATE, type Advisory } from './advisory-snapshot.js';
import type { Finding } from './findings.js';

/** Where the audit's advisories came from, reported with every scan. */
export const ADVISORY_SOURCE = `checked-in GitHub Advisory Database snapshot of ${SNAPSHOT_DATE} (subgraphs/platform/services/security/advisory-snapshot.ts); the registry audit endpoint is unreachable here`;

const MAX_LOCKFILE_BYTES = 50 * 1024 * 1024;

/** x.y.z[-pre] compared numerically; a prerelease sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.replace(/^v/, '').split('+')[0]!.split(/-(.*)/s);
    return { nums: core.split('.').map((n) => Number.parseInt(n, 10) || 0), pre: pre ?? null };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i += 1) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  return x.pre < y.pre ? -1 : 1;
}

export function isAffected(advisory: Advisory, version: string): boolean {
  return advisory.ranges.some(
    (r) => compareVersions(version, r.introduced) >= 0 && compareVersions(version, r.fixed) < 0,
  );
}

/** Every installed package of a package-lock.json v2/v3 (`packages` map): name, version, where. */
export function installedPackages(lock: unknown): { name: string; version: string; path: string }[] {
  const packages = (lock as { packages?: Record<string, { version?: string; name?: string; link?: boolean }> })
    ?.packages;
  if (!packages || typeof packages !== 'object') return [];
  return Object.entries(packages).flatMap(([path, entry]) => {
    if (path === '' || !entry?.version || entry.link) return [];
    const name = entry.name ?? path.split('node_modules/').pop()!;
    return [{ name, version: entry.version, path }];
  });
}

export function auditLock(lock: unknown, advisories: readonly Advisory[] = ADVISORIES): Finding[] {
  const byPackage = new Map<string, Advisory[]>();
  for (const a of advisories) byPackage.set(a.package, [...(byPackage.get(a.package) ?? []), a]);
  return installedPackages(lock).flatMap((pkg) =>
    (byPackage.get(pkg.name) ?? [])
      .filter((a) => isAffected(a, pkg.version))
      .map((a) => ({
        check: 'dependencies',
        severity: a.severity === 'moderate' ? 'medium' : a.severity,
        title: `${pkg.name}@${pkg.version}: ${a.title}`,
        detail: `${a.id}; fixed in ${a.ranges.find((r) => compareVersions(pkg.version, r.fixed) < 0)?.fixed ?? 'a later version'}`,
        location: pkg.path,
        reference: a.url,
      })),
  );
}

export async function auditDependencies(appRoot: string): Promise<{ findings: Finding[]; packages: number }> {
  const text = await readFile(join(appRoot, 'package-lock.json'), 'utf8');
  if (text.length > MAX_LOCKFILE_BYTES) throw new Error('package-lock.json is over the audit size limit');
  const lock = JSON.parse(text) as unknown;
  return { findings: auditLock(lock), packages: installedPackages(lock).length };
}
