import { Fifo } from '../core/fifo.ts';
import type { Logger } from '../core/logger.ts';

export interface WriteBufferOptions {
  name: string;
  log: Logger;
  /** Items written in one call at most. */
  maxBatch: number;
  /**
   * Items written in one call when little is waiting (default maxBatch). Between the two, a batch
   * is a quarter of the backlog: small batches while the store keeps up (a query behind one waits
   * less), large ones when it falls behind (fewer calls, more throughput).
   */
  minBatch?: number;
  /** A partial batch waits at most this long. */
  flushMs: number;
  /**
   * Above this many pending items, `add` returns a promise that settles once there is room: as
   * many waiting producers go on, oldest first, as items were written. Releasing them all at once
   * when the backlog dips let a thousand held connections flood in together.
   */
  highWater: number;
}

/**
 * Batches items into few large writes, one write in flight at a time. A failed write is retried
 * with backoff and its items keep their place at the front, so order holds and nothing accepted is
 * dropped; while the backlog is above the high-water mark, producers are made to wait.
 */
export class WriteBuffer<T> {
  private pending = new Fifo<T>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly waiters = new Fifo<() => void>();
  private retryMs = 0;
  private closed = false;
  written = 0;

  constructor(private readonly write: (batch: T[]) => Promise<void>, private readonly opts: WriteBufferOptions) {}

  get size(): number {
    return this.pending.length;
  }

  add(item: T): void | Promise<void> {
    this.pending.push(item);
    if (this.pending.length >= (this.opts.minBatch ?? this.opts.maxBatch)) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushMs);
    if (this.pending.length > this.opts.highWater) return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes everything pending now; resolves when the buffer is empty (or the store keeps failing after close). */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.running) {
      this.kick();
      await this.running;
      if (this.closed && this.retryMs > 0) {
        // Shutting down and the store refuses: keep trying briefly, then report what is left.
        await new Promise((r) => setTimeout(r, Math.min(this.retryMs, 500)));
        if (this.retryMs >= 5000) break;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    if (this.pending.length) this.opts.log.error({ buffer: this.opts.name, lost: this.pending.length }, 'write buffer closed with unwritten items');
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.pending.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.pending.length > 0 && !this.closed) this.timer ??= setTimeout(() => this.kick(), this.retryMs || this.opts.flushMs);
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const { minBatch = this.opts.maxBatch, maxBatch } = this.opts;
      const batch = this.pending.peek(Math.min(maxBatch, Math.max(minBatch, Math.ceil(this.pending.length / 4))));
      try {
        await this.write(batch);
      } catch (err) {
        this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), 5000);
        this.opts.log.error({ err, buffer: this.opts.name, pending: this.pending.length, retryMs: this.retryMs }, 'batch write failed; will retry');
        return;
      }
      this.retryMs = 0;
      this.pending.drop(batch.length);
      this.written += batch.length;
      this.release(batch.length);
    }
  }

  private release(written: number): void {
    let n = this.pending.length <= this.opts.highWater ? this.waiters.length : written;
    while (n-- > 0 && this.waiters.length > 0) this.waiters.shift()!();
  }
}
