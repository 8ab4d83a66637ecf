import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { RESOURCE_CATALOG_SCOPE, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';

/**
 * The tenants' databases as records of tenancy, for edge's resource catalog (cloudpioneer
 * /resources): each tenant's own database (its schema at level 1, its dedicated database at
 * level 2) and each blueprint database (`<blueprint>__<tenant>`). Sizes are measured now in the
 * catalog (pg_total_relation_size of every relation in the schema); a database elsewhere (level 2)
 * has no size here (null). Edge's service principal only.
 */

export interface DatabaseEntry {
  id: string;
  tenantId: string;
  name: string;
  kind: 'tenant' | 'blueprint';
  engine: string;
  isolationLevel: number;
  status: string;
  schemaName: string;
  sizeBytes: number | null;
  createdAt: Date;
  updatedAt: Date;
}

const MAX_ENTRIES = 10_000;

export async function databaseCatalog({
  deps,
  principal,
  tenantId,
  ids,
}: {
  deps: SubgraphDeps;
  principal: Principal | null;
  tenantId?: string | null;
  ids?: readonly string[] | null;
}): Promise<DatabaseEntry[]> {
  if (!principal?.scopes.includes(RESOURCE_CATALOG_SCOPE)) {
    throw new AppError('FORBIDDEN', 'The database catalog is read by the resource catalog only');
  }
  const only = parseInput(z.array(z.string().max(128)).max(100).nullish(), ids);
  const tenants = await deps.db.prisma.tenant.findMany({
    where: {
      ...(tenantId ? { id: tenantId } : {}),
      ...(only ? { id: { in: only.map((id) => id.replace(/^db_/, '')) } } : {}),
      status: { not: 'deleted' },
    },
    take: MAX_ENTRIES,
    orderBy: { createdAt: 'asc' },
  });
  const blueprints = await deps.db.prisma.tenantDatabase.findMany({
    where: { ...(tenantId ? { tenantId } : {}), ...(only ? { id: { in: only } } : {}) },
    include: { blueprint: { select: { name: true } } },
    take: MAX_ENTRIES,
    orderBy: { createdAt: 'asc' },
  });
  const entries: DatabaseEntry[] = [
    ...tenants.map((t) => ({
      id: `db_${t.id}`,
      tenantId: t.id,
      name: t.isolationLevel === 2 && t.databaseName ? t.databaseName : t.schemaName,
      kind: 'tenant' as const,
      engine: 'postgresql',
      isolationLevel: t.isolationLevel,
      status: t.status === 'active' ? (t.isolationLevel === 2 ? t.databaseStatus : 'available') : t.status,
      schemaName: t.schemaName,
      sizeBytes: null,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    })),
    ...blueprints.map((d) => ({
      id: d.id,
      tenantId: d.tenantId,
      name: d.databaseName,
      kind: 'blueprint' as const,
      engine: d.databaseType.toLowerCase(),
      isolationLevel: d.isolationLevel,
      status: d.status === 'ready' ? 'available' : d.status,
      schemaName: d.schemaName,
      sizeBytes: null,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
    })),
  ];
  // Sizes of what lives in this cluster as a schema (level 1), in one catalog query.
  const local = entries.filter((e) => e.isolationLevel === 1).map((e) => e.schemaName);
  if (local.length > 0) {
    const sizes = await deps.db.prisma.$queryRaw<Array<{ schema: string; bytes: number }>>`
      SELECT n.nspname AS schema, COALESCE(sum(pg_total_relation_size(c.oid)), 0)::float8 AS bytes
        FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm', 'p')
       WHERE n.nspname = ANY(${local}::text[])
       GROUP BY n.nspname`;
    const bySchema = new Map(sizes.map((s) => [s.schema, Number(s.bytes)]));
    for (const entry of entries) {
      if (entry.isolationLevel === 1) entry.sizeBytes = bySchema.get(entry.schemaName) ?? null;
    }
  }
  return entries;
}
