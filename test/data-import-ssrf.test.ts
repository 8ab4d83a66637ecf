import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_IMPORT_JOB } from '../subgraphs/tenancy/services/workspaces/data-import.js';
import { SOURCE_NOT_ALLOWED_MESSAGE } from '../subgraphs/tenancy/services/workspaces/source-connection.js';
import { bootPlatform, uniqueSlug, type RestAnswer, type TestPlatform } from './support/platform.js';
import { waitFor } from './support/rest.js';

// Data import must not let a caller reach the platform's own database or internal addresses, nor
// tell a closed port from an open one. Through the gateway, on every documented route that
// connects to a source (tenantsdb import-data/analyze, import-data, import-full, and a workspace
// schema from a live database), REST and GraphQL, on whichever backend the run uses.
//
// The operator allow-list of this platform names three local TCP servers this file opens (a
// closed port, a silent one, one that answers garbage) and `localhost:<the test PostgreSQL
// port>` by name: so 127.0.0.1 at that port (the platform's own server) stays refused while
// `localhost` reaches it, as an operator would list one internal source.

const SERVER_URL = process.env.TEST_DATABASE_URL;
const CONNECT_TIMEOUT_MS = 1_000;
const PASSWORD = 'pw-ssrf-never-shown';

let t: TestPlatform;
let apiKey: string;
let workspace: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();
let closedPort: number;
let silentPort: number;
let garbagePort: number;
/** Connections that reached the counting server: it is not allow-listed, so none may. */
let countingPort: number;
let countingHits = 0;
/** Answers PostgreSQL's SSLRequest and records the TLS servername (SNI) the client sends. */
let tlsPort: number;
const servernames: string[] = [];
const pgPort = SERVER_URL ? Number(new URL(SERVER_URL).port || 5432) : 5432;
const sourceDatabases: string[] = [];

async function listen(onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return server;
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

function connection(host: string, port: number, extra: Record<string, unknown> = {}) {
  return { type: 'postgresql', host, port, database: 'postgres', user: 'postgres', password: PASSWORD, ...extra };
}

/** The documented routes that open a connection to the caller's source, with a body for each. */
function sourceRoutes(conn: ReturnType<typeof connection>): { path: string; body: unknown }[] {
  return [
    { path: `/workspaces/${workspace}/import-data/analyze`, body: { connection: conn, routing_field: 'tenant_id' } },
    { path: `/workspaces/${workspace}/import-data`, body: { connection: conn, routing_field: 'tenant_id' } },
    { path: `/workspaces/${workspace}/import-full`, body: { connection: conn, routing_field: 'tenant_id' } },
    { path: `/workspaces/${workspace}/schema`, body: { source: 'database', connection: conn } },
  ];
}

function expectError(answer: RestAnswer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.success).toBe(false);
  expect(answer.body.error.code).toBe(code);
  expect(JSON.stringify(answer.body)).not.toContain(PASSWORD);
}

beforeAll(async () => {
  // A port that was open a moment ago and is closed now: connecting is refused at once.
  const closed = await listen(() => undefined);
  closedPort = portOf(closed);
  await new Promise((resolve) => closed.close(resolve));
  servers.splice(servers.indexOf(closed), 1);
  silentPort = portOf(await listen(() => undefined)); // accepts, never answers
  garbagePort = portOf(await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  countingPort = portOf(
    await listen((s) => {
      countingHits += 1;
      s.destroy();
    }),
  );
  tlsPort = portOf(
    await listen((socket) => {
      socket.once('data', () => {
        socket.write('S'); // "go ahead with TLS"
        const secure = new TLSSocket(socket, {
          isServer: true,
          // No certificate: the handshake fails right after the client said which name it wants.
          SNICallback: (name, done) => {
            servernames.push(name);
            done(new Error('no certificate here'));
          },
        });
        secure.on('error', () => socket.destroy());
      });
    }),
  );
  t = await bootPlatform({
    dataImport: {
      allowedHosts: [
        `127.0.0.1:${closedPort}`,
        `127.0.0.1:${silentPort}`,
        `127.0.0.1:${garbagePort}`,
        `localhost:${pgPort}`,
        `localhost:${tlsPort}`,
      ],
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    },
  });
  const signup = await t.rest('/signup', {
    method: 'POST',
    token: null,
    body: { email: `ssrf-${uniqueSlug()}@example.com`, password: 'correct horse battery 42', project_name: 'SSRF' },
  });
  expect(signup.status, JSON.stringify(signup.body)).toBe(201);
  apiKey = signup.body.api_key as string;
  workspace = uniqueSlug('ssrf').replaceAll('-', '_');
  const created = await t.rest('/workspaces', {
    method: 'POST',
    token: apiKey,
    body: { name: workspace, database: 'PostgreSQL' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (SERVER_URL) {
    const admin = new pg.Client({ connectionString: SERVER_URL });
    await admin.connect();
    for (const name of sourceDatabases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  await t?.close();
});

describe('data import sources: refused addresses', () => {
  const refused = [
    '127.0.0.1',
    'localhost',
    '2130706433',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '127.1',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    'fe80::1',
    'fd12:3456::1',
    '224.0.0.1',
    'ff02::1',
    '0.0.0.0',
    '::',
    '100.64.0.1',
    'no-such-host.invalid',
  ];

  it('every route answers SOURCE_NOT_ALLOWED, one message, before connecting (REST)', async () => {
    const messages = new Set<string>();
    for (const host of refused) {
      for (const route of sourceRoutes(connection(host, countingPort))) {
        const answer = await t.rest(route.path, { method: 'POST', token: apiKey, body: route.body });
        expectError(answer, 400, 'SOURCE_NOT_ALLOWED');
        messages.add(answer.body.error.message as string);
      }
    }
    expect(messages.size).toBe(1);
    expect(countingHits).toBe(0);
    // Nothing was queued for a refused source.
    const row = await t.platform.db.prisma.workspace.findFirst({ where: { name: workspace } });
    expect(await t.platform.db.prisma.dataImport.count({ where: { workspaceId: row!.id } })).toBe(0);
  });

  it('refuses the platform’s own database server (and an allow-listed port under another host)', async () => {
    const own = new URL(SERVER_URL ?? 'postgresql://127.0.0.1:5432/x');
    for (const route of sourceRoutes(connection(own.hostname, pgPort))) {
      expectError(
        await t.rest(route.path, { method: 'POST', token: apiKey, body: route.body }),
        400,
        'SOURCE_NOT_ALLOWED',
      );
    }
    // The allow-list names 127.0.0.1 at three ports only: another address of the loopback range is refused.
    const [analyze] = sourceRoutes(connection('127.0.0.2', silentPort));
    expectError(
      await t.rest(analyze!.path, { method: 'POST', token: apiKey, body: analyze!.body }),
      400,
      'SOURCE_NOT_ALLOWED',
    );
  });

  it('GraphQL answers the same code', async () => {
    const mutation = `mutation ($id: ID!, $c: DataImportConnectionInput!, $full: Boolean) {
      startDataImport(workspaceId: $id, connection: $c, routingField: "tenant_id", full: $full) { id }
    }`;
    const analyze = `mutation ($id: ID!, $c: DataImportConnectionInput!) {
      analyzeDataImport(workspaceId: $id, connection: $c, routingField: "tenant_id") { routingField }
    }`;
    for (const [query, full] of [
      [analyze, undefined],
      [mutation, false],
      [mutation, true],
    ] as const) {
      const answer = await t.graphql(
        query,
        { id: workspace, c: connection('169.254.169.254', 80), full },
        { token: apiKey },
      );
      expect(answer.body.errors?.[0]?.extensions?.code, JSON.stringify(answer.body)).toBe('SOURCE_NOT_ALLOWED');
    }
    const schema = await t.graphql(
      `mutation ($id: String!, $input: JSON!) { importWorkspaceSchema(id: $id, input: $input) { ddlIds } }`,
      { id: workspace, input: { source: 'database', connection: connection('::ffff:10.0.0.1', 5432) } },
      { token: apiKey },
    );
    expect(schema.body.errors?.[0]?.extensions?.code, JSON.stringify(schema.body)).toBe('SOURCE_NOT_ALLOWED');
  });
});

describe('data import sources: the job checks again', () => {
  it('a stored source the rules now refuse fails the job without connecting; status shows the same answer', async () => {
    // As if the operator narrowed the allow-list between the start and the job: the row and the
    // queued job are what startDataImport writes, with a source this platform refuses.
    const { prisma } = t.platform.db;
    const row = await prisma.workspace.findFirst({ where: { name: workspace } });
    const id = `imp_${randomBytes(8).toString('hex')}`;
    await prisma.dataImport.create({
      data: {
        id,
        workspaceId: row!.id,
        kind: 'data',
        status: 'pending',
        routingField: 'tenant_id',
        options: { drop_routing_column: false, create_tenants: true },
        source: {
          type: 'postgresql',
          host: '127.0.0.1',
          port: countingPort,
          database: 'postgres',
          user: 'postgres',
          ssl: false,
        },
      },
    });
    const secretKey = `data-import:source:${randomBytes(24).toString('hex')}`;
    await t.platform.kv.cache.set(secretKey, PASSWORD, 60);
    await t.platform.deps.jobs.enqueue(
      DATA_IMPORT_JOB,
      {
        importId: id,
        secretKey,
        principal: {
          kind: 'api_key',
          id: 'ssrf',
          projectId: row!.projectId,
          tenantId: null,
          roles: [],
          scopes: ['write:tenants'],
        },
      },
      { jobId: `data-import-${id}` },
    );
    const status = await waitFor(
      async () => {
        const answer = await t.rest(`/workspaces/${workspace}/import-data/status?import_id=${id}`, { token: apiKey });
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        return answer.body.status === 'failed' ? answer : undefined;
      },
      `import ${id} to fail`,
      { intervalMs: 100 },
    );
    expect(status.body).toMatchObject({ status: 'failed', error: SOURCE_NOT_ALLOWED_MESSAGE });
    expect(countingHits).toBe(0);
  });
});

describe('data import sources: one answer for every failure to connect', () => {
  it('a closed port, a silent one and a non-PostgreSQL one look alike: code, message and delay', async () => {
    const bodies: string[] = [];
    for (const port of [closedPort, silentPort, garbagePort]) {
      for (const route of sourceRoutes(connection('127.0.0.1', port))) {
        const started = Date.now();
        const answer = await t.rest(route.path, { method: 'POST', token: apiKey, body: route.body });
        const elapsed = Date.now() - started;
        expectError(answer, 502, 'SOURCE_UNREACHABLE');
        // Answered no sooner than the connect timeout, whatever happened.
        expect(elapsed, `${route.path} port ${port}`).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
        const { message, details } = answer.body.error as { message: string; details: Record<string, unknown> };
        expect(details).toEqual({ host: '127.0.0.1', port, database: 'postgres' });
        bodies.push(message);
        expect(message).not.toMatch(/ECONNREFUSED|timeout|terminated|protocol|refused/i);
      }
    }
    expect(new Set(bodies).size).toBe(1);
  }, 60_000);

  it('GraphQL answers SOURCE_UNREACHABLE the same way', async () => {
    const answer = await t.graphql(
      `mutation ($id: ID!, $c: DataImportConnectionInput!) {
        analyzeDataImport(workspaceId: $id, connection: $c, routingField: "tenant_id") { routingField }
      }`,
      { id: workspace, c: connection('127.0.0.1', closedPort) },
      { token: apiKey },
    );
    expect(answer.body.errors?.[0]?.extensions?.code, JSON.stringify(answer.body)).toBe('SOURCE_UNREACHABLE');
  });

  it('connects to the address it checked, keeping the host name for TLS', async () => {
    const [analyze] = sourceRoutes(connection('localhost', tlsPort, { ssl: true }));
    const answer = await t.rest(analyze!.path, { method: 'POST', token: apiKey, body: analyze!.body });
    expectError(answer, 502, 'SOURCE_UNREACHABLE');
    // The server listens on 127.0.0.1 only: reached through the resolved address, SNI says localhost.
    expect(servernames).toEqual(['localhost']);
  });

  it.skipIf(!SERVER_URL)(
    'real PostgreSQL: a missing database or role on an allowed server is answered like a closed port; a good source works',
    async () => {
      const [analyze] = sourceRoutes(connection('localhost', pgPort));
      const closed = await t.rest(analyze!.path, {
        method: 'POST',
        token: apiKey,
        body: { connection: connection('127.0.0.1', closedPort), routing_field: 'tenant_id' },
      });
      for (const extra of [{ database: 'no_such_db_ssrf' }, { user: 'no_such_role_ssrf' }]) {
        const answer = await t.rest(analyze!.path, {
          method: 'POST',
          token: apiKey,
          body: { connection: connection('localhost', pgPort, extra), routing_field: 'tenant_id' },
        });
        expectError(answer, 502, 'SOURCE_UNREACHABLE');
        expect(answer.body.error.message).toBe(closed.body.error.message);
      }

      // Allowed by name: the import reaches the server through the address it resolved.
      const name = `ssrf_src_${randomBytes(5).toString('hex')}`;
      const admin = new pg.Client({ connectionString: SERVER_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      sourceDatabases.push(name);
      await admin.end();
      const source = new URL(SERVER_URL!);
      source.pathname = `/${name}`;
      const client = new pg.Client({ connectionString: source.toString() });
      await client.connect();
      await client.query(`CREATE TABLE items (id int PRIMARY KEY, tenant_id text)`);
      await client.query(`INSERT INTO items VALUES (1, 'a'), (2, 'b')`);
      await client.end();
      const user = decodeURIComponent(source.username || 'postgres');
      const ok = await t.rest(analyze!.path, {
        method: 'POST',
        token: apiKey,
        body: {
          connection: {
            ...connection('localhost', pgPort, { database: name, user }),
            password: decodeURIComponent(source.password),
          },
          routing_field: 'tenant_id',
        },
      });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.routing_values).toEqual([
        { value: 'a', row_count: 1 },
        { value: 'b', row_count: 1 },
      ]);
    },
    60_000,
  );
});
