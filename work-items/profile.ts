import { FINISHED_SQL } from '../core/domain.ts';
import type { Queryable } from '../core/store/db.ts';

/**
 * 网格画像: how a grid (or a whole community) is served. Computed from the items, their timelines
 * and the alarms, in SQL, on demand.
 */
export interface Profile {
  scope: { kind: 'grid' | 'community'; id: string };
  items: { kind: string; severity: string; total: number; open: number; closed: number }[];
  meanAcceptS: number | null;
  meanCloseS: number | null;
  /** Items that missed an SLA deadline (escalated by the platform or recorded late) over all items. */
  slaBreachRate: number | null;
  autoClosed: number;
  repeatDevices: { deviceId: string; ruleId: string; alarms: number }[];
  rating: { count: number; overall: number | null; speed: number | null; service: number | null };
  revisits: Record<string, number>;
  whistles: { department: string; count: number; meanReportInS: number | null; late: number }[];
}

export async function gridProfile(db: Queryable, kind: 'grid' | 'community', id: string): Promise<Profile> {
  const col = kind === 'grid' ? 'grid_id' : 'community_id';
  const q = async <T>(sql: string) => (await db.query<T>(sql, [id])).rows;
  const items = await q<{ kind: string; severity: string; total: number; open: number; closed: number }>(
    `SELECT kind, severity, count(*)::int AS total,
            count(*) FILTER (WHERE status NOT IN ${FINISHED_SQL})::int AS open,
            count(*) FILTER (WHERE status = 'closed')::int AS closed
     FROM work_items WHERE ${col} = $1 GROUP BY kind, severity ORDER BY kind, severity`,
  );
  const [times] = await q<{ accept_s: number | null; close_s: number | null; n: number; breached: number; auto: number }>(
    `SELECT avg(extract(epoch FROM accepted_at - created_at))::float AS accept_s,
            avg(extract(epoch FROM closed_at - created_at)) FILTER (WHERE status = 'closed')::float AS close_s,
            count(*)::int AS n,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM work_item_events e WHERE e.item_id = i.id AND e.actor_role = 'platform' AND e.action IN ('escalate','sla_missed')))::int AS breached,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM work_item_events e WHERE e.item_id = i.id AND e.action = 'auto_close'))::int AS auto
     FROM work_items i WHERE ${col} = $1`,
  );
  const repeatDevices = await q<{ deviceId: string; ruleId: string; alarms: number }>(
    `SELECT device_id AS "deviceId", rule_id AS "ruleId", count(*)::int AS alarms FROM alarms
     WHERE ${col} = $1 AND raised_at IS NOT NULL GROUP BY device_id, rule_id HAVING count(*) > 1 ORDER BY alarms DESC, device_id LIMIT 20`,
  );
  const [rating] = await q<{ count: number; overall: number | null; speed: number | null; service: number | null }>(
    `SELECT count(rating)::int AS count, avg((rating->>'overall')::float) AS overall, avg((rating->>'speed')::float) AS speed, avg((rating->>'service')::float) AS service
     FROM work_items WHERE ${col} = $1 AND rating IS NOT NULL`,
  );
  const revisits = await q<{ result: string; n: number }>(`SELECT revisit->>'result' AS result, count(*)::int AS n FROM work_items WHERE ${col} = $1 AND revisit IS NOT NULL GROUP BY 1`);
  const whistles = await q<{ department: string; count: number; meanReportInS: number | null; late: number }>(
    `SELECT w.department, count(*)::int AS count, avg(extract(epoch FROM w.reported_at - w.whistled_at))::float AS "meanReportInS", count(*) FILTER (WHERE w.late)::int AS late
     FROM work_item_whistles w JOIN work_items i ON i.id = w.item_id WHERE i.${col} = $1 GROUP BY w.department ORDER BY w.department`,
  );
  return {
    scope: { kind, id },
    items,
    meanAcceptS: times?.accept_s ?? null,
    meanCloseS: times?.close_s ?? null,
    slaBreachRate: times && times.n ? times.breached / times.n : null,
    autoClosed: times?.auto ?? 0,
    repeatDevices,
    rating: rating ?? { count: 0, overall: null, speed: null, service: null },
    revisits: Object.fromEntries(revisits.map((r) => [r.result, r.n])),
    whistles,
  };
}
