import { describe, expect, it } from 'vitest';
import { createBoundedQueue, realtimeCounters } from '../lib/realtime/bounded-queue.js';

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
