import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

// Stock @apollo/gateway in @apollo/server's own standalone HTTP server, as the benchmark runs it:
// no authentication, no plugins. Started by bench/federation/run.ts, which reads "ready <url>".
const supergraphSdl = readFileSync(process.env.BENCH_SUPERGRAPH_FILE!, 'utf8');
const server = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl }) });
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
process.stdout.write(`ready ${url}\n`);
// Exits cleanly on SIGTERM from the runner (so --cpu-prof writes its profile).
process.on('SIGTERM', () => process.exit(0));
