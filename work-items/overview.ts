import { FINISHED_SQL, SEVERITIES } from '../core/domain.ts';
import { Where } from '../core/store/page.ts';
import type { Scope } from '../core/reach.ts';
import type { Queryable } from '../core/store/db.ts';
import { itemScopeColumns } from './store.ts';

/**
 * 一屏统揽 in numbers: what is burning where, and how the closed loop keeps up. Computed in SQL
 * within the reader's reach on each request (the console asks again when the event stream says
 * something moved); device presence comes from the broker, not from here.
 */
export interface Overview {
  /** Open alarms (pending, active or clearing) per grid, with the worst severity: a tile's colour. */
  alarmsByGrid: { gridId: string | null; communityId: string | null; open: number; worst: string | null }[];
  /** Open work items per grid, with the worst severity. */
  itemsByGrid: { gridId: string | null; communityId: string | null; open: number; worst: string | null }[];
  /** Open items by kind, severity and the level they sit at (网格, 社区, 街道). */
  openItems: { kind: string; severity: string; level: string; count: number }[];
  /** Since midnight China time: deadlines missed (escalated by the platform or recorded late) and escalations by anyone. */
  today: { since: string; slaBreaches: number; escalations: number; created: number; closed: number };
}

/** Midnight in China (UTC+8, no daylight saving) of the day `now` falls in. */
export function chinaMidnight(now = new Date()): Date {
  const shifted = new Date(now.getTime() + 8 * 3_600_000);
  shifted.setUTCHours(0, 0, 0, 0);
  return new Date(shifted.getTime() - 8 * 3_600_000);
}

// The worst of a group's severities, by the order they are declared in (critical first).
const SEVERITY_ARRAY = `ARRAY[${SEVERITIES.map((s) => `'${s}'`).join(',')}]::text[]`;
const WORST = `(${SEVERITY_ARRAY})[min(array_position(${SEVERITY_ARRAY}, severity))]`;

export async function overview(db: Queryable, scopes: { alarms: Scope; items: Scope; tickets: Scope }, now = new Date()): Promise<Overview> {
  const alarms = new Where();
  alarms.raw(`state <> 'cleared'`);
  alarms.scope(scopes.alarms, { grid: 'grid_id', community: 'community_id' });
  const alarmsByGrid = (await db.query<{ grid_id: string | null; community_id: string | null; open: number; worst: string | null }>(
    `SELECT grid_id, community_id, count(*)::int AS open, ${WORST} AS worst FROM alarms ${alarms} GROUP BY grid_id, community_id`,
    alarms.params,
  )).rows;

  // Work orders and tickets each within their own reach (a grid worker reads no tickets).
  const open = (kind: 'work_order' | 'ticket') => {
    const w = new Where();
    w.add('kind = ?', kind);
    w.raw(`status NOT IN ${FINISHED_SQL}`);
    w.scope(kind === 'work_order' ? scopes.items : scopes.tickets, itemScopeColumns());
    return w;
  };
  const byGrid: Overview['itemsByGrid'] = [];
  const openItems: Overview['openItems'] = [];
  for (const kind of ['work_order', 'ticket'] as const) {
    const w = open(kind);
    byGrid.push(...(await db.query<{ grid_id: string | null; community_id: string | null; open: number; worst: string | null }>(
      `SELECT grid_id, community_id, count(*)::int AS open, ${WORST} AS worst FROM work_items ${w} GROUP BY grid_id, community_id`,
      w.params,
    )).rows.map((r) => ({ gridId: r.grid_id, communityId: r.community_id, open: r.open, worst: r.worst })));
    openItems.push(...(await db.query<{ severity: string; level: string; count: number }>(
      `SELECT severity, escalation_level AS level, count(*)::int AS count FROM work_items ${w} GROUP BY severity, escalation_level ORDER BY severity, level`,
      w.params,
    )).rows.map((r) => ({ kind, ...r })));
  }
  // One tile per grid: a grid's work orders and tickets fold together.
  const tiles = new Map<string, Overview['itemsByGrid'][number]>();
  for (const r of byGrid) {
    const key = `${r.gridId}|${r.communityId}`;
    const t = tiles.get(key);
    if (!t) tiles.set(key, { ...r });
    else {
      t.open += r.open;
      t.worst = SEVERITIES.find((s) => s === t.worst || s === r.worst) ?? null;
    }
  }

  const since = chinaMidnight(now);
  const today = { since: since.toISOString(), slaBreaches: 0, escalations: 0, created: 0, closed: 0 };
  for (const kind of ['work_order', 'ticket'] as const) {
    const w = new Where();
    w.add('i.kind = ?', kind);
    w.add('e.at >= ?', since.toISOString());
    w.scope(kind === 'work_order' ? scopes.items : scopes.tickets, itemScopeColumns('i'));
    const [t] = (await db.query<{ breaches: number; escalations: number; created: number; closed: number }>(
      `SELECT count(DISTINCT e.item_id) FILTER (WHERE (e.actor_role = 'platform' AND e.action = 'escalate') OR e.action = 'sla_missed')::int AS breaches,
              count(*) FILTER (WHERE e.action = 'escalate')::int AS escalations,
              count(*) FILTER (WHERE e.seq = 1)::int AS created,
              count(*) FILTER (WHERE e.to_status = 'closed')::int AS closed
       FROM work_item_events e JOIN work_items i ON i.id = e.item_id ${w}`,
      w.params,
    )).rows;
    today.slaBreaches += t?.breaches ?? 0;
    today.escalations += t?.escalations ?? 0;
    today.created += t?.created ?? 0;
    today.closed += t?.closed ?? 0;
  }
  return {
    alarmsByGrid: alarmsByGrid.map((r) => ({ gridId: r.grid_id, communityId: r.community_id, open: r.open, worst: r.worst })),
    itemsByGrid: [...tiles.values()],
    openItems,
    today,
  };
}
