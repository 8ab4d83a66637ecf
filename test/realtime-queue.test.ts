import { describe, expect, it } from 'vitest';
import { createBoundedQueue, createBoundedSink, realtimeCounters } from '../lib/realtime/bounded-queue.js';

describe('bounded subscriber queue', () => {
  it('keeps the newest items, drops the oldest and counts them', async () => {
    const droppedBefore = realtimeCounters.dropped;
    const queue = createBoundedQueue<number>({ max: 3 });
    for (let i = 1; i <= 10; i += 1) queue.push(i);
    expect(queue.size).toBe(3);
    expect(queue.dropped).toBe(7);
    expect(realtimeCounters.dropped - droppedBefore).toBe(7);
    expect([(await queue.next()).value, (await queue.next()).value, (await queue.next()).value]).toEqual([8, 9, 10]);
  });

  it('hands an item straight to a waiting reader and releases on return()', async () => {
    let closed = 0;
    const queue = createBoundedQueue<string>({ max: 2, onClose: () => void (closed += 1) });
    const pending = queue.next();
    queue.push('a');
    expect(await pending).toEqual({ value: 'a', done: false });
    const waiting = queue.next();
    await queue.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(closed).toBe(1);
    queue.push('ignored');
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });
});

describe('bounded subscriber sink (written straight to the transport)', () => {
  /** A transport whose writes complete only when the test says so. */
  const transport = () => {
    const writes: string[] = [];
    const pending: Array<() => void> = [];
    return {
      writes,
      write: (payload: string, written: () => void) => {
        writes.push(payload);
        pending.push(written);
      },
      complete: () => pending.shift()!(),
      get inFlight() {
        return pending.length;
      },
    };
  };

  it('writes at once when idle, one write in flight, the rest queued in order', () => {
    const t = transport();
    const sink = createBoundedSink({ write: t.write, max: 5 });
    sink.push('a');
    expect(t.writes).toEqual(['a']);
    sink.push('b');
    sink.push('c');
    expect(t.writes).toEqual(['a']);
    expect(t.inFlight).toBe(1);
    expect(sink.size).toBe(2);
    t.complete();
    expect(t.writes).toEqual(['a', 'b']);
    t.complete();
    t.complete();
    expect(t.writes).toEqual(['a', 'b', 'c']);
    expect(sink.size).toBe(0);
  });

  it('drops the oldest waiting items beyond the bound and counts them', () => {
    const droppedBefore = realtimeCounters.dropped;
    const t = transport();
    const sink = createBoundedSink({ write: t.write, max: 3 });
    for (let i = 1; i <= 10; i += 1) sink.push(String(i));
    // 1 is being written; 2..10 waited in a queue of 3: 2..7 were dropped.
    expect(sink.size).toBe(3);
    expect(sink.dropped).toBe(6);
    expect(realtimeCounters.dropped - droppedBefore).toBe(6);
    while (t.inFlight > 0) t.complete();
    expect(t.writes).toEqual(['1', '8', '9', '10']);
  });

  it('drains synchronous writes in a loop, not by recursion', () => {
    const writes: string[] = [];
    let blocked: (() => void) | null = null;
    const sink = createBoundedSink({
      write: (payload, written) => {
        writes.push(payload);
        if (payload === '0') blocked = written;
        else written();
      },
      max: 200_000,
    });
    for (let i = 0; i < 100_000; i += 1) sink.push(String(i));
    expect(writes).toHaveLength(1);
    blocked!();
    expect(writes).toHaveLength(100_000);
    expect(writes.at(-1)).toBe('99999');
  });

  it('ends after the queued items are written; return() drops them and ends at once', async () => {
    let closed = 0;
    const t = transport();
    const sink = createBoundedSink({ write: t.write, onClose: () => void (closed += 1) });
    const done = sink.next();
    let settled = false;
    void done.then(() => (settled = true));
    sink.push('a');
    sink.push('b');
    sink.end();
    sink.push('after end');
    await Promise.resolve();
    expect(settled).toBe(false);
    t.complete();
    t.complete();
    expect(await done).toEqual({ value: undefined, done: true });
    expect(t.writes).toEqual(['a', 'b']);
    expect(closed).toBe(1);

    const u = transport();
    const other = createBoundedSink({ write: u.write, onClose: () => void (closed += 1) });
    const waiting = other.next();
    other.push('x');
    other.push('y');
    await other.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    u.complete();
    other.push('z');
    expect(u.writes).toEqual(['x']);
    expect(closed).toBe(2);
  });
});
