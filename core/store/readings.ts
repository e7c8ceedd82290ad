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
 *
 * A device's readings of one kind in one call go into one row (`reading_packs`, migration 11): a
 * row per reading cost the embedded store 13–16 µs each, and the store's share of the platform's
 * CPU halves when a write packs several (`npm run bench:store`, issue 20). The view `readings` still
 * shows a row per reading.
 *
 * `once` (cluster mode): a reading whose (device, ts, seq) is stored already — resent to another
 * node after its first node died — or repeated within the call is skipped. The check and the
 * insert hold a lock, so two nodes storing the same resend at once store it once: call it in a
 * transaction (`db.transaction`). One node needs no such check (its journal and dedup window see
 * every resend).
 */
export async function insertReadings(db: Queryable, readings: Reading[], checkpoint?: Checkpoint, opts: { once?: boolean } = {}): Promise<void> {
  if (readings.length === 0 && !checkpoint) return;
  if (opts.once) return insertOnce(db, readings, checkpoint);
  const packs = new Map<string, Reading[]>();
  for (const r of readings) {
    const key = `${r.deviceId}\n${r.kind}`;
    const pack = packs.get(key);
    if (pack) pack.push(r);
    else packs.set(key, [r]);
  }
  // One JSON document for the whole write: PostgreSQL parses it once, where arrays of JSON texts
  // were escaped quote by quote on the way in (`npm run bench:store`).
  let doc = '[';
  for (const pack of packs.values()) {
    let first = Infinity;
    let last = -Infinity;
    let readingsDoc = '';
    for (const r of pack) {
      if (r.ts < first) first = r.ts;
      if (r.ts > last) last = r.ts;
      readingsDoc += readingsDoc ? `,${packed(r)}` : packed(r);
    }
    const r0 = pack[0]!;
    if (doc.length > 1) doc += ',';
    doc += `{"device_id":${JSON.stringify(r0.deviceId)},"type":${JSON.stringify(r0.type)},"kind":"${r0.kind}","first":${first},"last":${last},"n":${pack.length},"readings":[${readingsDoc}]}`;
  }
  const insert = `INSERT INTO reading_packs (device_id, type, kind, ts_first, ts_last, n, readings)
     SELECT device_id, type, kind, to_timestamp(first / 1000.0), to_timestamp(last / 1000.0), n, readings
     FROM json_to_recordset($1::json) AS x(device_id text, type text, kind text, first float8, last float8, n int, readings json)`;
  await db.query(...withCheckpoint(insert, [doc + ']'], checkpoint));
}

/** One reading as a pack holds it (keys the view's json_to_recordset reads; absent ones are NULL). */
function packed(r: Reading): string {
  let s = `{"ts":${r.ts}`;
  if (r.seq !== undefined) s += `,"seq":${r.seq}`;
  if (r.event !== undefined) s += `,"event":${JSON.stringify(r.event)}`;
  s += `,"data":${JSON.stringify(r.data)}`;
  return r.serverTs ? `${s},"server_ts":true}` : `${s}}`;
}

/** Any number no other code of ours locks: the readings of every node, while one checks and inserts. */
const READINGS_ONCE_LOCK = 727_002;

async function insertOnce(db: Queryable, readings: Reading[], checkpoint?: Checkpoint): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [READINGS_ONCE_LOCK]);
  const doc = `[${readings.map((r, i) => `{"i":${i},"device_id":${JSON.stringify(r.deviceId)},"type":${JSON.stringify(r.type)},"kind":"${r.kind}",${packed(r).slice(1)}`).join(',')}]`;
  // A reading without seq is never a resend (NULLs are distinct, as they were in the unique index).
  const insert = `WITH x AS (
       SELECT * FROM json_to_recordset($1::json) AS x(i int, device_id text, type text, kind text, ts float8, seq bigint, event text, data json, server_ts boolean)
     ), fresh AS (
       SELECT DISTINCT ON (device_id, ts, coalesce(seq::text, '#' || i)) * FROM x
       WHERE seq IS NULL OR NOT EXISTS (
         SELECT 1 FROM reading_packs p, json_to_recordset(p.readings) AS q(ts float8, seq bigint)
         WHERE p.device_id = x.device_id AND p.ts_first <= to_timestamp(x.ts / 1000.0) AND p.ts_last >= to_timestamp(x.ts / 1000.0) AND q.ts = x.ts AND q.seq = x.seq)
       ORDER BY device_id, ts, coalesce(seq::text, '#' || i), i
     )
     INSERT INTO reading_packs (device_id, type, kind, ts_first, ts_last, n, readings)
     SELECT device_id, min(type), kind, to_timestamp(min(ts) / 1000.0), to_timestamp(max(ts) / 1000.0), count(*),
       json_agg(json_build_object('ts', ts, 'seq', seq, 'event', event, 'data', data, 'server_ts', server_ts) ORDER BY i)
     FROM fresh GROUP BY device_id, kind`;
  await db.query(...withCheckpoint(insert, [doc], checkpoint));
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
  if (filter.since) where.add('ts_last >= ?', filter.since.toISOString());
  const since = filter.since?.getTime() ?? null;
  const params = [...where.params, filter.limit ?? 1000, since];
  const n = params.length;
  const { rows } = await db.query<{
    device_id: string; type: string; ts: number; kind: 'telemetry' | 'event'; event: string | null; seq: number | null; data: Record<string, unknown>; server_ts: boolean | null;
  }>(
    // Every pack holds a reading at its ts_last (at or after \`since\`), so the newest N readings are
    // all in the N packs with the newest ts_last: only those are unpacked. seq is a bigint; every
    // value ingest accepts is a safe integer, which float8 holds exactly.
    `SELECT p.device_id, p.type, r.ts, p.kind, r.event, r.seq::float8 AS seq, r.data, r.server_ts
     FROM (SELECT device_id, type, kind, readings FROM reading_packs ${where} ORDER BY ts_last DESC LIMIT $${n - 1}) p,
       json_to_recordset(p.readings) AS r(ts float8, seq bigint, event text, data jsonb, server_ts boolean)
     WHERE $${n}::float8 IS NULL OR r.ts >= $${n}::float8
     ORDER BY r.ts DESC LIMIT $${n - 1}`,
    params,
  );
  return rows.map((r) => ({ deviceId: r.device_id, type: r.type, ts: new Date(r.ts), kind: r.kind, event: r.event, seq: r.seq, data: r.data, serverTs: r.server_ts === true }));
}

export async function countReadingsByType(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ type: string; n: number }>('SELECT type, sum(n)::int AS n FROM reading_packs GROUP BY type');
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

/** Deletes readings older than the retention window (a pack once its newest is); returns how many went. */
export async function pruneReadings(db: Queryable, olderThan: Date): Promise<number> {
  const { rows } = await db.query<{ n: number }>('WITH gone AS (DELETE FROM reading_packs WHERE ts_last < $1 RETURNING n) SELECT coalesce(sum(n), 0)::int AS n FROM gone', [olderThan.toISOString()]);
  return rows[0]?.n ?? 0;
}
