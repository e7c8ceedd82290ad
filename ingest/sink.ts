import type { Db } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import { mergeLatest } from '../core/store/devices.ts';
import { insertReadings, type Reading } from '../core/store/readings.ts';

/** Where readings go: the embedded store now; InfluxDB implements the same interface. */
export interface ReadingSink {
  readonly name: string;
  /** Readings per write call at most (the ingest buffer batches up to this). */
  readonly maxBatch?: number;
  /** Readings per write call while the sink keeps up (see WriteBufferOptions.minBatch). */
  readonly minBatch?: number;
  write(readings: Reading[]): Promise<void>;
  /** Writes anything the sink holds back itself. */
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

/** How often devices' latest properties are merged into the store: the API's view may lag this much. */
const LATEST_EVERY_MS = 1000;
const LATEST_SLICE = 50;

/**
 * The embedded time series (DESIGN §2): readings in the relational store, pruned by a retention
 * window, plus each device's latest properties for `GET /api/v1/devices/:id`.
 *
 * The store does one thing at a time, so batches stay small while it keeps up (an alarm's queries
 * wait behind at most one of them: `npm run bench:latency`) and grow only when it falls behind
 * (`npm run bench:pipeline`); the latest properties are merged once a second per device rather
 * than once per batch.
 */
export class EmbeddedSink implements ReadingSink {
  readonly name = 'embedded';
  readonly maxBatch = 2000;
  readonly minBatch = 200;
  private latest = new Map<string, { props: Record<string, unknown>; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private merging: Promise<void> | undefined;

  constructor(private readonly db: Db, private readonly log?: Logger) {}

  async write(readings: Reading[]): Promise<void> {
    await insertReadings(this.db.background, readings);
    for (const r of readings) {
      let l = this.latest.get(r.deviceId);
      if (!l) this.latest.set(r.deviceId, (l = { props: {}, at: 0 }));
      if (r.kind === 'telemetry') Object.assign(l.props, r.data);
      l.at = Math.max(l.at, r.ts);
    }
    this.timer ??= setTimeout(() => void this.mergeLatest().catch(() => undefined), LATEST_EVERY_MS);
  }

  async flush(): Promise<void> {
    await this.mergeLatest();
  }

  async close(): Promise<void> {
    await this.mergeLatest();
  }

  private async mergeLatest(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.merging;
    if (this.latest.size === 0) return;
    const batch = this.latest;
    this.latest = new Map();
    const rows = [...batch].map(([id, l]) => ({ id, props: l.props, at: new Date(l.at) }));
    this.merging = (async () => {
      // In slices, so an alarm's write never waits behind the whole site's merge.
      for (let i = 0; i < rows.length; i += LATEST_SLICE) await mergeLatest(this.db.background, rows.slice(i, i + LATEST_SLICE));
    })().catch((err: Error) => {
      this.log?.error({ err, devices: batch.size }, 'merging latest properties failed; will retry');
      // Newer values that came in meanwhile win over the failed ones.
      for (const [id, l] of batch) {
        const newer = this.latest.get(id);
        this.latest.set(id, newer ? { props: { ...l.props, ...newer.props }, at: Math.max(l.at, newer.at) } : l);
      }
      this.timer ??= setTimeout(() => void this.mergeLatest().catch(() => undefined), LATEST_EVERY_MS);
      throw err;
    });
    try {
      await this.merging;
    } finally {
      this.merging = undefined;
    }
  }
}
