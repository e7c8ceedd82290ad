/**
 * One write loop: runs `round` whenever there is work and no round is running, starting on the
 * next turn of the event loop (so everything changed in this turn goes together), and waits a
 * moment before retrying after a round that reported a failure.
 */
export class WriteLane {
  private running: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly round: () => Promise<boolean>,
    private readonly hasWork: () => boolean,
    private readonly retryMs = 1000,
  ) {}

  schedule(): void {
    if (this.scheduled || this.running || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  /** Resolves once the lane has no work left (or is waiting on another lane's). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.hasWork()) {
        const before = this.running;
        this.start();
        if (this.running === before) return; // nothing could start
      } else return;
    }
  }

  close(): void {
    this.closed = true;
  }

  private start(): void {
    if (this.running || !this.hasWork()) return;
    this.running = (async () => {
      try {
        const failed = await this.round();
        if (failed) await new Promise((r) => setTimeout(r, this.retryMs));
      } finally {
        this.running = undefined;
        if (this.hasWork()) this.schedule();
      }
    })();
  }
}
