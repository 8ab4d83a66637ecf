import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

// One client process of `npm run bench:subscriptions` (forked by bench/subscriptions.ts): it opens
// its share of graphql-ws and SSE subscribers against the gateway in the parent process and notes
// when each one receives each round's event. Times are this machine's wall clock at sub-millisecond
// resolution (performance.timeOrigin + performance.now()); the parent measures the offset between
// its clock and ours over IPC and corrects for it.

export interface ClientJob {
  url: string;
  token: string;
  query: string;
  variables: Record<string, unknown>;
  ws: number;
  sse: number;
  /** graphql-ws clients connecting at the same time (each waits for its connection_ack). */
  concurrency: number;
}

export type ToClients =
  | { type: 'start'; job: ClientJob }
  | { type: 'sse' }
  | { type: 'clock' }
  | { type: 'round'; round: number }
  | { type: 'collect'; round: number }
  | { type: 'stop' };

export type FromClients =
  | { type: 'ready' }
  | { type: 'armed' }
  | { type: 'clock'; now: number }
  | { type: 'received'; round: number; ws: number[]; sse: number[] }
  | { type: 'failed'; message: string };

const now = () => performance.timeOrigin + performance.now();
const send = (message: FromClients) => process.send!(message);

let job: ClientJob;
let wsClients: Client[] = [];
let sseClients: SseClient[] = [];
let round = 0;
let wsAt: Float64Array = new Float64Array(0);
let sseAt: Float64Array = new Float64Array(0);
let pending = 0;
let reported = -1;

const report = (r: number) => {
  if (reported === r) return;
  reported = r;
  send({ type: 'received', round: r, ws: Array.from(wsAt), sse: Array.from(sseAt) });
};

// The round is read from the event's type (`bench.round.<n>`): a late event of an earlier round
// is never counted for the current one.
const onEvent = (times: Float64Array, index: number, value: unknown) => {
  const at = now();
  const type = (value as { data?: { telemetryEvents?: { type?: string } } }).data?.telemetryEvents?.type;
  if (type !== `bench.round.${round}` || times[index] !== 0) return;
  times[index] = at;
  pending -= 1;
  if (pending === 0) report(round);
};

/** Opens this process's graphql-ws subscribers, each waiting for its connection_ack. */
async function start() {
  wsAt = new Float64Array(job.ws);
  sseAt = new Float64Array(job.sse);
  const open = async (index: number) => {
    const client = createClient({
      url: `${job.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { token: job.token },
      retryAttempts: 0,
    });
    wsClients[index] = client;
    await new Promise<void>((resolve, reject) => {
      client.on('connected', () => resolve());
      client.on('error', reject);
      client.on('closed', (event) => reject(new Error(`closed ${(event as { code?: number }).code}`)));
      client.subscribe(
        { query: job.query, variables: job.variables },
        {
          next: (value) => onEvent(wsAt, index, value),
          error: (error) => console.error('ws subscription error', error),
          complete: () => undefined,
        },
      );
    });
  };
  wsClients = new Array<Client>(job.ws);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, job.ws) }, async () => {
      while (next < job.ws) await open(next++);
    }),
  );
  send({ type: 'ready' });
}

/** Opens this process's SSE subscribers (distinct connections). */
function openSse() {
  sseClients = [];
  for (let i = 0; i < job.sse; i += 1) {
    const client = createSseClient({ url: `${job.url}/graphql`, headers: { authorization: `Bearer ${job.token}` } });
    sseClients.push(client);
    const index = i;
    client.subscribe(
      { query: job.query, variables: job.variables },
      {
        next: (value) => onEvent(sseAt, index, value),
        error: (error) => console.error('sse subscription error', error),
        complete: () => undefined,
      },
    );
  }
  // The parent counts open subscriptions on the server: SSE streams are ready when it sees them.
  send({ type: 'ready' });
}

process.on('message', (message: ToClients) => {
  switch (message.type) {
    case 'start':
      job = message.job;
      start().catch((error: unknown) => {
        send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      });
      break;
    case 'clock':
      send({ type: 'clock', now: now() });
      break;
    case 'sse':
      openSse();
      break;
    case 'round':
      round = message.round;
      wsAt.fill(0);
      sseAt.fill(0);
      pending = wsAt.length + sseAt.length;
      send({ type: 'armed' });
      break;
    case 'collect':
      report(message.round);
      break;
    case 'stop':
      for (const client of sseClients) client.dispose();
      void Promise.all(wsClients.map((client) => client.dispose())).finally(() => process.exit(0));
      break;
  }
});
