import { startBenchPlatform } from './support.js';

// `npx tsx bench/graphql-amplification.ts`: the anonymous amplification attack of issue 8 part 6
// (ALIASES aliased introspection fields in one request) and how /health fares meanwhile: time to
// answer, response size, peak RSS of this process and the slowest /health poll during the attack.
const ALIASES = Number(process.env.BENCH_ALIASES ?? 10_000);

const bench = await startBenchPlatform();
const { url } = bench.platform;
const query = `{ ${Array.from({ length: ALIASES }, (_, i) => `a${i}: __schema { types { name fields { name } } }`).join(' ')} }`;

// Warm up first: the first request through a fresh gateway is slow on its own.
await fetch(`${url}/health`).then((r) => r.arrayBuffer());
await fetch(`${url}/graphql`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query: '{ __typename }' }),
}).then((r) => r.arrayBuffer());

let peakRss = process.memoryUsage().rss;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
let slowestHealthMs = 0;
let attackDone = false;
let healthFailures = 0;
const poll = (async () => {
  while (!attackDone) {
    const started = performance.now();
    // A fresh connection each poll: a kept-alive one may be reset by the server while it is blocked.
    await fetch(`${url}/health`, { headers: { connection: 'close' } })
      .then((r) => r.arrayBuffer())
      .catch(() => (healthFailures += 1));
    slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started);
    await new Promise((r) => setTimeout(r, 100));
  }
})();

const started = performance.now();
const response = await fetch(`${url}/graphql`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query }),
});
const body = Buffer.from(await response.arrayBuffer());
const ms = performance.now() - started;
attackDone = true;
await poll;
clearInterval(rssTimer);
process.stdout.write(
  `${ALIASES} aliased introspection fields, anonymous: status ${response.status}, ` +
    `${Math.round(ms)} ms, ${body.length} bytes (${(body.length / 1024 / 1024).toFixed(1)} MB), ` +
    `peak RSS ${Math.round(peakRss / 1024 / 1024)} MB, slowest /health ${Math.round(slowestHealthMs)} ms (${healthFailures} failed)\n` +
    `first bytes: ${body.subarray(0, 300).toString('utf8')}\n`,
);
await bench.close();
