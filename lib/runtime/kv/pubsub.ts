import type { Logger } from '../../logger.js';
import type { MessageHandler, PubSub } from '../kv.js';

export interface PubSubTransport {
  keyPrefix: string;
  logger: Logger;
  publish(channel: string, message: string): Promise<void>;
  publishMany(channel: string, messages: readonly string[]): Promise<void>;
  /** Starts delivery of a channel to `attach`'s dispatcher; called once per channel. */
  listen(channel: string): Promise<void>;
  unlisten(channel: string): Promise<void>;
  attach(dispatch: (channel: string, message: string) => void): void;
}

interface ChannelState {
  handlers: Set<MessageHandler>;
  /** Settles when the server has confirmed the subscription; later subscribers wait on it too. */
  ready: Promise<void>;
}

/**
 * One server subscription per channel however many local handlers listen, so a thousand
 * WebSocket clients on one event stream cost one SUBSCRIBE, not a thousand.
 */
export function createPubSub(transport: PubSubTransport): PubSub {
  const channels = new Map<string, ChannelState>();
  // Subscribe and unsubscribe of one channel must reach the server in the order they were asked for.
  let chain: Promise<unknown> = Promise.resolve();
  const serialize = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn);
    chain = next.catch(() => undefined);
    return next;
  };

  transport.attach((channel, message) => {
    const state = channels.get(channel);
    if (!state) return;
    for (const handler of [...state.handlers]) {
      try {
        const returned: unknown = handler(message);
        if (returned instanceof Promise) {
          returned.catch((error: unknown) => transport.logger.error({ err: error, channel }, 'pubsub handler failed'));
        }
      } catch (error) {
        transport.logger.error({ err: error, channel }, 'pubsub handler failed');
      }
    }
  });

  return {
    publish(channel, message) {
      return transport.publish(transport.keyPrefix + channel, message);
    },
    async publishMany(channel, messages) {
      if (messages.length > 0) await transport.publishMany(transport.keyPrefix + channel, messages);
    },
    async subscribe(channel, handler) {
      const full = transport.keyPrefix + channel;
      let state = channels.get(full);
      if (!state) {
        const created: ChannelState = { handlers: new Set(), ready: serialize(() => transport.listen(full)) };
        state = created;
        channels.set(full, created);
        created.ready.catch(() => {
          if (channels.get(full) === created) channels.delete(full);
        });
      }
      state.handlers.add(handler);
      try {
        await state.ready;
      } catch (error) {
        state.handlers.delete(handler);
        throw error;
      }
      const owner = state;
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        owner.handlers.delete(handler);
        if (owner.handlers.size > 0 || channels.get(full) !== owner) return;
        channels.delete(full);
        try {
          await serialize(() => transport.unlisten(full));
        } catch (error) {
          // The handler is already gone locally, so stray messages are dropped; a closing
          // WebSocket should not see an error for it.
          transport.logger.warn({ err: error, channel: full }, 'pubsub unsubscribe failed');
        }
      };
    },
  };
}
