/**
 * A first-in first-out queue with O(1) push and shift at any length. `Array.prototype.shift` copies
 * the whole array once it outgrows V8's regular heap objects (tens of thousands of entries), which
 * turned a broker's message backlog into a quadratic stall (measured with `npm run bench:profile`).
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    this.compact();
    return item;
  }

  /** The first item, left in place. */
  first(): T | undefined {
    return this.items[this.head];
  }

  /** The last item, left in place. */
  last(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }

  /** The first `n` items, left in place (a write that fails keeps its batch at the front). */
  peek(n: number): T[] {
    return this.items.slice(this.head, this.head + n) as T[];
  }

  /** Removes the first `n` items. */
  drop(n: number): void {
    this.head = Math.min(this.head + n, this.items.length);
    this.compact();
  }

  /** Gives the consumed front back once it is most of the array; amortized O(1). */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
