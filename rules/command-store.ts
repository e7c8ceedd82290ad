import type { Queryable } from '../core/store/db.ts';

export type CommandStatus = 'sent' | 'acked' | 'failed' | 'timeout';

export interface CommandRecord {
  id: string;
  alarmId: string;
  deviceId: string;
  name: string;
  params: Record<string, unknown>;
  sentAt: number;
}

export interface CommandView {
  id: string;
  alarmId: string;
  deviceId: string;
  name: string;
  params: Record<string, unknown>;
  sentAt: string;
  status: CommandStatus;
  answeredAt: string | null;
  /** The device's ack as it sent it, or null. */
  answer: unknown;
}

export async function insertCommands(db: Queryable, cmds: CommandRecord[]): Promise<void> {
  if (cmds.length === 0) return;
  await db.query(
    `INSERT INTO alarm_commands (id, alarm_id, device_id, name, params, sent_at, status)
     SELECT id, alarm_id, device_id, name, params, sent_at, 'sent' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])
       AS c(id, alarm_id, device_id, name, params, sent_at)
     ON CONFLICT (id) DO NOTHING`,
    [cmds.map((c) => c.id), cmds.map((c) => c.alarmId), cmds.map((c) => c.deviceId), cmds.map((c) => c.name), cmds.map((c) => JSON.stringify(c.params)), cmds.map((c) => new Date(c.sentAt).toISOString())],
  );
}

/** Records a device's answer (or its silence): only a command still waiting can be answered. */
export async function answerCommand(db: Queryable, a: { id: string; deviceId: string; status: Exclude<CommandStatus, 'sent'>; at: number; answer?: unknown }): Promise<boolean> {
  const r = await db.query(
    `UPDATE alarm_commands SET status = $3, answered_at = $4, answer = $5 WHERE id = $1 AND device_id = $2 AND status = 'sent'`,
    [a.id, a.deviceId, a.status, new Date(a.at).toISOString(), a.answer === undefined ? null : JSON.stringify(a.answer)],
  );
  return (r.affectedRows ?? 0) > 0;
}

export async function listCommands(db: Queryable, alarmId: string): Promise<CommandView[]> {
  const { rows } = await db.query<{ id: string; alarm_id: string; device_id: string; name: string; params: Record<string, unknown>; sent_at: Date; status: CommandStatus; answered_at: Date | null; answer: unknown }>(
    'SELECT * FROM alarm_commands WHERE alarm_id = $1 ORDER BY sent_at, id',
    [alarmId],
  );
  return rows.map((r) => ({ id: r.id, alarmId: r.alarm_id, deviceId: r.device_id, name: r.name, params: r.params, sentAt: r.sent_at.toISOString(), status: r.status, answeredAt: r.answered_at?.toISOString() ?? null, answer: r.answer }));
}

/** Commands still waiting for an answer (after a restart, their timeouts are re-armed). */
export async function loadWaitingCommands(db: Queryable): Promise<{ id: string; deviceId: string; sentAt: number }[]> {
  const { rows } = await db.query<{ id: string; device_id: string; sent_at: Date }>(`SELECT id, device_id, sent_at FROM alarm_commands WHERE status = 'sent'`);
  return rows.map((r) => ({ id: r.id, deviceId: r.device_id, sentAt: r.sent_at.getTime() }));
}
