import { randomBytes } from 'node:crypto';
import { execute, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_PRINCIPAL } from '../gateway/pipeline/authenticate.js';
import { createLogger } from '../lib/logger.js';
import { NO_CLIENT } from '../lib/principal.js';
import type { SubgraphDeps } from '../lib/subgraph/context.js';
import { tenantStorageBytes } from '../subgraphs/tenancy/services/tenants/tenants.js';
import { bootPlatform, type TestPlatform } from './support/platform.js';
import { createTenant, type TenantInfo } from './support/tenants.js';

// N+1 in tenancy: Tenant.storageBytes, Tenant.databases and TenantDatabase.blueprint are resolved
// per row; with per-request DataLoaders a list of three tenants with two databases each costs one
// query per field, counted on the Prisma client the subgraph's resolvers use. The tenants are put
// in a project of their own, so the caller's list holds exactly them on a shared database.
describe('tenancy per-request loaders', () => {
  let t: TestPlatform;
  let tenants: TenantInfo[];
  const suffix = randomBytes(4).toString('hex');
  const blueprintIds = [`bp_loader_a_${suffix}`, `bp_loader_b_${suffix}`];
  const projectId = `prj_loader_${suffix}`;

  beforeAll(async () => {
    t = await bootPlatform();
    tenants = [];
    for (let i = 0; i < 3; i++) tenants.push(await createTenant(t, t.operatorKey, {}, 'ldr'));
    const { prisma } = t.platform.deps.db;
    await prisma.tenant.updateMany({ where: { id: { in: tenants.map((x) => x.id) } }, data: { projectId } });
    for (const id of blueprintIds) {
      await prisma.blueprint.create({ data: { id, name: id, databaseType: 'PostgreSQL' } });
    }
    for (const tenant of tenants) {
      for (const blueprintId of blueprintIds) {
        await prisma.tenantDatabase.create({
          data: {
            id: `${blueprintId}_${tenant.id}`,
            tenantId: tenant.id,
            blueprintId,
            databaseType: 'PostgreSQL',
            databaseName: `${blueprintId}__${tenant.slug}`,
            schemaName: tenant.schemaName,
          },
        });
      }
    }
  }, 300_000);

  afterAll(async () => {
    if (!t) return;
    // Databases go with their blueprints (ON DELETE CASCADE).
    await t.platform.deps.db.prisma.blueprint.deleteMany({ where: { id: { in: blueprintIds } } });
    await t.close();
  });

  it('answers three tenants with one query per field, the same figures as the per-row queries', async () => {
    const { deps } = t.platform;
    const counts: Record<string, number> = {};
    const count = (name: string) => (counts[name] = (counts[name] ?? 0) + 1);
    const prisma = deps.db.prisma;
    const counting = new Proxy(prisma, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop);
        if (prop === '$queryRawUnsafe' || prop === '$queryRaw') {
          return (...args: unknown[]) => {
            count(String(prop));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        if (prop === 'tenantDatabase' || prop === 'blueprint') {
          return new Proxy(value as object, {
            get(delegate, method) {
              const fn: unknown = Reflect.get(delegate, method);
              if (typeof fn !== 'function') return fn;
              return (...args: unknown[]) => {
                count(`${String(prop)}.${String(method)}`);
                return (fn as (...a: unknown[]) => unknown).apply(delegate, args);
              };
            },
          });
        }
        return value;
      },
    });
    const db = Object.create(deps.db) as SubgraphDeps['db'];
    Object.defineProperty(db, 'prisma', { value: counting });
    const countingDeps: SubgraphDeps = { ...deps, db };

    const document = parse('{ tenants(limit: 10) { id storageBytes databases { id blueprint } } }');
    const result = await execute({
      schema: t.platform.subgraphs.tenancy.schema,
      document,
      contextValue: {
        principal: { ...OPERATOR_PRINCIPAL, projectId },
        requestId: 'loader-test',
        client: NO_CLIENT,
        logger: createLogger({ level: 'silent' }),
        deps: countingDeps,
      },
    });
    expect(result.errors).toBeUndefined();
    const listed = (
      result.data as { tenants: { id: string; storageBytes: number; databases: { blueprint: string }[] }[] }
    ).tenants;
    expect(listed.map((x) => x.id)).toEqual(tenants.map((x) => x.id));
    for (const [i, tenant] of tenants.entries()) {
      const answer = listed[i]!;
      expect(answer.databases.map((d) => d.blueprint)).toEqual(blueprintIds);
      expect(answer.storageBytes).toBe(Number(await tenantStorageBytes(deps, tenant.schemaName)));
      expect(answer.storageBytes).toBeGreaterThan(0);
    }
    expect(counts.$queryRawUnsafe).toBe(1);
    expect(counts['tenantDatabase.findMany']).toBe(1);
    expect(counts['blueprint.findMany']).toBe(1);
    expect(counts['blueprint.findUnique']).toBeUndefined();
  });
});
