import { describe, expect, it } from 'vitest';
import { createLogger } from '../core/logger.ts';
import { EventBus } from '../core/event-bus.ts';

type E = { kind: 'a'; n: number } | { kind: 'b'; s: string };

describe('the event bus', () => {
  it('delivers by kind, in order; a consumer that throws or rejects is counted and never stops the others or the producer', async () => {
    const bus = new EventBus<E>(createLogger('silent'));
    const seen: string[] = [];
    bus.on('thrower', 'a', () => {
      throw new Error('sync');
    });
    bus.on('rejecter', '*', async () => {
      throw new Error('async');
    });
    bus.on('a-only', 'a', (e) => void seen.push(`a${e.n}`));
    bus.on('all', '*', (e) => void seen.push(e.kind));
    expect(() => {
      bus.emit({ kind: 'a', n: 1 });
      bus.emit({ kind: 'b', s: 'x' });
      bus.emit({ kind: 'a', n: 2 });
    }).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['a1', 'a', 'b', 'a2', 'a']);
    expect(bus.stats().failures).toEqual({ thrower: 2, rejecter: 3 });
  });

  it('stops delivering to a consumer that unsubscribed, or whose owner was removed', () => {
    const bus = new EventBus<E>(createLogger('silent'));
    const seen: number[] = [];
    const off = bus.on('x', 'a', (e) => void seen.push(e.n));
    bus.on('ext', 'a', (e) => void seen.push(e.n * 10));
    bus.on('ext', 'b', () => void seen.push(-1));
    bus.emit({ kind: 'a', n: 1 });
    off();
    bus.emit({ kind: 'a', n: 2 });
    bus.removeListeners('ext');
    bus.emit({ kind: 'a', n: 3 });
    bus.emit({ kind: 'b', s: '' });
    expect(seen).toEqual([1, 10, 20]);
    expect(bus.stats().listeners).toBe(0);
  });
});
