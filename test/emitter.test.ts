import { describe, expect, it } from 'vitest';
import { TopicEmitter } from '../broker/emitter.ts';
import { Fifo } from '../core/fifo.ts';

describe('broker message bus', () => {
  it('matches MQTT wildcards and completes a message once every listener is done', async () => {
    const bus = new TopicEmitter();
    const seen: string[] = [];
    bus.on('v1/+/+/telemetry', (m, done) => (seen.push(`plus:${m.topic}`), setImmediate(done)));
    bus.on('v1/#', (m, done) => (seen.push(`hash:${m.topic}`), done()));
    const completed = await new Promise<string[]>((resolve) => bus.emit({ topic: 'v1/smoke-detector/sd-1/telemetry' }, () => resolve([...seen])));
    expect(completed.sort()).toEqual(['hash:v1/smoke-detector/sd-1/telemetry', 'plus:v1/smoke-detector/sd-1/telemetry']);
    await new Promise<void>((resolve) => bus.emit({ topic: 'v1/x/y/event' }, () => resolve()));
    expect(seen).toContain('hash:v1/x/y/event');
    expect(seen).not.toContain('plus:v1/x/y/event');
  });

  it('drains a large backlog nobody listens to, in order, without recursion (mqemitter#204)', async () => {
    const bus = new TopicEmitter(1);
    let release!: () => void;
    // One slow delivery holds the only slot while 200,000 unmatched messages queue behind it.
    bus.on('slow', (_m, done) => (release = done));
    bus.emit({ topic: 'slow' });
    const order: number[] = [];
    for (let i = 0; i < 200_000; i++) bus.emit({ topic: `none/${i}` }, () => order.push(i));
    expect(bus.length).toBe(200_000);
    release();
    await new Promise((r) => setImmediate(r));
    expect(order.length).toBe(200_000);
    expect(order.every((v, i) => v === i)).toBe(true);
    expect(bus.length).toBe(0);
  });

  it('keeps at most `concurrency` messages in delivery', () => {
    const bus = new TopicEmitter(3);
    const held: (() => void)[] = [];
    bus.on('t', (_m, done) => held.push(done));
    for (let i = 0; i < 10; i++) bus.emit({ topic: 't' });
    expect(held.length).toBe(3);
    expect(bus.length).toBe(7);
    held.shift()!();
    expect(held.length).toBe(3); // the next one took the freed slot at once; completion is reported later
    expect(bus.length).toBe(6);
  });

  it('refuses messages after close', async () => {
    const bus = new TopicEmitter();
    bus.close();
    const err = await new Promise<Error | null | undefined>((resolve) => bus.emit({ topic: 't' }, resolve));
    expect(err?.message).toMatch(/closed/);
  });
});

describe('fifo', () => {
  it('keeps order across compaction, and peek/drop leave a failed batch in front', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    for (let i = 0; i < 3000; i++) expect(q.shift()).toBe(i);
    expect(q.length).toBe(2000);
    expect(q.peek(3)).toEqual([3000, 3001, 3002]);
    expect(q.length).toBe(2000);
    q.drop(1999);
    expect(q.shift()).toBe(4999);
    expect(q.shift()).toBeUndefined();
    expect(q.length).toBe(0);
  });
});

describe('broker message bus listener changes', () => {
  it('sees a listener added or removed after a topic was already delivered (remembered matches are dropped)', async () => {
    const bus = new TopicEmitter();
    const got: string[] = [];
    const send = () => new Promise<void>((resolve) => bus.emit({ topic: 'v1/a/b/telemetry' }, () => resolve()));
    await send();
    const late = (_m: { topic: string }, done: () => void) => (got.push('late'), done());
    bus.on('v1/#', late);
    await send();
    expect(got).toEqual(['late']);
    await new Promise<void>((resolve) => bus.removeListener('v1/#', late, resolve));
    await send();
    expect(got).toEqual(['late']);
  });

  it('is backed up at its high-water mark and tells waiters once it has drained to half', async () => {
    const bus = new TopicEmitter(1, 10);
    const held: (() => void)[] = [];
    bus.on('t', (_m, done) => held.push(done));
    for (let i = 0; i < 11; i++) bus.emit({ topic: 't' });
    expect(bus.length).toBe(10);
    expect(bus.backedUp).toBe(true);
    let relieved = 0;
    bus.whenRelieved(() => relieved++);
    // Down to 6 waiting: still above half.
    for (let i = 0; i < 4; i++) {
      held.shift()!();
      await new Promise((r) => process.nextTick(r));
    }
    expect(bus.length).toBe(6);
    expect(bus.backedUp).toBe(false);
    expect(bus.busy).toBe(true);
    expect(relieved).toBe(0);
    held.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(bus.length).toBe(5);
    expect(bus.busy).toBe(false);
    expect(relieved).toBe(1);
    // Once only; and at once for a waiter that comes when it is already relieved.
    held.shift()!();
    bus.whenRelieved(() => relieved++);
    await new Promise((r) => setImmediate(r));
    expect(relieved).toBe(2);
  });
});
