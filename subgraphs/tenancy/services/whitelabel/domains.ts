import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import { randomSecret } from '../../../../lib/secrets.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { CustomDomain } from '../../../../prisma/generated/client.js';
import { whitelabelTenant } from './whitelabel-tenant.js';

export type { CustomDomain };

/** The TXT record's label, as the document shows it (`_platformforge`), under the custom domain. */
export const VERIFICATION_LABEL = '_platformforge';
const DNS_TIMEOUT_MS = 3_000;
const MAX_DOMAINS_PER_TENANT = 50;

/**
 * What the platform can honestly say about TLS: it has no ACME client and issues no
 * certificates, so a custom domain is served over HTTPS only with a certificate the operator
 * installs at their own proxy. `ssl_enabled`/`auto_provision_ssl` are kept as the tenant's wish.
 */
export const TLS_STATUS = {
  status: 'not_provisioned',
  reason: 'No certificate is issued: this platform has no ACME client; terminate TLS for this domain at your own proxy',
} as const;

const hostname = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .refine(
    (d) =>
      isIP(d) === 0 &&
      d.split('.').length >= 2 &&
      d.split('.').every((label) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(label)) &&
      /[a-z]/.test(d.split('.').at(-1)!),
    'a fully qualified domain name such as app.example.com',
  );

export interface DomainView extends CustomDomain {
  recordName: string;
  recordValue: string;
}

function view(domain: CustomDomain): DomainView {
  return {
    ...domain,
    recordName: `${VERIFICATION_LABEL}.${domain.domain}`,
    recordValue: `verify=${domain.verificationToken}`,
  };
}

const addInput = z.object({
  tenantId: z.string().nullish(),
  domain: hostname,
  sslEnabled: z.boolean().nullish(),
  autoProvisionSsl: z.boolean().nullish(),
});

/** Requires write:tenants. A domain belongs to one tenant; it is verified by a TXT record. */
export async function addCustomDomain({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof addInput>;
}): Promise<DomainView> {
  const data = parseInput(addInput, input);
  const tenant = await whitelabelTenant(deps, principal, data.tenantId, 'write:tenants');
  if ((await deps.db.prisma.customDomain.count({ where: { tenantId: tenant.id } })) >= MAX_DOMAINS_PER_TENANT) {
    throw new AppError('LIMIT_EXCEEDED', `A tenant has at most ${MAX_DOMAINS_PER_TENANT} custom domains`);
  }
  try {
    return view(
      await deps.db.prisma.customDomain.create({
        data: {
          id: newId('dom'),
          tenantId: tenant.id,
          domain: data.domain,
          verificationToken: randomSecret('', 24),
          status: 'pending_verification',
          sslEnabled: data.sslEnabled ?? true,
          autoProvisionSsl: data.autoProvisionSsl ?? true,
        },
      }),
    );
  } catch (error) {
    if ((error as { code?: string }).code === 'P2002') {
      throw new AppError('CONFLICT', 'This domain is already claimed', { domain: data.domain });
    }
    throw error;
  }
}

function resolverFor(deps: SubgraphDeps): Resolver {
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: 2 });
  const servers = deps.whitelabel?.dnsServers ?? [];
  if (servers.length > 0) resolver.setServers([...servers]);
  return resolver;
}

/**
 * Requires write:tenants. Asks DNS (WHITELABEL_DNS_SERVERS, else the system's resolvers) for the
 * TXT records at `_platformforge.<domain>`; verified when one of them is exactly `verify=<token>`.
 * Once verified a domain stays verified; a failed check says why.
 */
export async function verifyCustomDomain({
  deps,
  principal,
  tenantId,
  domain: given,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId?: string | null;
  domain: string;
}): Promise<DomainView> {
  const tenant = await whitelabelTenant(deps, principal, tenantId, 'write:tenants');
  const name = parseInput(hostname, given);
  const domain = await deps.db.prisma.customDomain.findUnique({ where: { domain: name } });
  if (!domain || domain.tenantId !== tenant.id)
    throw new AppError('NOT_FOUND', 'No such custom domain', { domain: name });
  const expected = `verify=${domain.verificationToken}`;
  let error: string | null = null;
  let found = false;
  try {
    const records = await resolverFor(deps).resolveTxt(`${VERIFICATION_LABEL}.${domain.domain}`);
    found = records.some((chunks) => chunks.join('') === expected);
    if (!found) error = `No TXT record at ${VERIFICATION_LABEL}.${domain.domain} equals the expected value`;
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? 'ERROR';
    error =
      code === 'ENOTFOUND' || code === 'ENODATA'
        ? `No TXT record at ${VERIFICATION_LABEL}.${domain.domain} yet (${code})`
        : `DNS lookup failed (${code})`;
  }
  const now = new Date();
  const updated = await deps.db.prisma.customDomain.update({
    where: { id: domain.id },
    data: {
      lastCheckedAt: now,
      lastCheckError: found ? null : error,
      ...(found && domain.status !== 'verified' ? { status: 'verified', verifiedAt: now } : {}),
    },
  });
  return view(updated);
}
