import type { SubgraphName } from '../env.js';
import { requireScope } from '../principal.js';
import type { Builder } from './builder.js';
import type { SubgraphDeps } from './context.js';

export type HealthStatus = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';

export interface ComponentCheck {
  status: HealthStatus;
  responseTimeMs: number | null;
  error: string | null;
}

export interface SubgraphProbe {
  name: SubgraphName;
  status: HealthStatus;
  uptimeSeconds: number;
  database: ComponentCheck;
}

/** Measures a dependency once; a failure is reported, never thrown, so one dead part cannot hide the others. */
export async function checkComponent(check: () => Promise<number>): Promise<ComponentCheck> {
  try {
    return { status: 'HEALTHY', responseTimeMs: round(await check()), error: null };
  } catch (error) {
    return { status: 'UNHEALTHY', responseTimeMs: null, error: error instanceof Error ? error.message : String(error) };
  }
}

/** A subgraph's own view of itself: it answered (so it is up) and its own database pool works. */
export async function probeSubgraph(name: SubgraphName, deps: SubgraphDeps): Promise<SubgraphProbe> {
  const database = await checkComponent(() => deps.db.ping());
  return {
    name,
    status: database.status,
    uptimeSeconds: Math.floor((Date.now() - deps.startedAt.getTime()) / 1000),
    database,
  };
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * The value types every subgraph shares (identical in each, hence shareable), plus, outside the
 * platform subgraph, this subgraph's own field on the platform's HealthReport entity. The gateway's
 * query plan then asks each subgraph for its probe: a subgraph that is down yields null and an error.
 */
export function addHealthTypes(builder: Builder, name: SubgraphName) {
  const HealthStatusEnum = builder.enumType('HealthStatus', {
    values: ['HEALTHY', 'DEGRADED', 'UNHEALTHY'] as const,
  });

  const ComponentCheckRef = builder.objectRef<ComponentCheck>('ComponentCheck').implement({
    shareable: true,
    fields: (t) => ({
      status: t.field({ type: HealthStatusEnum, resolve: (c) => c.status }),
      responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
      error: t.exposeString('error', { nullable: true }),
    }),
  });

  const SubgraphHealthRef = builder.objectRef<SubgraphProbe>('SubgraphHealth').implement({
    shareable: true,
    fields: (t) => ({
      name: t.exposeString('name'),
      status: t.field({ type: HealthStatusEnum, resolve: (p) => p.status }),
      uptimeSeconds: t.exposeInt('uptimeSeconds'),
      database: t.field({ type: ComponentCheckRef, resolve: (p) => p.database }),
    }),
  });

  if (name !== 'platform') {
    builder.externalRef('HealthReport', builder.selection<{ id: string }>('id')).implement({
      fields: (t) => ({
        // An entity extended here must expose its key, or composition fails (KEY_INVALID_FIELDS).
        id: t.exposeID('id'),
        [name]: t.field({
          type: SubgraphHealthRef,
          nullable: true,
          resolve: (_report, _args, ctx) => {
            requireScope(ctx.principal, 'read:system');
            return probeSubgraph(name, ctx.deps);
          },
        }),
      }),
    });
  }

  return { HealthStatusEnum, ComponentCheckRef, SubgraphHealthRef };
}
