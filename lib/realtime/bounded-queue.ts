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
  return new Sink(options.write, Math.max(1, options.max ?? DEFAULT_SUBSCRIBER_QUEUE), options.onClose);
}

// A class, not closures: thousands of idle subscribers each hold one, and prototype methods are
// shared (about a third of the memory of the closure version).
class Sink implements BoundedSink {
  /** Waiting items from `head` on; allocated when a write is first held up. */
  private items: string[] | null = null;
  private head = 0;
  private busy = false;
  private pumping = false;
  private ending = false;
  private closed = false;
  private droppedCount = 0;
  private finished: ((result: IteratorResult<never>) => void) | null = null;
  private readonly written = () => {
    this.busy = false;
    this.pump();
  };

  constructor(
    private readonly write: SinkWrite,
    private readonly max: number,
    private readonly onClose: (() => void | Promise<void>) | undefined,
  ) {
    realtimeCounters.activeIterators += 1;
  }

  get dropped() {
    return this.droppedCount;
  }

  get size() {
    return this.items ? this.items.length - this.head : 0;
  }

  push(payload: string) {
    if (this.closed || this.ending) return;
    if (!this.busy && !this.pumping && this.size === 0) {
      this.busy = true;
      realtimeCounters.delivered += 1;
      this.write(payload, this.written);
      return;
    }
    const items = (this.items ??= []);
    items.push(payload);
    if (items.length - this.head > this.max) {
      items[this.head] = '';
      this.head += 1;
      this.droppedCount += 1;
      realtimeCounters.dropped += 1;
    }
    if (this.head > 1024 && this.head * 2 > items.length) {
      items.splice(0, this.head);
      this.head = 0;
    }
    this.pump();
  }

  end() {
    if (this.closed) return;
    this.ending = true;
    this.pump();
  }

  next(): Promise<IteratorResult<never>> {
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      const previous = this.finished;
      this.finished = previous
        ? (result) => {
            previous(result);
            resolve(result);
          }
        : resolve;
    });
  }

  async return(): Promise<IteratorResult<never>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<never>> {
    await this.close();
    throw error;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Drains the queue while writes complete synchronously: a loop, not recursion through `written`. */
  private pump() {
    if (this.pumping) return;
    this.pumping = true;
    const items = this.items;
    while (items && !this.busy && !this.closed && this.head < items.length) {
      const payload = items[this.head]!;
      items[this.head] = '';
      this.head += 1;
      if (this.head === items.length) {
        items.length = 0;
        this.head = 0;
      }
      this.busy = true;
      realtimeCounters.delivered += 1;
      this.write(payload, this.written);
    }
    this.pumping = false;
    if (this.ending && !this.busy && this.size === 0) void this.close();
  }

  private async close() {
    if (this.closed) return;
    this.closed = true;
    realtimeCounters.activeIterators -= 1;
    this.items = null;
    this.head = 0;
    const finished = this.finished;
    this.finished = null;
    finished?.({ value: undefined, done: true });
    await this.onClose?.();
  }
}
