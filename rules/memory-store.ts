import type { Queryable } from '../core/store/db.ts';

/** What a rule kind remembers between alarms (count windows, repeats by floor), so a restart forgets nothing. */
export type RuleMemory = Record<string, unknown>;


export async function saveMemory(db: Queryable, rows: { deviceId: string; ruleId: string; data: RuleMemory; at: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO rule_memory (device_id, rule_id, data, updated_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[])
     ON CONFLICT (device_id, rule_id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at`,
    [rows.map((r) => r.deviceId), rows.map((r) => r.ruleId), rows.map((r) => JSON.stringify(r.data)), rows.map((r) => new Date(r.at).toISOString())],
  );
}

export async function loadMemory(db: Queryable, deviceId?: string): Promise<{ deviceId: string; ruleId: string; data: RuleMemory }[]> {
  const { rows } = await db.query<{ device_id: string; rule_id: string; data: RuleMemory }>('SELECT device_id, rule_id, data FROM rule_memory WHERE $1::text IS NULL OR device_id = $1', [deviceId ?? null]);
  return rows.map((r) => ({ deviceId: r.device_id, ruleId: r.rule_id, data: r.data }));
}
