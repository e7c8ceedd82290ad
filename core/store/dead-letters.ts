import type { Queryable } from './db.ts';

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

export async function insertDeadLetters(db: Queryable, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await db.query(
    `INSERT INTO dead_letters (at, device_id, topic, reason, detail, payload, payload_bytes)
     SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])`,
    [
      letters.map((l) => l.at.toISOString()),
      letters.map((l) => l.deviceId),
      letters.map((l) => l.topic),
      letters.map((l) => l.reason),
      letters.map((l) => l.detail),
      // PostgreSQL text cannot hold U+0000.
      letters.map((l) => l.payload?.replaceAll('\u0000', '\uFFFD') ?? null),
      letters.map((l) => l.payloadBytes),
    ],
  );
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
