import { connect } from 'node:net';
import { PLATFORM_SERVICE_PRINCIPAL } from '../../../lib/principal.js';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';

/**
 * Reachability of the outbound dependencies this platform is configured with, measured when
 * asked: Stripe (an authenticated GET /v1/balance), SMTP (connect, greeting, authentication
 * without sending), the S3 bucket (a HEAD of a probe key), ClamAV (clamd PING), the OIDC issuers
 * of the enabled SSO connections (their discovery document). A dependency that
 * is not configured says so; nothing is assumed healthy without a round trip.
 */
export type ExternalApiStatus = 'healthy' | 'unhealthy' | 'not_configured';

export interface ExternalApiProbe {
  name: string;
  /** What it is for, in the documented block's terms. */
  role: string;
  status: ExternalApiStatus;
  configured: boolean;
  responseTimeMs: number | null;
  error: string | null;
}

export interface ExternalApisReport {
  /** healthy: every configured one answered; degraded: one did not; not_configured: none is. */
  status: 'healthy' | 'degraded' | 'not_configured';
  services: ExternalApiProbe[];
}

const PROBE_TIMEOUT_MS = 5_000;

async function timed(
  name: string,
  role: string,
  configured: boolean,
  probe: () => Promise<void>,
): Promise<ExternalApiProbe> {
  if (!configured) return { name, role, status: 'not_configured', configured, responseTimeMs: null, error: null };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    const responseTimeMs = Math.round((performance.now() - started) * 100) / 100;
    return { name, role, status: 'healthy', configured, responseTimeMs, error: null };
  } catch (error) {
    const responseTimeMs = Math.round((performance.now() - started) * 100) / 100;
    return {
      name,
      role,
      status: 'unhealthy',
      configured,
      responseTimeMs,
      error: (error as Error).message.slice(0, 200),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** clamd's PING command; it answers PONG. */
function pingClamd({ host, port }: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let answer = '';
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error('clamd did not answer')));
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\0') || answer.includes('\n')) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () =>
      answer.replace(/[\0\n]/g, '').trim() === 'PONG' ? resolve() : reject(new Error(`clamd answered "${answer}"`)),
    );
  });
}

async function pingStripe(settings: NonNullable<SubgraphDeps['stripe']>): Promise<void> {
  const base = (settings.apiUrl ?? 'https://api.stripe.com').replace(/\/+$/, '');
  const response = await fetch(`${base}/v1/balance`, {
    headers: { authorization: `Bearer ${settings.secretKey}` },
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`Stripe answered HTTP ${response.status}`);
}

const OIDC_ISSUERS = `query PlatformOidcIssuers { oidcIssuers { issuer connections } }`;

/** OIDC discovery: the issuer's metadata document answers and names the same issuer. */
async function fetchDiscovery(issuer: string): Promise<void> {
  const response = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
    headers: { accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`discovery answered HTTP ${response.status}`);
  }
  const metadata = (await response.json()) as { issuer?: unknown };
  if (metadata.issuer !== issuer) throw new Error(`discovery names issuer ${String(metadata.issuer).slice(0, 100)}`);
}

/**
 * The OIDC issuers of the enabled SSO connections (identity's records, read with the platform's
 * service principal), each probed by fetching its discovery document. Identity unreachable: one
 * unhealthy entry saying so; no OIDC connection: one not_configured entry.
 */
async function probeOidcIssuers(deps: SubgraphDeps): Promise<ExternalApiProbe[]> {
  const role = 'identity_provider';
  let issuers: { issuer: string; connections: number }[];
  try {
    if (!deps.subgraphs) throw new Error('identity is not reachable from this process');
    const answer = await deps.subgraphs.call<{ oidcIssuers: { issuer: string; connections: number }[] }>('identity', {
      document: OIDC_ISSUERS,
      principal: PLATFORM_SERVICE_PRINCIPAL,
    });
    if (answer.errors?.[0]) throw new Error(answer.errors[0].message);
    issuers = answer.data?.oidcIssuers ?? [];
  } catch (error) {
    return [
      {
        name: 'oidc',
        role,
        status: 'unhealthy',
        configured: true,
        responseTimeMs: null,
        error: `SSO connections could not be read: ${(error as Error).message}`.slice(0, 200),
      },
    ];
  }
  if (issuers.length === 0) return [await timed('oidc', role, false, async () => undefined)];
  return Promise.all(issuers.map(({ issuer }) => timed(`oidc:${issuer}`, role, true, () => fetchDiscovery(issuer))));
}

export async function checkExternalApis(deps: SubgraphDeps): Promise<ExternalApisReport> {
  const [oidc, ...fixed] = await Promise.all([
    probeOidcIssuers(deps),
    timed('stripe', 'payment_gateway', Boolean(deps.stripe), () => pingStripe(deps.stripe!)),
    timed('smtp', 'email_service', Boolean(deps.mailer), async () => {
      if (!deps.mailer!.verify) throw new Error('This mailer cannot be probed');
      await deps.mailer!.verify();
    }),
    timed('s3', 'object_storage', deps.blobs.backend === 's3', async () => {
      await deps.blobs.stat('health/probe');
    }),
    timed('clamav', 'virus_scanner', Boolean(deps.clamav), () => pingClamd(deps.clamav!)),
  ]);
  const services = [...(fixed as ExternalApiProbe[]), ...oidc];
  const configured = services.filter((s) => s.configured);
  const status =
    configured.length === 0
      ? 'not_configured'
      : configured.every((s) => s.status === 'healthy')
        ? 'healthy'
        : 'degraded';
  return { status, services };
}
