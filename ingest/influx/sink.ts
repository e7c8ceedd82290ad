import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPermanent, writeIsolating } from '../../core/isolate.ts';
import type { Logger } from '../../core/logger.ts';
import type { Reading } from '../../core/store/readings.ts';
import type { ReadingSink } from '../sink.ts';
import { toLine, type PointTags } from './line-protocol.ts';
import { Spool } from './spool.ts';
import type { LineWriter } from './writers.ts';

export interface InfluxSinkOptions {
  writer: LineWriter;
  /** Where a device hangs in the org tree, for its tags. */
  tags(deviceId: string): PointTags | undefined;
  /** Folder for the outage spool (DATA_DIR/spool). */
  spoolDir: string;
  log: Logger;
  /** First retry after a failure; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

/**
 * Readings to InfluxDB (or anything speaking its write API). The ingest buffer batches and bounds;
 * this sink sends one batch at a time. When the server does not take a batch, the batch goes to a
 * spool on disk and the ingest buffer moves on: devices keep being acknowledged, nothing
 * acknowledged is lost, and the spool is replayed in order (before anything newer) once the server
 * answers again.
 */
export class InfluxSink implements ReadingSink {
  readonly name: string;
  readonly maxBatch = 5000;
  private readonly spool: Spool;
  private replaying: Promise<void> | undefined;
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly checkpointFile: string;
  /** The journal position written so far, and when it was last saved to its file. */
  private upTo = 0;
  private savedAt = 0;
  written = 0;
  spooled = 0;
  /** Spooled lines the server refused when they were replayed. */
  rejected = 0;
  /** Set by ingest: dead-letters a spooled line the server refuses for its content. */
  refused?: (payload: string, err: Error) => void;

  constructor(private readonly opts: InfluxSinkOptions) {
    this.name = opts.writer.name;
    this.spool = new Spool(opts.spoolDir, opts.writer.name);
    this.checkpointFile = path.join(opts.spoolDir, `${opts.writer.name}.checkpoint`);
    this.retryMs = opts.retryMs ?? 500;
    if (!this.spool.empty) this.scheduleReplay();
  }

  get backlog(): number {
    return this.spool.size;
  }

  /**
   * Sends the readings, or spools them when the server is away. The server's answer is durable on
   * its side, the spool on ours, so the journal position is recorded after either. It is saved to
   * its file at most once a second (and at close): a replay from an older position only rewrites
   * the same points (same series and time: InfluxDB keeps one).
   */
  async write(readings: Reading[], upTo: number): Promise<void> {
    const lines: string[] = [];
    for (const r of readings) {
      const line = toLine(r, this.opts.tags(r.deviceId));
      if (line) lines.push(line);
    }
    await this.send(lines);
    this.saveCheckpoint(upTo);
  }

  async checkpoint(): Promise<number> {
    if (!existsSync(this.checkpointFile)) return 0;
    const n = Number(readFileSync(this.checkpointFile, 'utf8'));
    return Number.isSafeInteger(n) ? n : 0;
  }

  /**
   * Any other points (platform gauges, work-item figures), with the same ordering and spool. A batch
   * the server refuses for its content throws (ingest then finds the refused readings), one it does
   * not take for any other reason is spooled.
   */
  async send(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    // Order: while older batches wait in the spool, newer ones queue behind them.
    if (!this.spool.empty) {
      this.toSpool(lines);
      return;
    }
    try {
      await this.opts.writer.write(lines);
      this.written += lines.length;
    } catch (err) {
      if (isPermanent(err)) throw err;
      this.opts.log.warn({ err: (err as Error).message, lines: lines.length, writer: this.name }, 'time-series server did not take a batch: spooled to disk');
      this.toSpool(lines);
    }
  }

  private saveCheckpoint(upTo: number, now = Date.now()): void {
    this.upTo = upTo;
    if (now - this.savedAt < 1000) return;
    this.savedAt = now;
    const tmp = `${this.checkpointFile}.tmp`;
    writeFileSync(tmp, String(upTo), { mode: 0o600 });
    renameSync(tmp, this.checkpointFile);
  }

  /** Waits until the spool is drained (or the server keeps refusing for `timeoutMs`). */
  async flush(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.spool.empty && Date.now() < end) {
      await this.replay();
      if (!this.spool.empty) await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.flush(2000);
    if (this.upTo) this.saveCheckpoint(this.upTo, Infinity);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.spool.empty) this.opts.log.warn({ points: this.spool.size, writer: this.name }, 'time-series spool kept on disk; replayed at the next start');
    await this.opts.writer.close();
  }

  private toSpool(lines: string[]): void {
    this.spool.push(lines);
    this.spooled += lines.length;
    this.scheduleReplay();
  }

  private scheduleReplay(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.replay();
    }, this.retryMs);
    this.timer.unref();
  }

  private replay(): Promise<void> {
    return (this.replaying ??= (async () => {
      await undefined; // settles after the assignment, so the finally below always clears it
      try {
        for (let batch = this.spool.peek(); batch; batch = this.spool.peek()) {
          // A line the server refuses for its content must not hold the spool forever.
          this.rejected += await writeIsolating(batch, (part) => this.opts.writer.write(part), (line, err) => {
            this.opts.log.error({ err: err.message, writer: this.name }, 'time-series server refused a spooled point; dead-lettered');
            this.refused?.(line, err);
          });
          this.written += batch.length;
          this.spool.shift();
        }
        this.retryMs = this.opts.retryMs ?? 500;
      } catch {
        this.retryMs = Math.min(this.retryMs * 2, this.opts.maxRetryMs ?? 10_000);
        this.scheduleReplay();
      } finally {
        this.replaying = undefined;
      }
    })());
  }
}
