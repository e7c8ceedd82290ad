import { z } from 'zod';
import { Fifo } from '../core/fifo.ts';
import { PartialWriteError, writeIsolating } from '../core/isolate.ts';
import type { Logger } from '../core/logger.ts';
import { LogThrottle } from '../core/log-throttle.ts';

export interface WriteBufferOptions<T> {
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
   * After a write, wait for `minBatch` items or `flushMs` before the next, instead of writing what
   * came meanwhile at once: for a store whose cost is per row, where a fuller write packs more into
   * each (the embedded sink: a device's readings of one write are one row).
   */
  gather?: boolean;
  /**
   * Above this many pending items, `add` returns a promise that settles once there is room: as
   * many waiting producers go on, oldest first, as items were written. Releasing them all at once
   * when the backlog dips let a thousand held connections flood in together.
   */
  highWater: number;
  /**
   * An item the store refuses for what is in it (core/isolate.ts): dead-letter it here. It counts as
   * done once this resolves; if this throws, the item is retried like a transient failure.
   */
  reject?(item: T, err: Error): Promise<void> | void;
  /** How long a refusal counts in `status().rejectedRecently` (health stays degraded that long). */
  rejectionWindowMs?: number;
}

/** What health reports of one buffer (the schema `/api/v1/health` answers with). */
export const writeBufferStatusSchema = z.object({
  pending: z.number(),
  /** Age of the oldest unwritten item, ms (0 when none waits). */
  oldestMs: z.number(),
  /** The last write failed for a transient reason and is being retried with backoff. */
  retrying: z.boolean(),
  lastError: z.string().nullable(),
  written: z.number(),
  /** Items the store refused and `reject` took, in all and within the rejection window (a minute by default). */
  rejected: z.number(),
  rejectedRecently: z.number(),
  lastRejection: z.string().nullable(),
});
export type WriteBufferStatus = z.infer<typeof writeBufferStatusSchema>;

/** How finely the age of waiting items is tracked. */
const MARK_EVERY_MS = 100;

/**
 * Batches items into few large writes, one write in flight at a time. A write that fails for a
 * transient reason is retried with backoff and its items keep their place at the front, so order
 * holds and nothing accepted is dropped; one the store refuses for its content is split until the
 * refused items are found, which go to `reject` while the rest are written. While the backlog is
 * above the high-water mark, producers are made to wait.
 */
export class WriteBuffer<T> {
  private pending = new Fifo<T>();
  /** [items added up to here, at]: the age of the oldest pending item without a timestamp per item. */
  private readonly marks = new Fifo<[number, number]>();
  private added = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly waiters = new Fifo<() => void>();
  private readonly throttle: LogThrottle;
  private retryMs = 0;
  private closed = false;
  private lastError: string | null = null;
  private lastRejection: string | null = null;
  /** [second, items rejected in it] over the rejection window. */
  private readonly rejections = new Fifo<[number, number]>();
  written = 0;
  rejected = 0;

  constructor(private readonly write: (batch: T[]) => Promise<void>, private readonly opts: WriteBufferOptions<T>) {
    this.throttle = new LogThrottle(opts.log);
  }

  get size(): number {
    return this.pending.length;
  }

  add(item: T): void | Promise<void> {
    this.pending.push(item);
    this.added++;
    const now = Date.now();
    const last = this.marks.last();
    if (!last || now - last[1] >= MARK_EVERY_MS) this.marks.push([this.added, now]);
    else last[0] = this.added;
    if (this.pending.length >= this.minBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushMs);
    if (this.pending.length > this.opts.highWater) return new Promise((resolve) => this.waiters.push(resolve));
  }

  status(now = Date.now()): WriteBufferStatus {
    const window = this.opts.rejectionWindowMs ?? 60_000;
    while (this.rejections.length > 0 && now - (this.rejections.first()![0] + 1) * 1000 > window) this.rejections.shift();
    let rejectedRecently = 0;
    for (const [, n] of this.rejections.peek(this.rejections.length)) rejectedRecently += n;
    return {
      pending: this.pending.length,
      oldestMs: this.pending.length > 0 ? now - this.oldestMark() : 0,
      retrying: this.retryMs > 0,
      lastError: this.lastError,
      written: this.written,
      rejected: this.rejected,
      rejectedRecently,
      lastRejection: this.lastRejection,
    };
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
    this.throttle.close();
    if (this.pending.length) this.opts.log.error({ buffer: this.opts.name, unwritten: this.pending.length }, 'write buffer closed with unwritten items');
  }

  /** When the first pending item was added: the mark covering it. */
  private oldestMark(): number {
    const firstPending = this.added - this.pending.length + 1;
    while (this.marks.length > 1 && this.marks.first()![0] < firstPending) this.marks.shift();
    return this.marks.first()?.[1] ?? Date.now();
  }

  private get minBatch(): number {
    return this.opts.minBatch ?? this.opts.maxBatch;
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
      const batch = this.pending.peek(Math.min(this.opts.maxBatch, Math.max(this.minBatch, Math.ceil(this.pending.length / 4))));
      try {
        await writeIsolating(batch, this.write, (item, err) => this.rejectItem(item, err));
      } catch (err) {
        const done = err instanceof PartialWriteError ? err.done : 0;
        const cause = err instanceof PartialWriteError ? err.cause : err;
        this.done(done);
        this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), 5000);
        this.lastError = (cause as Error)?.message ?? String(cause);
        this.throttle.error(`write_failed:${this.opts.name}`, { err: cause, buffer: this.opts.name, pending: this.pending.length, retryMs: this.retryMs }, 'batch write failed; will retry');
        return;
      }
      this.retryMs = 0;
      this.lastError = null;
      this.done(batch.length);
      if (this.opts.gather && !this.closed && this.pending.length < this.minBatch) return; // kick()'s finally waits flushMs
    }
  }

  private async rejectItem(item: T, err: Error): Promise<void> {
    if (this.opts.reject) await this.opts.reject(item, err);
    else this.throttle.error(`rejected:${this.opts.name}`, { err, buffer: this.opts.name }, 'the store refused an item; dropped');
    this.rejected++;
    const second = Math.floor(Date.now() / 1000);
    const last = this.rejections.last();
    if (last?.[0] === second) last[1]++;
    else this.rejections.push([second, 1]);
    this.lastRejection = err.message;
  }

  private done(n: number): void {
    if (n === 0) return;
    this.pending.drop(n);
    this.written += n;
    this.release(n);
  }

  private release(written: number): void {
    let n = this.pending.length <= this.opts.highWater ? this.waiters.length : written;
    while (n-- > 0 && this.waiters.length > 0) this.waiters.shift()!();
  }
}
