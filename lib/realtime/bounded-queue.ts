/**
 * A push-to-pull adapter with a hard bound: a slow consumer loses its oldest undelivered items
 * (counted) instead of growing memory without limit. Every real-time subscriber reads through one.
 */

export const DEFAULT_SUBSCRIBER_QUEUE = 256;

/** Process-wide figures for the metrics endpoints (events dropped for slow subscribers). */
export const realtimeCounters = { dropped: 0, delivered: 0, activeIterators: 0 };

export interface BoundedQueue<T> extends AsyncIterableIterator<T> {
  push(item: T): void;
  /** Ends iteration; a pending or later next() resolves done (or rejects with `error`). */
  end(error?: unknown): void;
  readonly dropped: number;
  readonly size: number;
}

export function createBoundedQueue<T>(options: {
  max?: number;
  /** Runs once, when the consumer stops (return/throw) or end() is called. */
  onClose?: () => void | Promise<void>;
}): BoundedQueue<T> {
  const max = Math.max(1, options.max ?? DEFAULT_SUBSCRIBER_QUEUE);
  const items: T[] = [];
  let head = 0;
  let waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  let closed = false;
  let failure: unknown;
  let dropped = 0;
  realtimeCounters.activeIterators += 1;

  // end() keeps what is queued (the consumer drains it, then sees done); return() drops it.
  const close = async (keepItems = false) => {
    if (closed) return;
    closed = true;
    realtimeCounters.activeIterators -= 1;
    if (!keepItems) {
      items.length = 0;
      head = 0;
    }
    await options.onClose?.();
  };

  const queue: BoundedQueue<T> = {
    get dropped() {
      return dropped;
    },
    get size() {
      return items.length - head;
    },
    push(item) {
      if (closed) return;
      if (waiting) {
        const w = waiting;
        waiting = null;
        realtimeCounters.delivered += 1;
        w.resolve({ value: item, done: false });
        return;
      }
      items.push(item);
      if (items.length - head > max) {
        head += 1;
        dropped += 1;
        realtimeCounters.dropped += 1;
      }
      // Compact now and then so the array does not keep consumed slots forever.
      if (head > 1024 && head * 2 > items.length) {
        items.splice(0, head);
        head = 0;
      }
    },
    end(error) {
      failure = error;
      const w = waiting;
      waiting = null;
      void close(error === undefined);
      if (w) {
        if (error !== undefined) w.reject(error);
        else w.resolve({ value: undefined, done: true });
      }
    },
    next() {
      if (head < items.length) {
        const value = items[head] as T;
        items[head] = undefined as T;
        head += 1;
        realtimeCounters.delivered += 1;
        return Promise.resolve({ value, done: false });
      }
      if (closed) {
        if (failure !== undefined) {
          const error = failure;
          failure = undefined;
          return Promise.reject(error);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    async return() {
      const w = waiting;
      waiting = null;
      await close();
      w?.resolve({ value: undefined, done: true });
      return { value: undefined, done: true };
    },
    async throw(error) {
      await queue.return!();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return queue;
    },
  };
  return queue;
}

/**
 * Maps an iterator without an async generator: a generator's return() waits for its pending
 * next(), so a client unsubscribing from a quiet topic would never release the subscription.
 */
export function mapIterator<T, U>(source: AsyncIterator<T>, fn: (value: T) => U): AsyncIterableIterator<U> {
  const mapped: AsyncIterableIterator<U> = {
    async next() {
      const result = await source.next();
      return result.done ? { value: undefined, done: true } : { value: fn(result.value), done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped;
}

/**
 * Writes one serialized item to a subscriber's transport and calls `written` once the transport
 * took it (a socket's write callback, or at once when its buffer has room). Until then further
 * items wait in the sink's bounded queue.
 */
export type SinkWrite = (payload: string, written: () => void) => void;

/**
 * The push side of a subscriber that is written to directly (no per-item promise or iterator
 * step): an item goes straight to `write` when nothing is in flight, else into a bounded queue
 * that drops its oldest item (counted, like createBoundedQueue) and is drained as writes complete.
 * As an iterator it yields nothing: next() settles (done) when the subscription is over, which is
 * what a transport's subscription loop (graphql-ws, the SSE handler) waits on to send `complete`.
 */
export interface BoundedSink extends AsyncIterableIterator<never> {
  push(payload: string): void;
  /** No more items: iteration ends once the queued ones are written. */
  end(): void;
  readonly dropped: number;
  /** Items waiting (not counting the one being written). */
  readonly size: number;
}

export function createBoundedSink(options: {
  write: SinkWrite;
  max?: number;
  /** Runs once, when the consumer stops (return/throw) or after end() drained the queue. */
  onClose?: () => void | Promise<void>;
}): BoundedSink {
  const max = Math.max(1, options.max ?? DEFAULT_SUBSCRIBER_QUEUE);
  const { write } = options;
  const items: string[] = [];
  let head = 0;
  let busy = false;
  let pumping = false;
  let ending = false;
  let closed = false;
  let dropped = 0;
  let finished: ((result: IteratorResult<never>) => void) | null = null;
  realtimeCounters.activeIterators += 1;

  const close = async () => {
    if (closed) return;
    closed = true;
    realtimeCounters.activeIterators -= 1;
    items.length = 0;
    head = 0;
    const f = finished;
    finished = null;
    f?.({ value: undefined, done: true });
    await options.onClose?.();
  };
  // Drains the queue while writes complete synchronously; a loop, not recursion through `written`.
  const pump = () => {
    if (pumping) return;
    pumping = true;
    while (!busy && !closed && head < items.length) {
      const payload = items[head]!;
      items[head] = '';
      head += 1;
      if (head === items.length) {
        items.length = 0;
        head = 0;
      }
      busy = true;
      realtimeCounters.delivered += 1;
      write(payload, written);
    }
    pumping = false;
    if (ending && !busy && head === items.length) void close();
  };
  const written = () => {
    busy = false;
    pump();
  };

  const sink: BoundedSink = {
    get dropped() {
      return dropped;
    },
    get size() {
      return items.length - head;
    },
    push(payload) {
      if (closed || ending) return;
      if (!busy && !pumping && head === items.length) {
        busy = true;
        realtimeCounters.delivered += 1;
        write(payload, written);
        return;
      }
      items.push(payload);
      if (items.length - head > max) {
        items[head] = '';
        head += 1;
        dropped += 1;
        realtimeCounters.dropped += 1;
      }
      if (head > 1024 && head * 2 > items.length) {
        items.splice(0, head);
        head = 0;
      }
      pump();
    },
    end() {
      if (closed) return;
      ending = true;
      pump();
    },
    next() {
      if (closed) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<never>>((resolve) => {
        const previous = finished;
        finished = (result) => {
          previous?.(result);
          resolve(result);
        };
      });
    },
    async return() {
      await close();
      return { value: undefined, done: true };
    },
    async throw(error) {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return sink;
    },
  };
  return sink;
}
