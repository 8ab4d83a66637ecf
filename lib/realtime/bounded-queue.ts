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
