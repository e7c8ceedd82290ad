import type { Scope } from '../core/reach.ts';
import type { Queryable } from '../core/store/db.ts';
import { page, Where } from '../core/store/page.ts';
import type { AlarmRecord, AlarmState, AlarmView, Evidence } from './alarm.ts';

/** SQL for alarm rows. The unique index `alarms_one_open` is what makes an alarm one of a kind. */

const ts = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Writes a new alarm, or, when another writer already holds the open alarm of this (device, rule),
 * adds this one's count to it. Returns the row's id and count and whether this call created it.
 */
export async function insertAlarm(db: Queryable, a: AlarmRecord, count: number): Promise<{ id: string; count: number; state: AlarmState; inserted: boolean; incidentId: string | null }> {
  const p = a.placement;
  const { rows } = await db.query<{ id: string; count: number; state: AlarmState; inserted: boolean; incident_id: string | null }>(
    `INSERT INTO alarms (id, device_id, type, rule_id, state, severity, item, whistle, count, since, pending_since, raised_at, last_seen_at, cleared_at,
                         building_id, micro_grid_id, grid_id, community_id, storm_group, storm_scope_id, params, evidence)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22)
     ON CONFLICT (device_id, rule_id) WHERE state <> 'cleared' DO UPDATE SET
       count = alarms.count + EXCLUDED.count,
       last_seen_at = GREATEST(alarms.last_seen_at, EXCLUDED.last_seen_at),
       whistle = ARRAY(SELECT DISTINCT unnest(alarms.whistle || EXCLUDED.whistle)),
       state = CASE WHEN alarms.state = 'pending' AND EXCLUDED.state <> 'pending' THEN EXCLUDED.state ELSE alarms.state END,
       raised_at = COALESCE(alarms.raised_at, EXCLUDED.raised_at)
     RETURNING id, count, state, (xmax = 0) AS inserted, incident_id`,
    [
      a.id, a.deviceId, a.type, a.ruleId, a.state, a.severity, a.item, a.whistle, count, ts(a.since), ts(a.pendingSince), ts(a.raisedAt), ts(a.lastSeenAt), ts(a.clearedAt),
      p.buildingId, p.microGridId, p.gridId, p.communityId, a.storm.group, a.storm.scopeId, JSON.stringify(a.params), JSON.stringify(a.evidence),
    ],
  );
  const r = rows[0]!;
  return { id: r.id, count: r.count, state: r.state, inserted: r.inserted, incidentId: r.incident_id };
}

/** Writes an alarm's current state and adds `delta` repeats. Returns the stored count, or undefined if the row is gone. */
export async function updateAlarm(db: Queryable, a: AlarmRecord, delta: number): Promise<{ count: number; incidentId: string | null } | undefined> {
  const { rows } = await db.query<{ count: number; incident_id: string | null }>(
    `UPDATE alarms SET state = $2, count = count + $3, since = $4, raised_at = COALESCE(raised_at, $5), last_seen_at = GREATEST(last_seen_at, $6),
       cleared_at = $7, whistle = ARRAY(SELECT DISTINCT unnest(whistle || $8::text[])), params = $9, evidence = $10
     WHERE id = $1 RETURNING count, incident_id`,
    [a.id, a.state, delta, ts(a.since), ts(a.raisedAt), ts(a.lastSeenAt), ts(a.clearedAt), a.whistle, JSON.stringify(a.params), JSON.stringify(a.evidence)],
  );
  return rows[0] && { count: rows[0].count, incidentId: rows[0].incident_id };
}

/** Removes a pending alarm whose hold failed (it never became an alarm). */
export async function deletePendingAlarm(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM alarms WHERE id = $1 AND state = 'pending'`, [id]);
}

interface AlarmRow {
  id: string; device_id: string; type: string; rule_id: string; state: AlarmState; severity: string | null; item: 'work_order' | 'ticket' | null;
  whistle: string[]; count: number; since: Date; pending_since: Date | null; raised_at: Date | null; last_seen_at: Date; cleared_at: Date | null;
  building_id: string; micro_grid_id: string | null; grid_id: string | null; community_id: string | null; storm_group: string; storm_scope_id: string | null;
  incident_id: string | null; params: Record<string, unknown>; evidence: Evidence;
}

const isoOrNull = (d: Date | null) => d?.toISOString() ?? null;

export function rowToView(r: AlarmRow): AlarmView {
  return {
    id: r.id, deviceId: r.device_id, type: r.type, ruleId: r.rule_id, state: r.state, severity: r.severity, item: r.item, whistle: r.whistle, count: r.count,
    pendingSince: isoOrNull(r.pending_since), raisedAt: isoOrNull(r.raised_at), lastSeenAt: r.last_seen_at.toISOString(), clearedAt: isoOrNull(r.cleared_at),
    buildingId: r.building_id, microGridId: r.micro_grid_id, gridId: r.grid_id, communityId: r.community_id, incidentId: r.incident_id, params: r.params, evidence: r.evidence,
  };
}

/** The open alarms (pending, active, clearing) with what the engine needs to resume them. */
export async function loadOpenAlarms(db: Queryable, deviceId?: string): Promise<(AlarmView & { since: string })[]> {
  const { rows } = await db.query<AlarmRow>(`SELECT * FROM alarms WHERE state <> 'cleared' AND ($1::text IS NULL OR device_id = $1)`, [deviceId ?? null]);
  return rows.map((r) => ({ ...rowToView(r), since: r.since.toISOString() }));
}

export interface AlarmFilter {
  state?: AlarmState | 'open';
  deviceId?: string;
  ruleId?: string;
  gridId?: string;
  communityId?: string;
  severity?: string;
  incidentId?: string;
  /** The reader's reach (core/reach.ts). */
  scope?: Scope;
  limit?: number;
  offset?: number;
}

export async function listAlarms(db: Queryable, f: AlarmFilter): Promise<{ items: AlarmView[]; total: number }> {
  const w = new Where();
  if (f.state === 'open') w.raw(`state <> 'cleared'`);
  else if (f.state) w.add('state = ?', f.state);
  if (f.deviceId) w.add('device_id = ?', f.deviceId);
  if (f.ruleId) w.add('rule_id = ?', f.ruleId);
  if (f.gridId) w.add('grid_id = ?', f.gridId);
  if (f.communityId) w.add('community_id = ?', f.communityId);
  if (f.severity) w.add('severity = ?', f.severity);
  if (f.incidentId) w.add('incident_id = ?', f.incidentId);
  w.scope(f.scope, { grid: 'grid_id', community: 'community_id' });
  const { rows, total } = await page<AlarmRow>(db, 'alarms', w, 'COALESCE(raised_at, since) DESC, id', f.limit ?? 50, f.offset ?? 0);
  return { items: rows.map(rowToView), total };
}

export async function getAlarm(db: Queryable, id: string): Promise<AlarmView | undefined> {
  const { rows } = await db.query<AlarmRow>('SELECT * FROM alarms WHERE id = $1', [id]);
  return rows[0] && rowToView(rows[0]);
}
