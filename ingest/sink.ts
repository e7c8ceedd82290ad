import type { Db } from '../core/store/db.ts';
import { mergeLatest } from '../core/store/devices.ts';
import { insertReadings, type Reading } from '../core/store/readings.ts';

/** Where readings go: the embedded store now; InfluxDB implements the same interface. */
export interface ReadingSink {
  readonly name: string;
  write(readings: Reading[]): Promise<void>;
  close?(): Promise<void>;
}

/**
 * The embedded time series (DESIGN §2): readings in the relational store, pruned by a retention
 * window, plus each device's latest properties for `GET /api/v1/devices/:id`.
 */
export class EmbeddedSink implements ReadingSink {
  readonly name = 'embedded';

  constructor(private readonly db: Db) {}

  async write(readings: Reading[]): Promise<void> {
    const latest = new Map<string, { props: Record<string, unknown>; at: number }>();
    for (const r of readings) {
      const l = latest.get(r.deviceId) ?? { props: {}, at: 0 };
      if (r.kind === 'telemetry') Object.assign(l.props, r.data);
      l.at = Math.max(l.at, r.ts);
      latest.set(r.deviceId, l);
    }
    await this.db.transaction(async (tx) => {
      await insertReadings(tx, readings);
      await mergeLatest(tx, [...latest].map(([id, l]) => ({ id, props: l.props, at: new Date(l.at) })));
    });
  }
}
