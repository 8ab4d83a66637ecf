import { fork, type ChildProcess } from 'node:child_process';
import { subscribe as onDiagnostics } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { Socket } from 'node:net';
import { cpus, loadavg, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ClientJob, FromClients, ToClients } from './subscription-clients.js';
import { startBenchPlatform } from './support.js';

// `npm run bench:subscriptions`: N graphql-ws subscribers (BENCH_WS, default 10,000) and M SSE
// subscribers (BENCH_SSE, default 1,000) on one gateway, all on one event stream; one event is
// published per round (BENCH_ROUNDS, default 3) and the time from publish until each subscriber
// has it is measured (p50/p99/max).
//
// This process is the gateway (and nothing else while a round runs): the subscribers live in
// BENCH_CLIENT_PROCESSES child processes (default 2, bench/subscription-clients.ts), so their
// work does not run on the server's event loop. Receipt times are the children's wall clock
// (performance.timeOrigin + performance.now()); the offset between each child's clock and ours is
// measured over IPC (the sample with the shortest round trip; its half round trip bounds the error)
// and subtracted. Memory per idle subscriber is this process's growth (heap after a full GC, RSS,
// external) while the subscribers connect, divided by their number: server side only.
// BENCH_SHARE=0 turns off shared resolution of identical subscriptions (the baseline).
// BENCH_CPU_PROFILE=file.cpuprofile writes a V8 CPU profile of this process during the rounds.
// BENCH_CLIENT_NICE=10 runs the client processes at a lower priority: in production subscribers are
// on other machines, here each frame the gateway writes wakes a client process that would otherwise
// preempt the gateway in the middle of its write burst (default 0: they compete as they are).
// After the rounds, the floor: one 2-byte WebSocket ping frame written straight to each
// subscriber's TCP socket from this process (no gateway, no ws code), timed the same way.
//
// Open files: the gateway holds one socket per subscriber, so its limit must exceed WS + SSE; Node
// raises the soft limit to the hard one by itself, so the bench checks and stops when even that is
// too low (20,000 here, enough for 10,000 + 1,000).

const WS = Number(process.env.BENCH_WS ?? 10_000);
const SSE = Number(process.env.BENCH_SSE ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROCESSES = Math.max(1, Number(process.env.BENCH_CLIENT_PROCESSES ?? 2));
const SHARE = process.env.BENCH_SHARE !== '0';
const PROFILE = process.env.BENCH_CPU_PROFILE;
const NICE = Number(process.env.BENCH_CLIENT_NICE ?? 0);
const ROUND_TIMEOUT_MS = 60_000;

const QUERY = `subscription ($tenantId: ID) { telemetryEvents(tenantId: $tenantId) { id type occurredAt } }`;

ensureOpenFiles(WS + SSE + 512);
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const now = () => performance.timeOrigin + performance.now();
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a');
const memory = () => {
  gc();
  gc();
  return process.memoryUsage();
};

// Every socket the gateway accepts (for the floor measurement), seen through Node's public channel.
const accepted: Socket[] = [];
onDiagnostics('net.server.socket', (message) => accepted.push((message as { socket: Socket }).socket));

const bench = await startBenchPlatform({
  subscriptionLimits: { maxPerPrincipal: WS + SSE + 10, shareIdentical: SHARE },
});
const { platform, operatorKey } = bench;
const children: Array<{ process: ChildProcess; offset: number; halfRtt: number; ws: number; sse: number }> = [];
console.log(
  `${WS} graphql-ws + ${SSE} SSE subscribers in ${PROCESSES} client processes (nice ${NICE}); shared resolution ${SHARE ? 'on' : 'off (BENCH_SHARE=0)'}`,
);
console.log(`load average ${load()} on ${cpus().length} cores`);

/** The next message of a kind from a child (IPC keeps order per child). */
const nextMessage = <T extends FromClients['type']>(child: ChildProcess, type: T, timeoutMs = 600_000) =>
  new Promise<Extract<FromClients, { type: T }>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', listener);
      reject(new Error(`no ${type} from a client process within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (message: FromClients) => {
      if (message.type === 'failed') {
        clearTimeout(timer);
        child.off('message', listener);
        reject(new Error(`a client process failed: ${message.message}`));
      } else if (message.type === type) {
        clearTimeout(timer);
        child.off('message', listener);
        resolve(message as Extract<FromClients, { type: T }>);
      }
    };
    child.on('message', listener);
  });
const tell = (child: ChildProcess, message: ToClients) => child.send(message);

try {
  const created = (await bench.request('POST', '/graphql', {
    body: {
      query: `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id } }`,
      variables: { input: { name: 'Bench subscriptions', slug: `bench-subs-${Date.now().toString(36)}` } },
    },
  })) as { data: { createTenant: { id: string } } };
  const tenantId = created.data.createTenant.id;
  const sessionsOpen = () => platform.gateway.realtime.sessions.stats().subscriptions;

  const script = fileURLToPath(new URL('./subscription-clients.ts', import.meta.url));
  for (let i = 0; i < PROCESSES; i += 1) {
    const share = (total: number) => Math.floor(total / PROCESSES) + (i < total % PROCESSES ? 1 : 0);
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (NICE !== 0) setPriority(child.pid!, NICE);
    children.push({ process: child, offset: 0, halfRtt: Infinity, ws: share(WS), sse: share(SSE) });
  }
  // Clock offsets: many IPC round trips, the shortest one wins.
  for (const child of children) {
    for (let i = 0; i < 50; i += 1) {
      const sent = now();
      const reply = nextMessage(child.process, 'clock', 30_000);
      tell(child.process, { type: 'clock' });
      const { now: theirs } = await reply;
      const back = now();
      if ((back - sent) / 2 < child.halfRtt) {
        child.halfRtt = (back - sent) / 2;
        child.offset = theirs - (sent + back) / 2;
      }
    }
  }
  console.log(
    `clock offsets of the client processes: ${children.map((c) => `${c.offset.toFixed(2)} ms (±${c.halfRtt.toFixed(2)})`).join(', ')}`,
  );

  const job = (ws: number, sse: number): ClientJob => ({
    url: platform.url,
    token: operatorKey,
    query: QUERY,
    variables: { tenantId },
    ws,
    sse,
    concurrency: 64,
  });
  const before = memory();
  let started = performance.now();
  // graphql-ws first (every client process), then SSE, so each kind's memory is measured alone.
  await Promise.all(
    children.map(async (child) => {
      const ready = nextMessage(child.process, 'ready');
      tell(child.process, { type: 'start', job: job(child.ws, child.sse) });
      await ready;
    }),
  );
  while (sessionsOpen() < WS) await new Promise((r) => setTimeout(r, 50));
  console.log(`${WS} graphql-ws subscribers connected in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await new Promise((r) => setTimeout(r, 1000));
  const afterWs = memory();
  const per = (a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage, n: number) =>
    `heap ${Math.round((a.heapUsed - b.heapUsed) / Math.max(1, n))} B, external ${Math.round((a.external - b.external) / Math.max(1, n))} B, rss ${Math.round((a.rss - b.rss) / Math.max(1, n))} B`;
  console.log(`server memory per idle graphql-ws subscriber (after GC): ${per(afterWs, before, WS)}`);

  started = performance.now();
  await Promise.all(
    children.map(async (child) => {
      const ready = nextMessage(child.process, 'ready');
      tell(child.process, { type: 'sse' });
      await ready;
    }),
  );
  while (sessionsOpen() < WS + SSE) await new Promise((r) => setTimeout(r, 50));
  console.log(`${SSE} SSE subscribers open in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await new Promise((r) => setTimeout(r, 1000));
  const afterSse = memory();
  console.log(`server memory per idle SSE subscriber (after GC): ${per(afterSse, afterWs, SSE)}`);
  console.log(
    `server rss ${(afterSse.rss / 2 ** 20).toFixed(0)} MB, heap ${(afterSse.heapUsed / 2 ** 20).toFixed(0)} MB with ${WS + SSE} subscribers`,
  );
  const shared = platform.gateway.realtime.federated.stats();
  console.log(`shared upstreams: ${shared.groups} for ${shared.members} subscriptions`);

  // When the bus carried the event (this process's clock): what follows is the fan-out alone.
  let busAt = 0;
  const stopBus = await platform.kv.pubsub.subscribe('rt:telemetry.events', () => {
    busAt = now();
  });
  const profiler = PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
  }
  for (let round = 1; round <= ROUNDS; round += 1) {
    await Promise.all(
      children.map(async (child) => {
        const armed = nextMessage(child.process, 'armed', 30_000);
        tell(child.process, { type: 'round', round });
        await armed;
      }),
    );
    await new Promise((r) => setTimeout(r, 1000));
    const loadAtRound = load();
    const received = children.map((child) => nextMessage(child.process, 'received', ROUND_TIMEOUT_MS + 10_000));
    const timeout = setTimeout(() => {
      for (const child of children) tell(child.process, { type: 'collect', round });
    }, ROUND_TIMEOUT_MS);
    const cpuBefore = process.cpuUsage();
    const publishedAt = now();
    const answered = bench.request('POST', '/graphql', {
      body: {
        query: `mutation ($input: RecordEventInput!) { recordEvent(input: $input) { id } }`,
        variables: { input: { tenantId, type: `bench.round.${round}`, payload: { round } } },
      },
    });
    const mutationMs = await answered.then(() => now() - publishedAt);
    const results = await Promise.all(received);
    const cpu = process.cpuUsage(cpuBefore);
    clearTimeout(timeout);
    const fanout = platform.gateway.realtime.federated.stats().lastEvent;
    const ws: number[] = [];
    const sse: number[] = [];
    results.forEach((result, i) => {
      const { offset } = children[i]!;
      for (const at of result.ws) if (at > 0) ws.push(at - offset - publishedAt);
      for (const at of result.sse) if (at > 0) sse.push(at - offset - publishedAt);
    });
    ws.sort((a, b) => a - b);
    sse.sort((a, b) => a - b);
    const line = (name: string, values: number[], n: number) =>
      `${name} ${values.length}/${n} delivered, p50 ${ms(pct(values, 50))}, p99 ${ms(pct(values, 99))}, max ${ms(values.at(-1) ?? NaN)}`;
    console.log(
      `round ${round} (load average ${loadAtRound}): ${line('graphql-ws', ws, WS)}; ${line('SSE', sse, SSE)}`,
    );
    const bus = busAt - publishedAt;
    const all = [...ws, ...sse].sort((a, b) => a - b);
    console.log(
      `  bus had the event after ${ms(bus)} (mutation answered after ${ms(mutationMs)}); from the bus to every subscriber p50 ${ms(pct(all, 50) - bus)}, p99 ${ms(pct(all, 99) - bus)}, max ${ms((all.at(-1) ?? NaN) - bus)}`,
    );
    const roundCpu = `gateway CPU from publish to the last receipt ${ms((cpu.user + cpu.system) / 1000)} (${ms(cpu.system / 1000)} system)`;
    console.log(
      fanout
        ? `  gateway: resolution ${ms(fanout.resolveMs)}, serialization ${ms(fanout.serializeMs)}, written to ${fanout.members} subscribers in ${ms(fanout.fanoutMs)} (${ms(fanout.fanoutCpuMs)} CPU); ${roundCpu}`
        : `  ${roundCpu}`,
    );
  }
  // The floor: what writing one frame to each of these sockets costs on this machine right now,
  // straight to the TCP socket (2-byte ping frame), and through ws's own send (a next frame of the
  // round's size, for an id no client has: graphql-ws clients ignore it).
  const webSocketOf = (socket: Socket) => {
    const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket');
    return key ? ((socket as unknown as Record<symbol, { send(data: string): void } | undefined>)[key] ?? null) : null;
  };
  const wsSockets = accepted.filter((socket) => !socket.destroyed && webSocketOf(socket));
  const webSockets = wsSockets.map((socket) => webSocketOf(socket)!);
  const ping = Buffer.from([0x89, 0x00]);
  const frame = `{"id":"bench-floor","type":"next","payload":${JSON.stringify({ data: { telemetryEvents: { id: 'evt_0123456789abcdef', type: 'bench.floor', occurredAt: new Date().toISOString() } } })}}`;
  for (let round = 1; round <= ROUNDS; round += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    const loadAtRound = load();
    const timed = (loop: () => void) => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      loop();
      const used = process.cpuUsage(cpu);
      return `${ms(performance.now() - started)} (${ms((used.user + used.system) / 1000)} CPU)`;
    };
    const raw = timed(() => {
      for (const socket of wsSockets) socket.write(ping);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const viaWs = timed(() => {
      for (const webSocket of webSockets) webSocket.send(frame);
    });
    console.log(
      `floor ${round} (load average ${loadAtRound}): one frame to each of ${wsSockets.length} WebSocket sockets: raw socket.write ${raw}, ws send ${viaWs}`,
    );
  }
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    await writeFile(PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
    console.log(`CPU profile of the gateway process during the rounds: ${PROFILE}`);
  }
  await stopBus();
} finally {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.process.exitCode !== null) return resolve();
          child.process.once('exit', () => resolve());
          tell(child.process, { type: 'stop' });
          setTimeout(() => {
            child.process.kill();
            resolve();
          }, 10_000).unref();
        }),
    ),
  );
  await bench.close();
}

/**
 * Stops with a clear message when this process may not open enough files: Node raises its soft
 * `ulimit -n` to the hard limit at startup, so only the hard limit (raised as root, or in
 * /etc/security/limits.conf or the container's settings) can be too low.
 */
function ensureOpenFiles(needed: number): void {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.match(/(\d+|unlimited)\s+(\d+|unlimited)/)?.[1];
  if (soft === undefined || soft === 'unlimited' || Number(soft) >= needed) return;
  console.error(
    `bench:subscriptions needs ${needed} open files in the gateway process and may open ${soft}: raise the hard limit (ulimit -Hn) or lower BENCH_WS/BENCH_SSE`,
  );
  process.exit(1);
}
