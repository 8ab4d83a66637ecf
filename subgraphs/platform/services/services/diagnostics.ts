import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../../lib/errors.js';
import { SUBGRAPH_NAMES } from '../../../../lib/env.js';
import { newId } from '../../../../lib/ids.js';
import { requireScope, type Principal } from '../../../../lib/principal.js';
import type { SubgraphDeps } from '../../../../lib/subgraph/context.js';
import { parseInput } from '../../../../lib/validate.js';
import { probeSubgraph } from './registry.js';

/**
 * Component diagnostics: real probes, bounded. connectivity: one round trip. performance: a fixed
 * number of sequential operations, timed (average and per second). stress: a fixed number with
 * bounded concurrency, timed, errors counted. Database: SELECT 1; cache: SET/GET/DEL on keys of its
 * own; jobs (event_bus): a no-op probe job through the queue and worker; subgraphs: `{ __typename }`
 * through their own pipeline. admin:services (the probes put load on the platform).
 */

export const DIAGNOSTIC_COMPONENTS = ['database', 'cache', 'event_bus', 'jobs', ...SUBGRAPH_NAMES] as const;
export const DIAGNOSTIC_TESTS = ['connectivity', 'performance', 'stress'] as const;
export const DIAGNOSTIC_PROBE_JOB = 'platform.diagnostic-probe';

const PERFORMANCE_OPS = 50;
const STRESS_OPS = 200;
const STRESS_CONCURRENCY = 10;
const JOB_PERFORMANCE_OPS = 5;
const JOB_STRESS_OPS = 20;
const TEST_TIMEOUT_MS = 15_000;

export interface DiagnosticTest {
  name: string;
  status: 'pass' | 'fail';
  durationMs: number;
  details: unknown;
}

export interface DiagnosticRun {
  testRunId: string;
  status: 'completed';
  durationMs: number;
  results: { component: string; tests: DiagnosticTest[] }[];
}

const input = z.object({
  components: z.array(z.enum(DIAGNOSTIC_COMPONENTS)).min(1).max(DIAGNOSTIC_COMPONENTS.length).nullish(),
  tests: z.array(z.enum(DIAGNOSTIC_TESTS)).min(1).max(3).nullish(),
});

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS);
      }),
    ]);
    return { ms: performance.now() - started, value };
  } finally {
    clearTimeout(timer);
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

async function sequential(count: number, op: (i: number) => Promise<unknown>) {
  for (let i = 0; i < count; i += 1) await op(i);
  return count;
}

async function concurrent(count: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  let next = 0;
  let errors = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await op(i).catch(() => {
        errors += 1;
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return errors;
}

async function runTest(name: string, work: () => Promise<unknown>): Promise<DiagnosticTest> {
  try {
    const { ms, value } = await timed(work);
    return { name, status: 'pass', durationMs: round(ms), details: value };
  } catch (error) {
    return {
      name,
      status: 'fail',
      durationMs: 0,
      details: { error: error instanceof Error ? error.message : String(error) },
    };
  }
}

function throughput(ops: number, ms: number, errors = 0) {
  return {
    operations: ops,
    errors,
    avg_time_ms: round(ms / ops),
    operations_per_second: round((ops / ms) * 1000),
  };
}

type Probe = (i: number) => Promise<unknown>;

function probesFor(deps: SubgraphDeps, component: string, runId: string): { op: Probe; ops: [number, number] } {
  switch (component) {
    case 'database':
      return { op: () => deps.db.ping(), ops: [PERFORMANCE_OPS, STRESS_OPS] };
    case 'cache': {
      const value = randomBytes(32).toString('hex');
      return {
        op: async (i) => {
          const key = `diag:${runId}:${i}`;
          await deps.kv.cache.set(key, value, 60);
          if ((await deps.kv.cache.get(key)) !== value) throw new Error('read back a different value');
          await deps.kv.cache.del(key);
        },
        ops: [PERFORMANCE_OPS, STRESS_OPS],
      };
    }
    case 'event_bus':
    case 'jobs':
      return {
        op: async (i) => {
          const { jobId } = await deps.jobs.enqueue(DIAGNOSTIC_PROBE_JOB, { runId }, { jobId: `diag-${runId}-${i}` });
          for (;;) {
            const job = await deps.jobs.getJob(jobId);
            if (job?.state === 'completed') return;
            if (!job || job.state === 'failed') throw new Error(`probe job ${job?.state ?? 'vanished'}`);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        },
        ops: [JOB_PERFORMANCE_OPS, JOB_STRESS_OPS],
      };
    default:
      return { op: () => probeSubgraph(deps, component), ops: [PERFORMANCE_OPS / 5, STRESS_OPS / 5] };
  }
}

export async function runDiagnostics(options: {
  deps: SubgraphDeps;
  principal: Principal | null;
  input: { components?: string[] | null; tests?: string[] | null };
}): Promise<DiagnosticRun> {
  requireScope(options.principal, 'admin:services');
  const parsed = parseInput(input, options.input);
  const { deps } = options;
  const components = [...new Set(parsed.components ?? ['database', 'cache', 'event_bus', ...SUBGRAPH_NAMES])];
  const tests = [...new Set(parsed.tests ?? ['connectivity', 'performance'])];
  if (components.some((c) => (SUBGRAPH_NAMES as readonly string[]).includes(c)) && !deps.subgraphs) {
    throw new AppError('NOT_CONFIGURED', 'Subgraph probes need the subgraph client, absent in this process');
  }
  const testRunId = newId('diag', 6);
  const started = performance.now();
  const results = [];
  for (const component of components) {
    const { op, ops } = probesFor(deps, component, testRunId);
    const done: DiagnosticTest[] = [];
    for (const test of tests) {
      if (test === 'connectivity') {
        done.push(
          await runTest('connectivity', async () => {
            const { ms } = await timed(() => op(0));
            return { response_time_ms: round(ms) };
          }),
        );
      } else if (test === 'performance') {
        done.push(
          await runTest('performance', async () => {
            const { ms } = await timed(() => sequential(ops[0], (i) => op(1_000 + i)));
            return throughput(ops[0], ms);
          }),
        );
      } else {
        done.push(
          await runTest('stress', async () => {
            const { ms, value: errors } = await timed(() =>
              concurrent(ops[1], STRESS_CONCURRENCY, (i) => op(10_000 + i)),
            );
            if (errors > 0) throw new Error(`${errors} of ${ops[1]} operations failed`);
            return { ...throughput(ops[1], ms, errors), concurrency: STRESS_CONCURRENCY };
          }),
        );
      }
    }
    results.push({ component, tests: done });
  }
  return { testRunId, status: 'completed', durationMs: round(performance.now() - started), results };
}
