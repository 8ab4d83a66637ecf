import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Logger } from '../../../../lib/logger.js';
import { paginationOf, pageInput, pageWindow, type Pagination } from '../../../../lib/pagination.js';
import { PLATFORM_SERVICE_PRINCIPAL, requireScope, type Principal } from '../../../../lib/principal.js';
import type { JobContext } from '../../../../lib/runtime/jobs.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { SecurityScan } from '../../../../prisma/generated/client.js';
import { checkConfiguration, readCheckedEnv } from './config-checks.js';
import { ADVISORY_SOURCE, auditDependencies } from './dependency-audit.js';
import { FINDING_SEVERITIES, severityRank, type Finding, type FindingSeverity } from './findings.js';
import { scanConfigFiles } from './secret-scan.js';

export type { SecurityScan };

/**
 * Security scans, run as jobs (`platform.security-scan`) with a step per check and stored with
 * their findings: dependency audit (package-lock.json against the advisory snapshot), secrets in
 * configuration files, configuration checks (TLS, default keys, debug flags), permissions (open
 * registration, from identity), container (Dockerfile). admin:security.
 */

export const SCAN_CHECKS = ['dependencies', 'secrets', 'configuration', 'permissions', 'containers'] as const;
export type ScanCheck = (typeof SCAN_CHECKS)[number];
export const SECURITY_SCAN_JOB = 'platform.security-scan';

/** nexus-core components and platform-forge scan types, onto the checks that exist. */
const CHECKS_FOR: Record<string, ScanCheck[]> = {
  plugins: ['dependencies'],
  dependencies: ['dependencies'],
  configuration: ['configuration', 'secrets'],
  secrets: ['secrets'],
  permissions: ['permissions'],
  containers: ['containers'],
};
/** Asked for but not something this platform can scan; listed in the summary as not scanned. */
const UNSUPPORTED = new Set(['code']);

const scanInput = z.object({
  source: z.enum(['nexus-core', 'platform-forge']),
  type: z.enum(['full', 'quick']).nullish(),
  components: z.array(z.string().min(1).max(50)).max(20).nullish(),
  targets: z.array(z.string().min(1).max(200)).max(20).nullish(),
  deepScan: z.boolean().nullish(),
  severityThreshold: z.enum(['critical', 'high', 'medium', 'low', 'info']).nullish(),
});

/** Scans read the platform's own code and configuration: a tenant's admin:security does not reach them. */
function requirePlatformSecurity(principal: Principal | null): Principal {
  const p = requireScope(principal, 'admin:security');
  if (p.tenantId !== null) throw new AppError('FORBIDDEN', 'Security scans are for platform operators');
  return p;
}

export async function createSecurityScan(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof scanInput>;
}): Promise<SecurityScan> {
  const principal = requirePlatformSecurity(options.principal);
  const input = parseInput(scanInput, options.input);
  const asked = input.components ?? (input.type === 'quick' ? ['configuration'] : Object.keys(CHECKS_FOR));
  const unknown = asked.filter((c) => !CHECKS_FOR[c] && !UNSUPPORTED.has(c));
  if (unknown.length > 0) {
    throw new AppError('VALIDATION_ERROR', `Unknown scan component: ${unknown.join(', ')}`, {
      supported: [...Object.keys(CHECKS_FOR), ...UNSUPPORTED],
    });
  }
  const checks = [...new Set(asked.flatMap((c) => CHECKS_FOR[c] ?? []))];
  resolveTargets(input.targets ?? []);
  const id = newId('scan');
  const scan = await options.deps.db.prisma.securityScan.create({
    data: {
      id,
      source: input.source,
      scanTypes: checks,
      request: {
        type: input.type ?? 'full',
        components: asked,
        targets: input.targets ?? [],
        deep_scan: input.deepScan ?? false,
        severity_threshold: input.severityThreshold ?? 'info',
        not_scanned: asked.filter((c) => UNSUPPORTED.has(c)),
      },
      jobId: `security-scan-${id}`,
      createdBy: principal.id,
    },
  });
  await options.deps.jobs.enqueue(SECURITY_SCAN_JOB, { scanId: id }, { jobId: scan.jobId! });
  return scan;
}

/** The platform's own code and configuration: the directory the process runs from. */
function appRoot(): string {
  return process.cwd();
}

/** `/app` and `/config` as the document writes them: the app root and its config folder, nothing else. */
function resolveTargets(targets: string[]): string[] {
  const root = appRoot();
  if (targets.length === 0) return [root];
  return [
    ...new Set(
      targets.map((target) => {
        const name = target.replace(/^\/+|\/+$/g, '');
        if (name === '' || name === 'app' || name === '.') return root;
        if (name === 'config') return join(root, 'config');
        throw new AppError(
          'VALIDATION_ERROR',
          `Scan targets are "/app" and "/config"; "${target.slice(0, 50)}" is not`,
        );
      }),
    ),
  ];
}

async function checkPermissions(deps: SubgraphDeps): Promise<{ findings: Finding[]; skipped?: string }> {
  if (!deps.subgraphs) return { findings: [], skipped: 'identity is not reachable from this process' };
  const answer = await deps.subgraphs.call<{ _entities: { identity: { openRegistrationTenants: number | null } }[] }>(
    'identity',
    {
      document: `query ($r: [_Any!]!) { _entities(representations: $r) { ... on SecurityStatus { identity { openRegistrationTenants } } } }`,
      variables: { r: [{ __typename: 'SecurityStatus', id: 'security-status' }] },
      principal: PLATFORM_SERVICE_PRINCIPAL,
    },
  );
  const open = answer.data?._entities?.[0]?.identity.openRegistrationTenants;
  if (open === undefined || open === null) {
    return { findings: [], skipped: `identity did not answer: ${answer.errors?.[0]?.message ?? 'no data'}` };
  }
  return {
    findings:
      open > 0
        ? [
            {
              check: 'permissions',
              severity: 'medium',
              title: 'Open self-registration',
              detail: `${open} tenant(s) let anyone register an account`,
              location: 'identity.tenant_auth_settings',
            },
          ]
        : [],
  };
}

async function checkContainer(root: string): Promise<Finding[]> {
  const text = await readFile(join(root, 'Dockerfile'), 'utf8').catch(() => null);
  if (text === null) return [];
  const findings: Finding[] = [];
  const stages = text.split(/^FROM\s+/im).slice(1);
  const last = stages.at(-1) ?? '';
  if (!/^USER\s+(?!root\b|0\b)\S+/im.test(last)) {
    findings.push({
      check: 'containers',
      severity: 'medium',
      title: 'Container runs as root',
      detail: 'The final stage of the Dockerfile sets no non-root USER',
      location: 'Dockerfile',
    });
  }
  for (const match of text.matchAll(/^FROM\s+(\S+)/gim)) {
    const image = match[1]!;
    if (!image.includes(':') || image.endsWith(':latest')) {
      findings.push({
        check: 'containers',
        severity: 'low',
        title: 'Unpinned base image',
        detail: `${image} has no fixed tag`,
        location: 'Dockerfile',
      });
    }
  }
  return findings;
}

type Progress = Pick<JobContext, 'updateProgress' | 'log' | 'signal'>;

export async function runSecurityScan(options: {
  deps: SubgraphDeps;
  scanId: string;
  logger: Logger;
  progress: Progress;
}): Promise<{ scanId: string; findings: number }> {
  const { deps, scanId, progress } = options;
  const scan = await deps.db.prisma.securityScan.findUnique({ where: { id: scanId } });
  if (!scan) throw new AppError('NOT_FOUND', 'Scan not found', { scan_id: scanId });
  if (scan.status === 'completed') return { scanId, findings: ((scan.findings ?? []) as unknown[]).length };
  const request = scan.request as { targets: string[]; severity_threshold: FindingSeverity; not_scanned: string[] };
  const checks = scan.scanTypes as ScanCheck[];
  const status: Record<string, string> = Object.fromEntries(checks.map((c) => [c, 'pending']));
  const report = () =>
    progress.updateProgress({
      percent: Math.round((checks.filter((c) => status[c] === 'completed').length / Math.max(1, checks.length)) * 100),
      steps: checks.map((c) => ({ name: c, status: status[c] })),
    });
  await deps.db.prisma.securityScan.update({ where: { id: scanId }, data: { status: 'running', error: null } });
  try {
    const roots = resolveTargets(request.targets);
    const findings: Finding[] = [];
    const summary: Record<string, unknown> = { not_scanned: request.not_scanned, skipped: {} };
    for (const check of checks) {
      progress.signal.throwIfAborted();
      status[check] = 'running';
      await report();
      await progress.log(`${check} started`);
      switch (check) {
        case 'dependencies': {
          const audit = await auditDependencies(appRoot());
          findings.push(...audit.findings);
          summary.packages_audited = audit.packages;
          summary.advisory_source = ADVISORY_SOURCE;
          break;
        }
        case 'secrets': {
          const scanned = await scanConfigFiles(roots, appRoot());
          findings.push(...scanned.findings);
          summary.config_files_scanned = scanned.files;
          break;
        }
        case 'configuration': {
          const result = checkConfiguration(readCheckedEnv());
          findings.push(...result.findings);
          summary.configuration_checks = result.checks;
          break;
        }
        case 'permissions': {
          const result = await checkPermissions(deps);
          findings.push(...result.findings);
          if (result.skipped) (summary.skipped as Record<string, string>).permissions = result.skipped;
          break;
        }
        case 'containers':
          findings.push(...(await checkContainer(appRoot())));
          break;
      }
      status[check] = 'completed';
      await report();
    }
    const threshold = severityRank(request.severity_threshold ?? 'info');
    const kept = findings
      .filter((f) => severityRank(f.severity) >= threshold)
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
      .slice(0, 1000);
    summary.counts = Object.fromEntries(
      FINDING_SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length]),
    );
    await deps.db.prisma.securityScan.update({
      where: { id: scanId },
      data: { status: 'completed', findings: kept as object[], summary: summary as object, completedAt: new Date() },
    });
    await progress.log(`scan completed: ${findings.length} findings`);
    return { scanId, findings: kept.length };
  } catch (error) {
    const message = progress.signal.aborted ? 'cancelled' : error instanceof Error ? error.message : String(error);
    await deps.db.prisma.securityScan.update({ where: { id: scanId }, data: { status: 'failed', error: message } });
    throw error;
  }
}

const listInput = z.object({ ...pageInput({ defaultLimit: 20, maxLimit: 100 }) });

export async function listSecurityScans(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: { page?: number | null; limit?: number | null };
}): Promise<{ scans: SecurityScan[]; pagination: Pagination }> {
  requirePlatformSecurity(options.principal);
  const input = parseInput(listInput, options.input);
  const [scans, total] = await Promise.all([
    options.deps.db.prisma.securityScan.findMany({
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      ...pageWindow(input),
    }),
    options.deps.db.prisma.securityScan.count(),
  ]);
  return { scans, pagination: paginationOf(input, total) };
}

export async function getSecurityScan(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  id: string;
}): Promise<SecurityScan> {
  requirePlatformSecurity(options.principal);
  const scan = await options.deps.db.prisma.securityScan.findUnique({ where: { id: options.id.slice(0, 100) } });
  if (!scan) throw new AppError('NOT_FOUND', 'Scan not found', { scan_id: options.id.slice(0, 100) });
  return scan;
}

/** How long the last completed scan of the same checks took: a measured estimate, or null. */
export async function estimateScanMs(deps: SubgraphDeps, scan: SecurityScan): Promise<number | null> {
  const previous = await deps.db.prisma.securityScan.findFirst({
    where: { status: 'completed', scanTypes: { equals: scan.scanTypes }, completedAt: { not: null } },
    orderBy: { createdAt: 'desc' },
  });
  return previous?.completedAt ? previous.completedAt.getTime() - previous.createdAt.getTime() : null;
}

export interface SecurityStatusRoot {
  id: string;
  lastScan: SecurityScan | null;
}

/**
 * The platform's half of the security status: the last completed scan. Identity adds its
 * figures on the same entity (failed sign-ins, blocks, sessions). A tenant-bound caller with
 * admin:security (a tenant admin) gets no platform scan: scans describe the whole platform.
 */
export async function getSecurityStatus(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
}): Promise<SecurityStatusRoot> {
  const principal = requireScope(options.principal, 'admin:security');
  const lastScan =
    principal.tenantId === null
      ? await options.deps.db.prisma.securityScan.findFirst({
          where: { status: 'completed' },
          orderBy: { completedAt: 'desc' },
        })
      : null;
  return { id: 'security-status', lastScan };
}
