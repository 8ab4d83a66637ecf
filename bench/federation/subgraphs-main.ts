import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSubgraphs } from './subgraphs.js';

// The four benchmark subgraphs in their own process (bench/federation/run.ts pins it to a core);
// GET /counts on the last port answers how many requests each subgraph has served.
const subgraphs = await startSubgraphs();
const stats = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(subgraphs.counts));
});
await new Promise<void>((resolve) => stats.listen(0, '127.0.0.1', resolve));
const countsUrl = `http://127.0.0.1:${(stats.address() as AddressInfo).port}/counts`;
process.stdout.write(`ready ${JSON.stringify({ urls: subgraphs.urls, countsUrl })}\n`);
