import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { keepIdleSocketsOpen } from '../http/keep-alive.js';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { SubgraphName } from '../env.js';
import { createErrorMasker } from '../graphql-errors.js';
import { createApolloHandler } from '../http/apollo-handler.js';
import { closeServerGracefully } from '../http/graceful-close.js';
import type { Logger } from '../logger.js';
import { PRINCIPAL_HEADER, verifyPrincipal } from '../principal.js';
import { AppError, ERROR_STATUS, isErrorCode } from '../errors.js';
import { serviceMeter } from '../runtime/service-metrics.js';
import type { JobDefinition } from '../runtime/jobs.js';
import type { SubgraphContext, SubgraphDeps } from './context.js';
import type { PrivacyHook } from './privacy.js';
import { serveSubgraphSubscriptions } from './subscriptions.js';

/**
 * Everything a subgraph brings to a process, declared once in its `server.ts`: the composition
 * root (app/) reads these from the one list in app/subgraphs.ts, so adding a subgraph, a job or
 * a privacy hook touches that subgraph and that list, nothing else.
 */
export interface SubgraphModule {
  name: SubgraphName;
  schema: GraphQLSchema;
  /** Its background jobs. Every process registers them (to enqueue); the worker runs them. */
  jobs?: (deps: () => SubgraphDeps) => JobDefinition[];
  /** Its part in data-subject export and erasure, when it holds data about a person. */
  privacy?: PrivacyHook;
  /** Work for the process that serves it, once at start-up (e.g. queueing a self-rescheduling job). */
  start?: (deps: SubgraphDeps) => Promise<void>;
}

export interface SubgraphService {
  name: SubgraphName;
  schema: GraphQLSchema;
  apollo: ApolloServer<SubgraphContext>;
  /** Builds the request context from the headers the gateway sent; refuses an unsigned or forged principal. */
  contextFromHeaders(headers: IncomingHttpHeaders | Record<string, string | undefined>): Promise<SubgraphContext>;
  listen(port: number, host?: string): Promise<{ server: Server; url: string }>;
  /** Stops accepting requests and drains those in flight for at most graceMs (SHUTDOWN_GRACE_MS). */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * One subgraph behind @apollo/server. The same instance serves both transports: over HTTP
 * (production) and in-process from the gateway (embedded default), so the principal is verified
 * by the same code either way.
 */
export async function startSubgraphService(options: {
  module: SubgraphModule;
  deps: SubgraphDeps;
  signingSecret: string;
  logger: Logger;
}): Promise<SubgraphService> {
  const { module, deps, signingSecret } = options;
  const logger = options.logger.child({ subgraph: module.name });
  const meter = serviceMeter(deps.kv);
  const apollo = new ApolloServer<SubgraphContext>({
    schema: module.schema,
    logger,
    // The process drains its HTTP server first (bin/shutdown.ts); Apollo's own handler would
    // re-raise SIGTERM and kill the process with requests in flight.
    stopOnTerminationSignals: false,
    formatError: createErrorMasker(logger),
    includeStacktraceInErrorResponses: false,
    introspection: true,
    // Inline traces are for Apollo's hosted usage reporting, which this platform does not send to.
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      {
        // Counted here, where the subgraph really handles each operation (either transport):
        // the platform's service list reads these figures. Errors are the server's own (5xx codes).
        async requestDidStart() {
          const started = performance.now();
          let failure: string | undefined;
          return {
            async didEncounterErrors({ errors }) {
              for (const error of errors) {
                const code = error.extensions?.code;
                const status = isErrorCode(code) ? ERROR_STATUS[code] : 500;
                if (status >= 500) failure ??= isErrorCode(code) ? code : 'INTERNAL_ERROR';
              }
            },
            async willSendResponse() {
              meter.record(module.name, performance.now() - started, failure);
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  await meter.started(module.name);

  const contextFromHeaders: SubgraphService['contextFromHeaders'] = async (headers) => {
    const raw = headers[PRINCIPAL_HEADER];
    try {
      const { principal, requestId, client } = verifyPrincipal(
        typeof raw === 'string' ? raw : undefined,
        signingSecret,
      );
      return { principal, requestId, client, logger: logger.child({ requestId }), deps };
    } catch (error) {
      if (error instanceof AppError) {
        logger.warn({ code: error.code }, 'refused request without a valid signed principal');
        throw error.toGraphQLError();
      }
      throw error;
    }
  };

  let server: Server | undefined;
  let subscriptions: { close(): Promise<void> } | undefined;
  return {
    name: module.name,
    schema: module.schema,
    apollo,
    contextFromHeaders,
    async listen(port, host = '0.0.0.0') {
      const handler = createApolloHandler(apollo, (req) => contextFromHeaders(req.headers));
      server = createServer((req, res) => {
        handler(req, res).catch((error: unknown) => {
          const status = error instanceof AppError ? error.status : 500;
          logger.error({ err: error }, 'subgraph request failed');
          if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              errors: [{ message: status === 500 ? 'Internal server error' : (error as Error).message }],
            }),
          );
        });
      });
      keepIdleSocketsOpen(server);
      // Subscriptions for a gateway in another process (lib/subgraph/subscriptions.ts).
      subscriptions = serveSubgraphSubscriptions({
        server,
        service: { schema: module.schema, contextFromHeaders },
        logger,
        formatError: createErrorMasker(logger),
      });
      await new Promise<void>((resolve) => server!.listen(port, host, resolve));
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      return { server, url: `http://127.0.0.1:${actualPort}/graphql` };
    },
    async stop({ graceMs }: { graceMs?: number } = {}) {
      // Idle keep-alive sockets from the gateway's pool are closed at once, or close() would wait for them.
      await subscriptions?.close();
      if (server) await closeServerGracefully(server, { graceMs, logger, name: `subgraph-${module.name}` });
      await apollo.stop();
    },
  };
}
