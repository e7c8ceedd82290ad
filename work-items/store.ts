import { FINISHED_SQL, type ItemKind, type Level, type Severity, type Status } from '../core/domain.ts';
import type { Queryable } from '../core/store/db.ts';
import type { Scope, ScopeColumns } from '../core/reach.ts';
import { page, Where } from '../core/store/page.ts';

/** SQL for work items, their timeline and whistles. */

export interface WorkItem {
  id: string;
  kind: ItemKind;
  status: Status;
  severity: Severity;
  category: string | null;
  title: string;
  description: string | null;
  /** What raised it: a sensor's alarm, a resident (一键报修, 事件上报), a grid worker's patrol, staff or a dispatcher. */
  source: 'alarm' | 'resident' | 'staff' | 'patrol';
  sourceKey: string | null;
  alarmId: string | null;
  incidentId: string | null;
  deviceId: string | null;
  ruleId: string | null;
  buildingId: string | null;
  microGridId: string | null;
  gridId: string | null;
  communityId: string | null;
  streetId: string | null;
  location: Record<string, unknown>;
  reporterId: string | null;
  assigneeId: string | null;
  escalationLevel: Level;
  count: number;
  autoClose: boolean;
  verifyS: number;
  evidence: Record<string, unknown>;
  photos: string[];
  acceptDue: string | null;
  resolveDue: string | null;
  reminders: number;
  createdAt: string;
  acceptedAt: string | null;
  resolvedAt: string | null;
  closedAt: string | null;
  rating: { overall: number; speed: number; service: number; comment?: string; at: string } | null;
  revisit: { result: 'satisfied' | 'fair' | 'unsatisfied'; note?: string; at: string; by: string } | null;
  version: number;
}

export interface TimelineEntry {
  seq: number;
  at: string;
  actorId: string;
  actorRole: string;
  action: string;
  fromStatus: string | null;
  toStatus: string | null;
  note: string | null;
  photos: string[];
  data: Record<string, unknown>;
}

export interface Whistle {
  department: string;
  whistledAt: string;
  reportDue: string;
  reportedAt: string | null;
  finishedAt: string | null;
  late: boolean;
}

const COLUMNS: [keyof WorkItem, string][] = [
  ['id', 'id'], ['kind', 'kind'], ['status', 'status'], ['severity', 'severity'], ['category', 'category'], ['title', 'title'], ['description', 'description'],
  ['source', 'source'], ['sourceKey', 'source_key'], ['alarmId', 'alarm_id'], ['incidentId', 'incident_id'], ['deviceId', 'device_id'], ['ruleId', 'rule_id'],
  ['buildingId', 'building_id'], ['microGridId', 'micro_grid_id'], ['gridId', 'grid_id'], ['communityId', 'community_id'], ['streetId', 'street_id'],
  ['location', 'location'], ['reporterId', 'reporter_id'], ['assigneeId', 'assignee_id'], ['escalationLevel', 'escalation_level'], ['count', 'count'],
  ['autoClose', 'auto_close'], ['verifyS', 'verify_s'], ['evidence', 'evidence'], ['photos', 'photos'], ['acceptDue', 'accept_due'], ['resolveDue', 'resolve_due'],
  ['reminders', 'reminders'], ['createdAt', 'created_at'], ['acceptedAt', 'accepted_at'], ['resolvedAt', 'resolved_at'], ['closedAt', 'closed_at'],
  ['rating', 'rating'], ['revisit', 'revisit'], ['version', 'version'],
];
const JSON_COLUMNS = new Set(['location', 'evidence', 'photos', 'rating', 'revisit']);

function toItem(r: Record<string, unknown>): WorkItem {
  const out: Record<string, unknown> = {};
  for (const [k, c] of COLUMNS) {
    const v = r[c];
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  return out as unknown as WorkItem;
}

/** A timeline entry's columns (after item_id and seq), in the order of `entryParams`. */
const ENTRY_COLUMNS = 'at, actor_id, actor_role, action, from_status, to_status, note, photos, data';
const entryParams = (e: Omit<TimelineEntry, 'seq'>) => [e.at, e.actorId, e.actorRole, e.action, e.fromStatus, e.toStatus, e.note, JSON.stringify(e.photos), JSON.stringify(e.data)];

// A JSON column's null is SQL NULL (a rating not given), never the JSON value null.
const param = (k: string, v: unknown) => (v === undefined || v === null ? null : JSON_COLUMNS.has(k) ? JSON.stringify(v) : v);

/**
 * Inserts an item unless an open one with the same source key exists; then that one's count goes
 * up instead. A new item gets `first` as its timeline's first entry in the same statement (one
 * round trip to the store: an alarm's item is announced that much sooner under load). Returns the
 * row and whether it is new.
 */
export async function insertOrCount(db: Queryable, item: WorkItem, first: Omit<TimelineEntry, 'seq'>): Promise<{ item: WorkItem; created: boolean }> {
  const cols = COLUMNS.map(([, c]) => c);
  const n = cols.length;
  const entry = entryParams(first);
  const { rows } = await db.query<Record<string, unknown> & { created: boolean }>(
    `WITH item AS (
       INSERT INTO work_items (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
       ON CONFLICT (source_key) WHERE status NOT IN ${FINISHED_SQL} AND source_key IS NOT NULL
       DO UPDATE SET count = work_items.count + 1, version = work_items.version + 1
       RETURNING *, (xmax = 0) AS created
     ), first AS (
       INSERT INTO work_item_events (item_id, seq, ${ENTRY_COLUMNS})
       SELECT id, 1, ${entry.map((_, i) => `$${n + i + 1}`).join(', ')} FROM item WHERE created
     )
     SELECT * FROM item`,
    [...COLUMNS.map(([k, c]) => param(c, item[k])), ...entry],
  );
  return { item: toItem(rows[0]!), created: rows[0]!.created };
}

/** Writes the given fields if the row is still at `version` (optimistic: two staff grabbing at once, one wins). */
export async function updateItem(db: Queryable, id: string, version: number, fields: Partial<WorkItem>): Promise<WorkItem | undefined> {
  const sets: string[] = [];
  const params: unknown[] = [id, version];
  for (const [k, c] of COLUMNS) {
    if (!(k in fields) || k === 'id' || k === 'version') continue;
    params.push(param(c, fields[k]));
    sets.push(`${c} = $${params.length}`);
  }
  const { rows } = await db.query<Record<string, unknown>>(
    `UPDATE work_items SET ${[...sets, 'version = version + 1'].join(', ')} WHERE id = $1 AND version = $2 RETURNING *`,
    params,
  );
  return rows[0] && toItem(rows[0]);
}

/** Which of these item ids exist. */
export async function existingItemIds(db: Queryable, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM work_items WHERE id = ANY($1::text[])', [ids]);
  return new Set(rows.map((r) => r.id));
}

export async function getItem(db: Queryable, id: string): Promise<WorkItem | undefined> {
  const { rows } = await db.query<Record<string, unknown>>('SELECT * FROM work_items WHERE id = $1', [id]);
  return rows[0] && toItem(rows[0]);
}

export async function openItemBySource(db: Queryable, sourceKey: string): Promise<WorkItem | undefined> {
  return (await openItemsBySources(db, [sourceKey]))[0];
}

/**
 * The open items of several sources, oldest first (ties in the order of `sourceKeys`): one query
 * however many devices a storm has.
 */
export async function openItemsBySources(db: Queryable, sourceKeys: string[]): Promise<WorkItem[]> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT * FROM work_items WHERE source_key = ANY($1::text[]) AND status NOT IN ${FINISHED_SQL}
     ORDER BY created_at, array_position($1::text[], source_key)`,
    [sourceKeys],
  );
  return rows.map(toItem);
}

/** A source's open item, else its most recent item closed since `since` (a relapse reopens it): one query. */
export async function openOrRecentlyClosed(db: Queryable, sourceKey: string, since: string): Promise<{ open?: WorkItem; closed?: WorkItem }> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT * FROM work_items WHERE source_key = $1 AND (status NOT IN ${FINISHED_SQL} OR (status = 'closed' AND closed_at >= $2))
     ORDER BY status IN ${FINISHED_SQL}, closed_at DESC NULLS LAST LIMIT 1`,
    [sourceKey, since],
  );
  const item = rows[0] && toItem(rows[0]);
  if (!item) return {};
  return item.status === 'closed' ? { closed: item } : { open: item };
}

export async function openItems(db: Queryable): Promise<WorkItem[]> {
  const { rows } = await db.query<Record<string, unknown>>(`SELECT * FROM work_items WHERE status NOT IN ${FINISHED_SQL}`);
  return rows.map(toItem);
}

export interface ItemFilter {
  kind: ItemKind;
  status?: Status;
  severity?: string;
  gridId?: string;
  deviceId?: string;
  assigneeId?: string;
  escalationLevel?: Level;
  /** The caller's reach (core/reach.ts), added by the API. */
  scope?: Scope;
  limit?: number;
  offset?: number;
}

/** The columns of `work_items` (under `alias`, if any) the reader's reach is checked on. */
export const itemScopeColumns = (alias = ''): ScopeColumns => {
  const c = (name: string) => (alias ? `${alias}.${name}` : name);
  return { grid: c('grid_id'), community: c('community_id'), reporter: c('reporter_id'), assignee: c('assignee_id'), id: c('id') };
};

export async function listItems(db: Queryable, f: ItemFilter): Promise<{ items: WorkItem[]; total: number }> {
  const w = new Where();
  w.add('kind = ?', f.kind);
  if (f.status) w.add('status = ?', f.status);
  if (f.severity) w.add('severity = ?', f.severity);
  if (f.gridId) w.add('grid_id = ?', f.gridId);
  if (f.deviceId) w.add('device_id = ?', f.deviceId);
  if (f.assigneeId) w.add('assignee_id = ?', f.assigneeId);
  if (f.escalationLevel) w.add('escalation_level = ?', f.escalationLevel);
  w.scope(f.scope, itemScopeColumns());
  const { rows, total } = await page<Record<string, unknown>>(db, 'work_items', w, 'created_at DESC, id', f.limit ?? 50, f.offset ?? 0);
  return { items: rows.map(toItem), total };
}

/** Appends to an item's timeline (the store refuses any change to what is there). */
export async function appendEvent(db: Queryable, itemId: string, e: Omit<TimelineEntry, 'seq'>): Promise<TimelineEntry> {
  const { rows } = await db.query<{ seq: number }>(
    `INSERT INTO work_item_events (item_id, seq, ${ENTRY_COLUMNS})
     SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM work_item_events WHERE item_id = $1
     RETURNING seq`,
    [itemId, ...entryParams(e)],
  );
  return { ...e, seq: rows[0]!.seq };
}

export async function timeline(db: Queryable, itemId: string): Promise<TimelineEntry[]> {
  const { rows } = await db.query<{ seq: number; at: Date; actor_id: string; actor_role: string; action: string; from_status: string | null; to_status: string | null; note: string | null; photos: string[]; data: Record<string, unknown> }>(
    'SELECT * FROM work_item_events WHERE item_id = $1 ORDER BY seq',
    [itemId],
  );
  return rows.map((r) => ({ seq: r.seq, at: r.at.toISOString(), actorId: r.actor_id, actorRole: r.actor_role, action: r.action, fromStatus: r.from_status, toStatus: r.to_status, note: r.note, photos: r.photos, data: r.data }));
}

export async function whistles(db: Queryable, itemId: string): Promise<Whistle[]> {
  const { rows } = await db.query<{ department: string; whistled_at: Date; report_due: Date; reported_at: Date | null; finished_at: Date | null; late: boolean }>(
    'SELECT * FROM work_item_whistles WHERE item_id = $1 ORDER BY whistled_at, department',
    [itemId],
  );
  return rows.map((r) => ({ department: r.department, whistledAt: r.whistled_at.toISOString(), reportDue: r.report_due.toISOString(), reportedAt: r.reported_at?.toISOString() ?? null, finishedAt: r.finished_at?.toISOString() ?? null, late: r.late }));
}

/**
 * Whistles departments to an item; returns those newly called in. A department still at work on it
 * is left as it is; one that finished its part (or never reported in) is called in again, afresh:
 * the item came back (a relapse reopened it).
 */
export async function addWhistles(db: Queryable, itemId: string, departments: string[], at: string, reportDue: string): Promise<string[]> {
  const { rows } = await db.query<{ department: string }>(
    `INSERT INTO work_item_whistles (item_id, department, whistled_at, report_due)
     SELECT $1, d, $3, $4 FROM unnest($2::text[]) AS d
     ON CONFLICT (item_id, department) DO UPDATE SET whistled_at = EXCLUDED.whistled_at, report_due = EXCLUDED.report_due, reported_at = NULL, finished_at = NULL, late = false
       WHERE work_item_whistles.finished_at IS NOT NULL OR work_item_whistles.late
     RETURNING department`,
    [itemId, departments, at, reportDue],
  );
  return rows.map((r) => r.department);
}

export async function markWhistle(db: Queryable, itemId: string, department: string, field: 'reported_at' | 'finished_at' | 'late', at: string): Promise<boolean> {
  const set = field === 'late' ? 'late = true' : `${field} = COALESCE(${field}, $3::timestamptz)`;
  const r = await db.query(`UPDATE work_item_whistles SET ${set} WHERE item_id = $1 AND department = $2`, field === 'late' ? [itemId, department] : [itemId, department, at]);
  return (r.affectedRows ?? 0) > 0;
}

/** Whistles not yet reported in, across open items (their deadlines are re-armed after a restart). */
export async function pendingReportIns(db: Queryable): Promise<{ itemId: string; department: string; reportDue: string }[]> {
  const { rows } = await db.query<{ item_id: string; department: string; report_due: Date }>(
    `SELECT w.item_id, w.department, w.report_due FROM work_item_whistles w JOIN work_items i ON i.id = w.item_id
     WHERE w.reported_at IS NULL AND NOT w.late AND i.status NOT IN ${FINISHED_SQL}`,
  );
  return rows.map((r) => ({ itemId: r.item_id, department: r.department, reportDue: r.report_due.toISOString() }));
}

