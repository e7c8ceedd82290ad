/** Ingest's running totals, reported by /api/v1/health. */
export class IngestCounters {
  received = 0;
  stored = 0;
  rejected = 0;
  readonly rejectedByReason: Record<string, number> = {};
  /** Readings whose device timestamp was missing or implausible, stored at server time. */
  serverTimestamped = 0;
  /** Devices' answers to commands (not readings: they go to the rules, not the sinks). */
  acks = 0;
  /** Readings resent with a (device, seq) already taken: acknowledged again, stored once. */
  duplicates = 0;
  /** Dead letters that found their queue full and were not kept (never for a QoS 1 message: it waits). */
  deadLettersDropped = 0;

  reject(reason: string): void {
    this.rejected++;
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
  }

  snapshot() {
    return {
      received: this.received,
      stored: this.stored,
      rejected: this.rejected,
      rejectedByReason: { ...this.rejectedByReason },
      serverTimestamped: this.serverTimestamped,
      acks: this.acks,
      duplicates: this.duplicates,
      deadLettersDropped: this.deadLettersDropped,
    };
  }
}
