import { createClient as createSseClient } from 'graphql-sse';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { topicStats, type RealtimeTopic } from '../../lib/realtime/topics.js';
import { waitFor } from './rest.js';

// Real clients for the gateway's real-time endpoints: graphql-ws over WebSocket and graphql-sse
// (distinct connections), each yielding events into an array the test can wait on.

export interface Received<T> {
  events: Array<ExecutionResult<T>>;
  /** Set when the server ended the subscription with an error (or the socket closed). */
  error: unknown;
  completed: boolean;
  /** Resolves once `count` events arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<Array<ExecutionResult<T>>>;
  waitForEnd(timeoutMs?: number): Promise<void>;
  stop(): void;
}

export interface WsConnection {
  client: Client;
  closed: Promise<{ code: number; reason: string }>;
  connected: Promise<void>;
  subscribe<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Received<T>;
  dispose(): Promise<void>;
}

function collector<T>(): Received<T> & { push(event: ExecutionResult<T>): void; finish(error?: unknown): void } {
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const state = {
    events: [] as Array<ExecutionResult<T>>,
    error: undefined as unknown,
    completed: false,
    stop: () => undefined as void,
    push(event: ExecutionResult<T>) {
      state.events.push(event);
      wake();
    },
    finish(error?: unknown) {
      state.error = error;
      state.completed = true;
      wake();
    },
    async waitFor(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (state.events.length < count) {
        if (Date.now() > deadline) throw new Error(`got ${state.events.length} of ${count} events`);
        if (state.completed && state.events.length < count) {
          throw new Error(`ended after ${state.events.length} of ${count} events: ${JSON.stringify(state.error)}`);
        }
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return state.events;
    },
    async waitForEnd(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!state.completed) {
        if (Date.now() > deadline) throw new Error('subscription did not end');
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
  return state;
}

export function connectWs(
  baseUrl: string,
  connectionParams: Record<string, unknown> | undefined,
  options: { keepAlive?: number } = {},
): WsConnection {
  let onClosed!: (value: { code: number; reason: string }) => void;
  let onConnected!: () => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
    keepAlive: options.keepAlive ?? 0,
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed({ code: e.code, reason: String(e.reason) });
      },
    },
    onNonLazyError: () => undefined,
  });
  return {
    client,
    closed,
    connected,
    subscribe<T>(query: string, variables?: Record<string, unknown>) {
      const received = collector<T>();
      received.stop = client.subscribe<T>(
        { query, variables },
        {
          next: (value) => received.push(value as ExecutionResult<T>),
          error: (error) => received.finish(error),
          complete: () => received.finish(),
        },
      );
      return received;
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}

export function subscribeSse<T = Record<string, unknown>>(
  baseUrl: string,
  token: string | null,
  query: string,
  variables?: Record<string, unknown>,
): Received<T> {
  const client = createSseClient({
    url: `${baseUrl}/graphql`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
  const received = collector<T>();
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => received.push(value as ExecutionResult<T>),
      error: (error) => received.finish(error),
      complete: () => received.finish(),
    },
  );
  received.stop = () => {
    unsubscribe();
    client.dispose();
  };
  return received;
}

/**
 * Resolves once the gateway has at least `count` subscriptions open upstream (the subgraph side is
 * listening by then, in-process), so a test can publish without sleeping first.
 */
export async function waitForSubscribers(
  gateway: { realtime: { federated: { stats(): { members: number } } } },
  count: number,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (gateway.realtime.federated.stats().members < count) {
    if (Date.now() > deadline) {
      throw new Error(`${gateway.realtime.federated.stats().members} of ${count} subscriptions open`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Resolves once the gateway's session registry holds `count` subscriptions: a slot is taken when
 * the gateway admits a subscription (limits checked) and given back when it ends, and neither is
 * answered on the wire, so a test of the limits waits for this count (the same figure the platform
 * samples for its metrics).
 */
export async function untilAdmitted(
  gateway: { realtime: { sessions: { stats(): { subscriptions: number } } } },
  count: number,
): Promise<void> {
  await waitFor(
    async () => (gateway.realtime.sessions.stats().subscriptions === count ? true : undefined),
    `${count} admitted subscriptions`,
    { timeoutMs: 10_000, intervalMs: 10 },
  );
}

/**
 * Starts a subscription and resolves once a new listener is live on the bus topic it reads: graphql-ws
 * and SSE acknowledge no subscription, so a test that publishes right after subscribing waits for
 * this instead of sleeping. The platforms a test boots run in its process, so their listeners are
 * visible here; listeners that end meanwhile do not matter (the set is compared, not counted).
 */
export async function untilListening<T>(topic: RealtimeTopic, subscribe: () => T): Promise<T> {
  const before = new Set(topicStats(topic).subscribers);
  const subscription = subscribe();
  await waitFor(
    async () => ([...topicStats(topic).subscribers].some((listener) => !before.has(listener)) ? true : undefined),
    `a new listener on ${topic}`,
  );
  return subscription;
}
