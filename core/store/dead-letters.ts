import { storableText } from '../storable.ts';
import type { Queryable } from './db.ts';
import { withCheckpoint, type Checkpoint } from './checkpoints.ts';

export interface DeadLetter {
  at: Date;
  deviceId: string | null;
  topic: string | null;
  reason: string;
  detail: string | null;
  /** The raw payload, truncated, as UTF-8 text (binary bytes show as U+FFFD). */
  payload: string | null;
  payloadBytes: number;
}

/** Text columns hold no U+0000 or unpaired surrogate: a dead letter records what was wrong, so it must always fit. */
const text = (s: string | null) => (s === null ? null : storableText(s));

/** What a dead letter weighs on disk, roughly: its text plus the row's own overhead. */
export const deadLetterBytes = (l: DeadLetter) =>
  64 + Buffer.byteLength(l.payload ?? '') + Buffer.byteLength(l.detail ?? '') + Buffer.byteLength(l.topic ?? '') + Buffer.byteLength(l.deviceId ?? '') + l.reason.length;

/** Writes dead letters and, with `checkpoint`, the journal position they reach, as one statement. */
export async function insertDeadLetters(db: Queryable, letters: DeadLetter[], checkpoint?: Checkpoint): Promise<void> {
  if (letters.length === 0 && !checkpoint) return;
  const insert = `INSERT INTO dead_letters (at, device_id, topic, reason, detail, payload, payload_bytes, bytes)
     SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[])`;
  const params = [
    letters.map((l) => l.at.toISOString()),
    letters.map((l) => text(l.deviceId)),
    letters.map((l) => text(l.topic)),
    letters.map((l) => storableText(l.reason)),
    letters.map((l) => text(l.detail)),
    letters.map((l) => text(l.payload)),
    letters.map((l) => Math.min(l.payloadBytes, 2 ** 31 - 1)),
    letters.map(deadLetterBytes),
  ];
  await db.query(...withCheckpoint(insert, params, checkpoint));
}

export async function listDeadLetters(db: Queryable, filter: { deviceId?: string; reason?: string; limit?: number } = {}): Promise<(DeadLetter & { id: number })[]> {
  const { rows } = await db.query<{ id: string; at: Date; device_id: string | null; topic: string | null; reason: string; detail: string | null; payload: string | null; payload_bytes: number }>(
    `SELECT * FROM dead_letters WHERE ($1::text IS NULL OR device_id = $1) AND ($2::text IS NULL OR reason = $2)
     ORDER BY id DESC LIMIT $3`,
    [filter.deviceId ?? null, filter.reason ?? null, filter.limit ?? 100],
  );
  return rows.map((r) => ({
    id: Number(r.id), at: r.at, deviceId: r.device_id, topic: r.topic, reason: r.reason, detail: r.detail, payload: r.payload, payloadBytes: r.payload_bytes,
  }));
}

/** Total weight of the dead letters kept (see deadLetterBytes). */
export async function deadLetterTotalBytes(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string | null }>('SELECT sum(bytes)::text AS n FROM dead_letters');
  return Number(rows[0]?.n ?? 0);
}

/**
 * The retention of dead letters: older than `olderThan` go and, with `keepBytes`, the oldest until
 * at most that much is kept (a scan of the table: only when the bound is passed). Returns how many
 * rows and bytes went.
 */
export async function pruneDeadLetters(db: Queryable, olderThan: Date, keepBytes?: number): Promise<{ rows: number; bytes: number }> {
  const cut =
    keepBytes === undefined
      ? ''
      : `OR id <= (SELECT coalesce(max(id), 0) FROM (SELECT id, sum(bytes) OVER (ORDER BY id DESC) AS newer FROM dead_letters) t WHERE newer > $2)`;
  const { rows } = await db.query<{ rows: string; bytes: string | null }>(
    `WITH gone AS (DELETE FROM dead_letters WHERE at < $1 ${cut} RETURNING bytes)
     SELECT count(*)::text AS rows, sum(bytes)::text AS bytes FROM gone`,
    keepBytes === undefined ? [olderThan.toISOString()] : [olderThan.toISOString(), keepBytes],
  );
  return { rows: Number(rows[0]?.rows ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
}
