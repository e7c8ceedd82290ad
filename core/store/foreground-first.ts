import { Fifo } from '../fifo.ts';

/**
 * Puts bulk work (readings batches, latest-property merges, dead letters, pruning) behind
 * everything else on a store that runs one statement at a time and cannot be interrupted.
 *
 * Background calls are sent only while no foreground call is outstanding, at most two at a time:
 * two so the store's thread always has the next batch waiting instead of idling through each round
 * trip (one at a time cut the embedded pipeline from 28.6k to 21k msg/s, `npm run bench:pipeline`),
 * and no more so a foreground query never queues behind a pile of them. An alarm's chain of
 * queries (its row, the work item's reads, the work item) then does not meet a fresh batch at every
 * step: a chain's next query is sent in the same turn as the previous answer, and held batches go
 * on the turn after. A batch held for `maxHoldMs` goes anyway, so a busy API cannot starve ingest;
 * ingest's own buffers (and their backpressure on the broker) absorb the wait.
 */
export class ForegroundFirst {
  private foregroundOut = 0;
  private backgroundOut = 0;
  private readonly held = new Fifo<{ since: number; run: () => void }>();
  private pumpQueued = false;
  private timer: NodeJS.Timeout | undefined;
  /** Background calls sent while foreground ones were still out, after waiting `maxHoldMs`. */
  forced = 0;

  constructor(private readonly maxHoldMs = 50, private readonly maxBackgroundOut = 2) {}

  async foreground<T>(send: () => Promise<T>): Promise<T> {
    this.foregroundOut++;
    try {
      return await send();
    } finally {
      if (--this.foregroundOut === 0) this.queuePump();
    }
  }

  background<T>(send: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.held.push({
        since: performance.now(),
        run: () =>
          void send().then(
            (v) => (this.backgroundDone(), resolve(v)),
            (err: unknown) => (this.backgroundDone(), reject(err)),
          ),
      });
      if (!this.pumpQueued) this.pump(); // else a chain may be between two of its queries
    });
  }

  close(): void {
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private backgroundDone(): void {
    this.backgroundOut--;
    if (!this.pumpQueued) this.pump();
  }

  /**
   * When the last foreground call is answered: on the next turn, so a chain of foreground queries
   * continuing in this one goes first. (Otherwise a batch goes at once: a store left idle for a
   * turn of a busy event loop is ingest throughput lost, `npm run bench:pipeline`.)
   */
  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Sends held calls until the background slots are full, unless foreground calls are out (see maxHoldMs). */
  private pump(): void {
    while (this.backgroundOut < this.maxBackgroundOut && this.held.length > 0) {
      const waited = performance.now() - this.held.first()!.since;
      if (this.foregroundOut > 0 && waited < this.maxHoldMs) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.maxHoldMs - waited);
        return;
      }
      if (this.foregroundOut > 0) this.forced++;
      this.clearTimer();
      this.backgroundOut++;
      this.held.shift()!.run();
    }
  }
}
