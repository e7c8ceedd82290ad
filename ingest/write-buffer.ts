import { Fifo } from '../core/fifo.ts';
import type { Logger } from '../core/logger.ts';

export interface WriteBufferOptions {
  name: string;
  log: Logger;
  /** Items written in one call at most. */
  maxBatch: number;
  /** A partial batch waits at most this long. */
  flushMs: number;
  /** Above this many pending items, `add` returns a promise that settles once there is room. */
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
  /** Settles when the backlog is back under the high-water mark; shared by every producer waiting. */
  private room: { promise: Promise<void>; resolve: () => void } | undefined;
  private retryMs = 0;
  private closed = false;
  written = 0;

  constructor(private readonly write: (batch: T[]) => Promise<void>, private readonly opts: WriteBufferOptions) {}

  get size(): number {
    return this.pending.length;
  }

  add(item: T): void | Promise<void> {
    this.pending.push(item);
    if (this.pending.length >= this.opts.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushMs);
    if (this.pending.length > this.opts.highWater) {
      if (!this.room) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.room = { promise, resolve };
      }
      return this.room.promise;
    }
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
      const batch = this.pending.peek(this.opts.maxBatch);
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
      this.release();
    }
  }

  private release(): void {
    if (this.room && this.pending.length <= this.opts.highWater) {
      this.room.resolve();
      this.room = undefined;
    }
  }
}
