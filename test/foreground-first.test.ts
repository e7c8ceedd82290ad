import { describe, expect, it } from 'vitest';
import { ForegroundFirst } from '../core/store/foreground-first.ts';

/** A call whose answer the test gives by hand, recording when it was sent. */
function manual(log: string[], name: string) {
  let answer!: (v: string) => void;
  const send = () => {
    log.push(`sent ${name}`);
    return new Promise<string>((r) => (answer = r));
  };
  return { send, answer: (v = name) => answer(v) };
}
const turn = () => new Promise((r) => setImmediate(r));

describe('ForegroundFirst: bulk store work waits for interactive queries', () => {
  it('holds a background call while a foreground one is out, and sends it on the next turn after', async () => {
    const gate = new ForegroundFirst(10_000);
    const log: string[] = [];
    const fg = manual(log, 'fg');
    const bg = manual(log, 'bg');
    const f = gate.foreground(fg.send);
    const b = gate.background(bg.send);
    await turn();
    await turn();
    expect(log).toEqual(['sent fg']);
    fg.answer();
    expect(await f).toBe('fg');
    await turn();
    expect(log).toEqual(['sent fg', 'sent bg']);
    bg.answer('rows');
    expect(await b).toBe('rows');
    gate.close();
  });

  it("lets a chain's next query, sent as the previous one is answered, go before the held batch", async () => {
    const gate = new ForegroundFirst(10_000);
    const log: string[] = [];
    const steps = [manual(log, 'alarm row'), manual(log, 'item reads'), manual(log, 'work item')];
    const batch = manual(log, 'batch');
    const chain = (async () => {
      for (const s of steps) await gate.foreground(s.send);
    })();
    const b = gate.background(batch.send);
    for (const s of steps) {
      await turn();
      s.answer();
    }
    await chain;
    await turn();
    expect(log).toEqual(['sent alarm row', 'sent item reads', 'sent work item', 'sent batch']);
    batch.answer();
    await b;
    gate.close();
  });

  it('keeps at most two background calls out, and sends them in order', async () => {
    const gate = new ForegroundFirst(10_000);
    const log: string[] = [];
    const calls = ['one', 'two', 'three'].map((n) => manual(log, n));
    const done = calls.map((c) => gate.background(c.send));
    await turn();
    await turn();
    expect(log).toEqual(['sent one', 'sent two']);
    calls[1]!.answer();
    await done[1];
    await turn();
    expect(log).toEqual(['sent one', 'sent two', 'sent three']);
    calls[0]!.answer();
    calls[2]!.answer();
    expect(await Promise.all(done)).toEqual(['one', 'two', 'three']);
    gate.close();
  });

  it('lets two held batches go together when the foreground call ends, so the store is never left without the next one', async () => {
    const gate = new ForegroundFirst(10_000);
    const log: string[] = [];
    const fg = manual(log, 'fg');
    const batches = ['b1', 'b2', 'b3'].map((n) => manual(log, n));
    const f = gate.foreground(fg.send);
    const done = batches.map((b) => gate.background(b.send));
    await turn();
    expect(log).toEqual(['sent fg']);
    fg.answer();
    await f;
    await turn();
    expect(log).toEqual(['sent fg', 'sent b1', 'sent b2']);
    batches[0]!.answer();
    await done[0];
    expect(log).toEqual(['sent fg', 'sent b1', 'sent b2', 'sent b3']);
    batches[1]!.answer();
    batches[2]!.answer();
    await Promise.all(done);
    gate.close();
  });

  it('sends nothing more while a foreground call is out, whatever is already out in the background', async () => {
    const gate = new ForegroundFirst(10_000);
    const log: string[] = [];
    const bg1 = manual(log, 'bg1');
    const fg = manual(log, 'fg');
    const bg2 = manual(log, 'bg2');
    const b1 = gate.background(bg1.send);
    const f = gate.foreground(fg.send);
    const b2 = gate.background(bg2.send);
    await turn();
    expect(log).toEqual(['sent bg1', 'sent fg']);
    fg.answer();
    await f;
    await turn();
    expect(log).toEqual(['sent bg1', 'sent fg', 'sent bg2']);
    bg1.answer();
    bg2.answer();
    await Promise.all([b1, b2]);
    gate.close();
  });

  it('sends a held batch after maxHoldMs however busy the foreground stays, and counts it', async () => {
    const gate = new ForegroundFirst(30);
    const log: string[] = [];
    const busy = manual(log, 'long query');
    const bg = manual(log, 'batch');
    const f = gate.foreground(busy.send);
    const b = gate.background(bg.send);
    await new Promise((r) => setTimeout(r, 80));
    expect(log).toEqual(['sent long query', 'sent batch']);
    expect(gate.forced).toBe(1);
    bg.answer();
    busy.answer();
    await Promise.all([f, b]);
    gate.close();
  });

  it('passes a failure to its caller and goes on with the next call', async () => {
    const gate = new ForegroundFirst(10_000);
    await expect(gate.background(() => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    await expect(gate.background(async () => 'after')).resolves.toBe('after');
    await expect(gate.foreground(() => Promise.reject(new Error('bad sql')))).rejects.toThrow('bad sql');
    await expect(gate.background(async () => 'still')).resolves.toBe('still');
    gate.close();
  });
});
