import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { WriteBuffer } from '../ingest/write-buffer.ts';

const log = pino({ level: 'silent' });

describe('write buffer', () => {
  it('holds producers above the high-water mark and lets them go once the backlog is written, in order', async () => {
    const written: number[] = [];
    let open!: () => void;
    let gate = new Promise<void>((r) => (open = r));
    const buf = new WriteBuffer<number>(async (batch) => {
      await gate;
      written.push(...batch);
    }, { name: 't', log, maxBatch: 4, flushMs: 10, highWater: 10 });
    const waits = Array.from({ length: 14 }, (_, i) => buf.add(i));
    // The first ten fit; the rest wait, and go on oldest first as the backlog is written.
    expect(waits.slice(0, 10).every((w) => w === undefined)).toBe(true);
    expect(waits.slice(10).every((w) => w instanceof Promise)).toBe(true);
    const released: number[] = [];
    waits.slice(10).forEach((w, i) => void w!.then(() => released.push(10 + i)));
    await new Promise((r) => setTimeout(r, 30));
    expect(released).toEqual([]);
    open();
    gate = Promise.resolve();
    await buf.flush();
    expect(released).toEqual([10, 11, 12, 13]);
    expect(written).toEqual(Array.from({ length: 14 }, (_, i) => i));
  });

  it('retries a failed batch without losing or reordering it', async () => {
    const written: number[] = [];
    let failures = 2;
    const buf = new WriteBuffer<number>(async (batch) => {
      if (failures-- > 0) throw new Error('store down');
      written.push(...batch);
    }, { name: 't', log, maxBatch: 3, flushMs: 5, highWater: 100 });
    for (let i = 0; i < 7; i++) buf.add(i);
    await buf.flush();
    expect(written).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(buf.size).toBe(0);
  });
});
