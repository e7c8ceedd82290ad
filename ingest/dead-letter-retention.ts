import type { Logger } from '../core/logger.ts';
import type { Db } from '../core/store/db.ts';
import { deadLetterBytes, deadLetterTotalBytes, pruneDeadLetters, type DeadLetter } from '../core/store/dead-letters.ts';

export interface RetentionOptions {
  /** Dead letters older than this go (DEAD_LETTERS_RETENTION_DAYS). */
  maxAgeMs: number;
  /** At most this much is kept, the oldest going first (DEAD_LETTERS_MAX_MB). */
  maxBytes: number;
  /** How often the retention runs. */
  everyMs?: number;
}

/**
 * Keeps the dead letters within an age and a size, so no device, however broken, can fill the disk.
 * The weight kept is tracked as rows are written (one sum at start), so the size check costs
 * nothing until the bound is near; deleted space is given back to the store with VACUUM once a
 * tenth of the bound has gone (PGlite runs no autovacuum).
 */
export class DeadLetterRetention {
  private bytes = 0;
  private freedSinceVacuum = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  pruned = 0;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly opts: RetentionOptions) {}

  async start(): Promise<void> {
    this.bytes = await deadLetterTotalBytes(this.db);
    this.timer = setInterval(() => void this.run(), this.opts.everyMs ?? 60_000).unref();
    if (this.bytes > this.opts.maxBytes) await this.run();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Counts what was just written; runs at once when the bound is passed. */
  added(letters: DeadLetter[]): void {
    for (const l of letters) this.bytes += deadLetterBytes(l);
    if (this.bytes > this.opts.maxBytes) void this.run();
  }

  status() {
    return { keptBytes: this.bytes, maxBytes: this.opts.maxBytes, pruned: this.pruned };
  }

  run(): Promise<void> {
    return (this.running ??= (async () => {
      await undefined; // settles after the assignment, so the finally below always clears it
      try {
        // Down to 90 % of the bound, so a flood does not make it run at every batch.
        const keep = this.bytes > this.opts.maxBytes ? Math.floor(this.opts.maxBytes * 0.9) : undefined;
        const gone = await pruneDeadLetters(this.db.background, new Date(Date.now() - this.opts.maxAgeMs), keep);
        if (gone.rows === 0) return;
        this.bytes = Math.max(0, this.bytes - gone.bytes);
        this.pruned += gone.rows;
        this.freedSinceVacuum += gone.bytes;
        this.log.info({ deleted: gone.rows, bytes: gone.bytes, keptBytes: this.bytes }, 'dead letters pruned');
        if (this.freedSinceVacuum > this.opts.maxBytes / 10) {
          this.freedSinceVacuum = 0;
          await this.db.background.query('VACUUM dead_letters');
        }
      } catch (err) {
        this.log.error({ err }, 'dead-letter retention failed; will retry');
      } finally {
        this.running = undefined;
      }
    })());
  }
}
