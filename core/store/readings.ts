import { withCheckpoint, type Checkpoint } from './checkpoints.ts';
import type { Queryable } from './db.ts';
import { Where } from './page.ts';

/** One validated device message, as ingest hands it to a sink. */
export interface Reading {
  deviceId: string;
  type: string;
  /** Milliseconds since the epoch. */
  ts: number;
  kind: 'telemetry' | 'event';
  /** Event name, for kind `event`. */
  event?: string;
  seq?: number;
  /** Telemetry props, or the event's data. */
  data: Record<string, unknown>;
  /** True when the device's timestamp was missing or implausible and server time was used. */
  serverTs: boolean;
  /** Its position in the ingest journal (ingest/journal.ts), once it has one. */
  lsn?: number;
}

/**
 * Writes readings and, with `checkpoint`, the journal position they reach, as one statement: after
 * a crash the journal is replayed from exactly there, so no reading is stored twice or skipped.
 * `once` (cluster mode): a reading whose (device, ts, seq) is stored already — resent to another
 * node after its first node died — is skipped. One node needs no such check (its journal and
 * dedup window see every resend), and ON CONFLICT costs the embedded store about 7 % of its rate
 * (`npm run bench:pipeline`: 39,799 → 36,250–38,684 msg/s); there the unique index refuses such a
 * row, which is then dead-lettered alone.
 */
export async function insertReadings(db: Queryable, readings: Reading[], checkpoint?: Checkpoint, opts: { once?: boolean } = {}): Promise<void> {
  if (readings.length === 0 && !checkpoint) return;
  const insert = `INSERT INTO readings (device_id, type, ts, kind, event, seq, data, server_ts)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[], $8::boolean[])${opts.once ? `
     ON CONFLICT (device_id, ts, seq) DO NOTHING` : ''}`;
  const params = [
    readings.map((r) => r.deviceId),
    readings.map((r) => r.type),
    readings.map((r) => new Date(r.ts).toISOString()),
    readings.map((r) => r.kind),
    readings.map((r) => r.event ?? null),
    readings.map((r) => r.seq ?? null),
    readings.map((r) => JSON.stringify(r.data)),
    readings.map((r) => r.serverTs),
  ];
  await db.query(...withCheckpoint(insert, params, checkpoint));
}

export interface StoredReading {
  deviceId: string;
  type: string;
  ts: Date;
  kind: 'telemetry' | 'event';
  event: string | null;
  seq: number | null;
  data: Record<string, unknown>;
  serverTs: boolean;
}

export async function listReadings(
  db: Queryable,
  filter: { deviceId?: string; type?: string; kind?: 'telemetry' | 'event'; since?: Date; limit?: number } = {},
): Promise<StoredReading[]> {
  const where = new Where();
  if (filter.deviceId) where.add('device_id = ?', filter.deviceId);
  if (filter.type) where.add('type = ?', filter.type);
  if (filter.kind) where.add('kind = ?', filter.kind);
  if (filter.since) where.add('ts >= ?', filter.since.toISOString());
  const params = [...where.params, filter.limit ?? 1000];
  const { rows } = await db.query<{
    device_id: string; type: string; ts: Date; kind: 'telemetry' | 'event'; event: string | null; seq: number | null; data: Record<string, unknown>; server_ts: boolean;
  }>(
    // seq is a bigint; every value ingest accepts is a safe integer, which float8 holds exactly.
    `SELECT device_id, type, ts, kind, event, seq::float8 AS seq, data, server_ts FROM readings ${where} ORDER BY ts DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({ deviceId: r.device_id, type: r.type, ts: r.ts, kind: r.kind, event: r.event, seq: r.seq, data: r.data, serverTs: r.server_ts }));
}

export async function countReadingsByType(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ type: string; n: number }>('SELECT type, count(*)::int AS n FROM readings GROUP BY type');
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

/** Deletes readings older than the retention window; returns how many went. */
export async function pruneReadings(db: Queryable, olderThan: Date): Promise<number> {
  const r = await db.query('DELETE FROM readings WHERE ts < $1', [olderThan.toISOString()]);
  return r.affectedRows ?? 0;
}
