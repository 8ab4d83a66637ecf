import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { newId } from '../../../../lib/ids.js';
import type { Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import type { Brand, Prisma } from '../../../../prisma/generated/client.js';
import { whitelabelTenant } from './whitelabel-tenant.js';

export type { Brand };

const colour = z
  .string()
  .regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, 'a colour is #rgb, #rrggbb or #rrggbbaa')
  .transform((c) => c.toLowerCase());

/** A CSS font-family name: letters, digits, spaces and hyphens, so it can be written into CSS unquoted-safe. */
const font = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 -]{0,63}$/, 'a font family is letters, digits, spaces and hyphens');

const httpsUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      return new URL(u).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https:// URL');

/** Templates and the placeholders each may use; anything else is refused rather than left unrendered. */
export const EMAIL_TEMPLATE_VARIABLES: Record<string, readonly string[]> = {
  welcome: ['user_name', 'tenant_name', 'login_url'],
  password_reset: ['user_name', 'tenant_name', 'reset_url', 'expires_in'],
  invitation: ['user_name', 'tenant_name', 'inviter_name', 'accept_url'],
  mfa_code: ['user_name', 'tenant_name', 'code', 'expires_in'],
  invoice: ['user_name', 'tenant_name', 'invoice_url', 'amount'],
};

const UNSAFE_HTML = /<\s*(script|iframe|object|embed|form|meta|base)\b|\son[a-z]+\s*=|javascript:/i;

const template = z.object({
  subject: z.string().trim().min(1).max(200),
  html: z
    .string()
    .max(64 * 1024)
    .optional(),
  text: z
    .string()
    .max(64 * 1024)
    .optional(),
});

const brandConfig = z
  .object({
    primary_color: colour,
    secondary_color: colour.optional(),
    accent_color: colour.optional(),
    background_color: colour.optional(),
    text_color: colour.optional(),
    logo_url: httpsUrl.optional(),
    logo_asset_id: z
      .string()
      .regex(/^ast_[0-9a-f]+$/)
      .optional(),
    favicon_asset_id: z
      .string()
      .regex(/^ast_[0-9a-f]+$/)
      .optional(),
    fonts: z.object({ primary: font, secondary: font.optional() }).strict().optional(),
    email_templates: z
      .partialRecord(z.enum(Object.keys(EMAIL_TEMPLATE_VARIABLES) as [string, ...string[]]), template)
      .optional(),
  })
  .strict();

const createBrandInput = z.object({
  tenantId: z.string().nullish(),
  name: z.string().trim().min(1).max(100),
  config: brandConfig,
});

function checkTemplates(templates: Partial<Record<string, z.output<typeof template>>> | undefined): void {
  const problems: Array<{ path: string; message: string }> = [];
  for (const [name, t] of Object.entries(templates ?? {})) {
    if (!t) continue;
    if (!t.html && !t.text) problems.push({ path: `config.email_templates.${name}`, message: 'give html or text' });
    const allowed = new Set(EMAIL_TEMPLATE_VARIABLES[name]);
    for (const [part, body] of Object.entries({ subject: t.subject, html: t.html ?? '', text: t.text ?? '' })) {
      for (const match of body.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
        if (!allowed.has(match[1]!)) {
          problems.push({
            path: `config.email_templates.${name}.${part}`,
            message: `unknown placeholder {{${match[1]}}}; allowed: ${[...allowed].join(', ')}`,
          });
        }
      }
    }
    if (t.html && UNSAFE_HTML.test(t.html)) {
      problems.push({
        path: `config.email_templates.${name}.html`,
        message: 'scripts, frames, forms, event handlers and javascript: URLs are not allowed in email HTML',
      });
    }
  }
  if (problems.length > 0) throw new AppError('VALIDATION_ERROR', 'Invalid input', { fields: problems });
}

/** Requires write:tenants. One brand per name per tenant; asset ids must be the tenant's own uploads. */
export async function createBrand({
  deps,
  principal,
  input,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: z.input<typeof createBrandInput>;
}): Promise<Brand> {
  const data = parseInput(createBrandInput, input);
  const tenant = await whitelabelTenant(deps, principal, data.tenantId, 'write:tenants');
  checkTemplates(data.config.email_templates);
  const assetIds = [data.config.logo_asset_id, data.config.favicon_asset_id].filter((x): x is string => !!x);
  if (assetIds.length > 0) {
    const found = await deps.db.prisma.brandAsset.count({ where: { tenantId: tenant.id, id: { in: assetIds } } });
    if (found !== new Set(assetIds).size)
      throw new AppError('NOT_FOUND', 'No such brand asset', { asset_ids: assetIds });
  }
  try {
    return await deps.db.prisma.brand.create({
      data: {
        id: newId('brd'),
        tenantId: tenant.id,
        name: data.name,
        config: data.config as Prisma.InputJsonValue,
      },
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'P2002') {
      throw new AppError('CONFLICT', 'The tenant already has a brand with this name', { name: data.name });
    }
    throw error;
  }
}
