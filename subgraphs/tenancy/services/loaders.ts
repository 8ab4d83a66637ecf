import DataLoader from 'dataloader';
import type { SubgraphDeps } from '../../../lib/subgraph/context.js';
import type { TenantDatabase } from './blueprints/tenant-databases-blueprint.js';

/**
 * Per-request DataLoaders for the tenancy fields resolved once per row (Tenant.storageBytes,
 * Tenant.databases, TenantDatabase.blueprint): a list of N tenants costs one query per field,
 * not N. They live as long as the request's context object (a WeakMap keyed by it), so nothing
 * is cached across requests or callers.
 */
export interface TenancyLoaders {
  /** Bytes in a schema's tables and materialized views, indexes included (0 for a schema without any). */
  storageBytes: DataLoader<string, bigint>;
  /** A tenant's databases made from blueprints, oldest first. */
  databasesByTenant: DataLoader<string, TenantDatabase[]>;
  /** A blueprint's name; null when the blueprint is gone. */
  blueprintName: DataLoader<string, string | null>;
}

const perRequest = new WeakMap<object, TenancyLoaders>();

function createLoaders(deps: SubgraphDeps): TenancyLoaders {
  const { prisma } = deps.db;
  return {
    storageBytes: new DataLoader(async (schemaNames) => {
      const rows = await prisma.$queryRawUnsafe<{ schema: string; bytes: bigint | number | string | null }[]>(
        `SELECT n.nspname AS schema, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'm')
          GROUP BY n.nspname`,
        [...schemaNames],
      );
      const bytes = new Map(rows.map((r) => [r.schema, BigInt(r.bytes ?? 0)]));
      return schemaNames.map((name) => bytes.get(name) ?? 0n);
    }),
    databasesByTenant: new DataLoader(async (tenantIds) => {
      const rows = await prisma.tenantDatabase.findMany({
        where: { tenantId: { in: [...tenantIds] } },
        orderBy: { createdAt: 'asc' },
      });
      const byTenant = new Map<string, TenantDatabase[]>();
      for (const row of rows) {
        const list = byTenant.get(row.tenantId);
        if (list) list.push(row);
        else byTenant.set(row.tenantId, [row]);
      }
      return tenantIds.map((id) => byTenant.get(id) ?? []);
    }),
    blueprintName: new DataLoader(async (ids) => {
      const rows = await prisma.blueprint.findMany({
        where: { id: { in: [...ids] } },
        select: { id: true, name: true },
      });
      const names = new Map(rows.map((r) => [r.id, r.name]));
      return ids.map((id) => names.get(id) ?? null);
    }),
  };
}

/** The loaders of this request (its context object), made on first use. */
export function tenancyLoaders(ctx: { deps: SubgraphDeps }): TenancyLoaders {
  let loaders = perRequest.get(ctx);
  if (!loaders) {
    loaders = createLoaders(ctx.deps);
    perRequest.set(ctx, loaders);
  }
  return loaders;
}
