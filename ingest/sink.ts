import { PartialWriteError, writeIsolating } from '../core/isolate.ts';
import type { Db } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import { mergeLatest } from '../core/store/devices.ts';
import { consumerName, readCheckpoint } from '../core/store/checkpoints.ts';
import { insertReadings, type Reading } from '../core/store/readings.ts';

/** Where readings go: the embedded store now; InfluxDB implements the same interface. */
export interface ReadingSink {
  readonly name: string;
  /** Readings per write call at most (the ingest buffer batches up to this). */
  readonly maxBatch?: number;
  /** Readings per write call while the sink keeps up (see WriteBufferOptions.minBatch). */
  readonly minBatch?: number;
  /** Wait this long (ms) after a write for `minBatch` readings to gather before the next (WriteBufferOptions.gather). */
  readonly gatherMs?: number;
  /**
   * Writes readings (in journal order) and records `upTo`, the journal position they reach (with
   * none, only the position moves: a reading it refused was dead-lettered). A throw whose error
   * says the data is bad (core/isolate.ts) makes ingest split the batch to find the refused rows.
   */
  write(readings: Reading[], upTo: number): Promise<void>;
  /** The journal position its writes had reached, read at start: the journal is replayed from there. */
  checkpoint(): Promise<number>;
  /** Points the sink holds itself while its server is away (the InfluxDB spool). */
  readonly backlog?: number;
  /**
   * Set by ingest for a sink that holds points itself (the spool): where a point its server later
   * refuses for its content goes (a `sink_rejected` dead letter, the point as payload).
   */
  refused?: (payload: string, err: Error) => void;
  /** Writes anything the sink holds back itself. */
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

/** Readings in one write of the embedded sink at most. */
export const EMBEDDED_MAX_BATCH = 20_000;

/** How often devices' latest properties are merged into the store: the API's view may lag this much. */
const LATEST_EVERY_MS = 1000;
const LATEST_SLICE = 50;

/**
 * The embedded time series (DESIGN §2): readings in the relational store, pruned by a retention
 * window, plus each device's latest properties for `GET /api/v1/devices/:id`.
 *
 * A device's readings of one write are one row (core/store/readings.ts), so a write gathers for up
 * to half a second: at 12,000 msg/s from 1,000 devices that is ~6 readings a row, and the store's
 * thread went from 33–35 % to 13–14 % of a core (issue 20). The store does one thing at a time; an
 * alarm's queries wait behind at most one write (`npm run bench:latency`). The latest properties
 * are merged once a second per device rather than once per batch.
 */
export class EmbeddedSink implements ReadingSink {
  readonly name = 'embedded';
  /** Its journal consumer name in ingest_checkpoints (this node's journal's). */
  private readonly consumer: string;
  /** Several nodes: a reading resent to this node after another died may be stored already. */
  private readonly once: boolean;
  readonly maxBatch = EMBEDDED_MAX_BATCH;
  readonly minBatch = 5000;
  readonly gatherMs = 500;
  private latest = new Map<string, { props: Record<string, unknown>; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private merging: Promise<void> | undefined;

  constructor(private readonly db: Db, private readonly log?: Logger, nodeId?: string) {
    this.consumer = consumerName('sink:embedded', nodeId);
    this.once = nodeId !== undefined && nodeId !== 'local';
  }

  async write(readings: Reading[], upTo: number): Promise<void> {
    const checkpoint = { consumer: this.consumer, lsn: upTo };
    if (this.once) await this.db.transaction((tx) => insertReadings(tx, readings, checkpoint, { once: true }));
    else await insertReadings(this.db.background, readings, checkpoint);
    for (const r of readings) {
      let l = this.latest.get(r.deviceId);
      if (!l) this.latest.set(r.deviceId, (l = { props: {}, at: 0 }));
      if (r.kind === 'telemetry') Object.assign(l.props, r.data);
      l.at = Math.max(l.at, r.ts);
    }
    this.timer ??= setTimeout(() => void this.mergeLatest().catch(() => undefined), LATEST_EVERY_MS);
  }

  checkpoint(): Promise<number> {
    return readCheckpoint(this.db, this.consumer);
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
    let done = 0;
    this.merging = (async () => {
      // In slices, so an alarm's write never waits behind the whole site's merge; a device whose
      // row the store refuses is skipped (logged), not retried forever.
      for (; done < rows.length; done += LATEST_SLICE) {
        const slice = rows.slice(done, done + LATEST_SLICE);
        try {
          await writeIsolating(slice, (part) => mergeLatest(this.db.background, part), (row, err) => this.log?.error({ err, deviceId: row.id }, 'the store refused a device\'s latest properties; skipped'));
        } catch (err) {
          if (err instanceof PartialWriteError) done += err.done;
          throw err instanceof PartialWriteError ? err.cause : err;
        }
      }
    })().catch((err: Error) => {
      this.log?.error({ err, devices: batch.size }, 'merging latest properties failed; will retry');
      // Newer values that came in meanwhile win over the failed ones; merged devices are done.
      for (const { id } of rows.slice(done)) {
        const l = batch.get(id)!;
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
