import type { Clock } from './clock.ts';

/** Anything that can be due: a rule state waiting for its hold, verify, window or silence time. */
export interface Schedulable {
  /** When this wants to be woken (ms on the clock), or undefined for never. */
  due: number | undefined;
  /** The time of its live entry in the heap; entries with any other time are stale. */
  armedAt?: number;
}

/**
 * Deadlines for many thousands of rule states on one clock timer: a binary min-heap with lazy
 * deletion. Moving a deadline later costs nothing (the early entry wakes, finds `due` moved on and
 * re-arms), which is what a silence rule does on every message; only earlier deadlines push.
 */
export class Deadlines<T extends Schedulable> {
  private heap: { at: number; item: T }[] = [];
  private timer: unknown;
  private timerAt = Infinity;
  private running = false;

  constructor(private readonly clock: Clock, private readonly fire: (item: T, now: number) => void) {}

  get size(): number {
    return this.heap.length;
  }

  /** Call after changing `item.due`. */
  update(item: T): void {
    const due = item.due;
    if (due === undefined) return; // its entry, if any, turns stale
    if (item.armedAt !== undefined && item.armedAt <= due) return; // the live entry wakes early enough
    item.armedAt = due;
    this.push({ at: due, item });
    if (!this.running && due < this.timerAt) this.arm();
  }

  close(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.heap = [];
  }

  private arm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    const top = this.heap[0];
    if (!top) {
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    this.timerAt = top.at;
    this.timer = this.clock.setTimer(() => this.run(), top.at - this.clock.now());
  }

  private run(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.running = true;
    const now = this.clock.now();
    try {
      this.drain(now);
    } finally {
      this.running = false;
      this.arm();
    }
  }

  private drain(now: number): void {
    while (this.heap.length && this.heap[0]!.at <= now) {
      const { at, item } = this.pop()!;
      if (item.armedAt !== at) continue; // stale
      item.armedAt = undefined;
      if (item.due === undefined) continue;
      if (item.due > now) {
        this.update(item);
        continue;
      }
      this.fire(item, now);
    }
  }

  private push(e: { at: number; item: T }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): { at: number; item: T } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (!top || !last || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
