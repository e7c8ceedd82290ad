import type { Scope } from '../core/reach.ts';
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../core/store/db.ts';
import { page, Where } from '../core/store/page.ts';

/**
 * Storm grouping in SQL, so two ingest instances agree: an alarm joins the open incident of its
 * group and scope, or opens one with the other open alarms of that group raised within the window
 * from other devices. `incidents_one_open` keeps one open incident per (group, scope).
 */
export interface Incident {
  id: string;
  groupKey: string;
  scopeKind: string;
  scopeId: string;
  state: 'open' | 'closed';
  openedAt: string;
  lastAt: string;
  closedAt: string | null;
  deviceIds: string[];
  gridId: string | null;
  communityId: string | null;
}

type Row = { id: string; group_key: string; scope_kind: string; scope_id: string; state: 'open' | 'closed'; opened_at: Date; last_at: Date; closed_at: Date | null; device_ids: string[]; grid_id: string | null; community_id: string | null };
const toIncident = (r: Row): Incident => ({
  id: r.id, groupKey: r.group_key, scopeKind: r.scope_kind, scopeId: r.scope_id, state: r.state, openedAt: r.opened_at.toISOString(), lastAt: r.last_at.toISOString(),
  closedAt: r.closed_at?.toISOString() ?? null, deviceIds: r.device_ids, gridId: r.grid_id, communityId: r.community_id,
});

export interface StormCandidate {
  alarmId: string;
  deviceId: string;
  group: string;
  scopeKind: string;
  scopeId: string;
  windowS: number;
  at: number;
  gridId: string | null;
  communityId: string | null;
}

/** The open incident of a group and scope ($1, $2). */
const OPEN_INCIDENT = `group_key = $1 AND scope_id = $2 AND state = 'open'`;
/** A candidate's peers: alarms of its group and scope ($1, $2) not yet in an incident, from other devices ($3), raised within the window ($5 s) of its time ($4). */
const PEER_ALARMS = `storm_group = $1 AND storm_scope_id = $2 AND state IN ('active','clearing') AND incident_id IS NULL
  AND device_id <> $3 AND raised_at BETWEEN $4::timestamptz - make_interval(secs => $5) AND $4::timestamptz + make_interval(secs => $5)`;

/**
 * What `joinStorm` would find, in one read: the incident the alarm is already in (gathered as a
 * peer), or whether its group and scope have an open incident or a peer alarm in the window.
 * Almost every alarm has none of these; the read lets it skip the transaction, which holds the
 * store across several round trips (every other query, an alarm's work item among them, waits
 * behind it). A peer that comes later still finds this alarm and opens the incident with it.
 */
export async function stormPossible(db: Queryable, c: StormCandidate): Promise<{ already: string | null; possible: boolean }> {
  const { rows } = await db.query<{ already: string | null; possible: boolean }>(
    `SELECT (SELECT incident_id FROM alarms WHERE id = $6) AS already,
       EXISTS (SELECT 1 FROM incidents WHERE ${OPEN_INCIDENT}) OR EXISTS (SELECT 1 FROM alarms WHERE ${PEER_ALARMS}) AS possible`,
    [c.group, c.scopeId, c.deviceId, new Date(c.at).toISOString(), c.windowS, c.alarmId],
  );
  return rows[0]!;
}

/**
 * Puts a newly raised alarm into its storm, if it has one. Returns the incident id, and the incident
 * with what happened to it when it changed (an alarm already gathered in as a peer changes nothing).
 */
export async function joinStorm(db: Queryable, c: StormCandidate): Promise<{ incidentId: string; changed?: { incident: Incident; event: 'opened' | 'updated' } } | undefined> {
  const at = new Date(c.at).toISOString();
  const already = (await db.query<{ incident_id: string | null }>('SELECT incident_id FROM alarms WHERE id = $1', [c.alarmId])).rows[0]?.incident_id;
  if (already) return { incidentId: already };
  const openIncident = async () => (await db.query<{ id: string }>(`SELECT id FROM incidents WHERE ${OPEN_INCIDENT}`, [c.group, c.scopeId])).rows[0]?.id;
  let incidentId = await openIncident();
  let event: 'opened' | 'updated' = 'updated';
  if (!incidentId) {
    const peers = await db.query<{ id: string; device_id: string }>(`SELECT id, device_id FROM alarms WHERE ${PEER_ALARMS}`, [c.group, c.scopeId, c.deviceId, at, c.windowS]);
    if (peers.rows.length === 0) return undefined;
    const id = `inc-${randomUUID()}`;
    const created = await db.query<{ id: string }>(
      `INSERT INTO incidents (id, group_key, scope_kind, scope_id, state, opened_at, last_at, device_ids, grid_id, community_id)
       VALUES ($1, $2, $3, $4, 'open', $5, $5, '{}', $6, $7)
       ON CONFLICT (group_key, scope_id) WHERE state = 'open' DO NOTHING RETURNING id`,
      [id, c.group, c.scopeKind, c.scopeId, at, c.gridId, c.communityId],
    );
    if (created.rows[0]) {
      incidentId = id;
      event = 'opened';
      await db.query(`UPDATE alarms SET incident_id = $1 WHERE id = ANY($2::text[])`, [id, peers.rows.map((p) => p.id)]);
    } else {
      incidentId = (await openIncident())!; // another writer opened it first
    }
  }
  await db.query(`UPDATE alarms SET incident_id = $1 WHERE id = $2`, [incidentId, c.alarmId]);
  const { rows } = await db.query<Row>(
    `UPDATE incidents SET last_at = GREATEST(last_at, $2),
       device_ids = ARRAY(SELECT DISTINCT device_id FROM alarms WHERE incident_id = $1 ORDER BY device_id)
     WHERE id = $1 RETURNING *`,
    [incidentId, at],
  );
  return { incidentId, changed: { incident: toIncident(rows[0]!), event } };
}

/** Closes an incident once none of its alarms is open any more. */
export async function closeIncidentIfDone(db: Queryable, incidentId: string, at: number): Promise<Incident | undefined> {
  const { rows } = await db.query<Row>(
    `UPDATE incidents SET state = 'closed', closed_at = $2
     WHERE id = $1 AND state = 'open' AND NOT EXISTS (SELECT 1 FROM alarms WHERE incident_id = $1 AND state <> 'cleared')
     RETURNING *`,
    [incidentId, new Date(at).toISOString()],
  );
  return rows[0] && toIncident(rows[0]);
}

export async function listIncidents(db: Queryable, f: { state?: 'open' | 'closed'; scopeId?: string; scope?: Scope; limit?: number; offset?: number }): Promise<{ items: Incident[]; total: number }> {
  const w = new Where();
  if (f.state) w.add('state = ?', f.state);
  if (f.scopeId) w.add('scope_id = ?', f.scopeId);
  w.scope(f.scope, { grid: 'grid_id', community: 'community_id' });
  const { rows, total } = await page<Row>(db, 'incidents', w, 'opened_at DESC, id', f.limit ?? 50, f.offset ?? 0);
  return { items: rows.map(toIncident), total };
}

export async function getIncident(db: Queryable, id: string): Promise<Incident | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM incidents WHERE id = $1', [id]);
  return rows[0] && toIncident(rows[0]);
}
