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
  /** 完成率, 及时率, 好评率, 满意率: overall and per kind of item (definitions: README "网格画像"). */
  rates: Rates & { byKind: Record<string, Rates> };
  /** Where items were closed: 小事不出网格、大事不出社区、难事不出街道. */
  closedAt: Record<'grid' | 'community' | 'street', number>;
  /** Each grid's sensors next to its items: online rate, devices silent, low battery. */
  deviceHealth: DeviceHealth[];
}

/** A rate with the counts it is made of (a client shows `12/15`, not only 80 %). */
export interface Rate {
  rate: number | null;
  of: number;
  count: number;
}
export interface Rates {
  /** 完成率: items closed over items opened (merged duplicates are not items of their own). */
  completion: Rate;
  /** 及时率: closed items that never missed a deadline over closed items. */
  timeliness: Rate;
  /** 好评率: ratings of 4★ or more over ratings. */
  goodRating: Rate;
  /** 满意率: satisfied return visits over return visits. */
  satisfaction: Rate;
}
export interface DeviceHealth {
  gridId: string;
  communityId: string | null;
  devices: number;
  online: number;
  onlineRate: number | null;
  /** Devices whose "no report" rule (silence kind) is raised. */
  silent: number;
  /** Devices whose low-battery rule is raised. */
  lowBattery: number;
}

/** Which rules say a device is silent or low on battery (from the catalog: a kind and a property, not names). */
export interface HealthRules {
  silence: string[];
  battery: string[];
}

const rate = (count: number, of: number): Rate => ({ count, of, rate: of ? count / of : null });

/** An item that was folded into another (a storm's, a dispatcher's merge) is a duplicate, not an item. */
const MERGED = `EXISTS (SELECT 1 FROM work_item_events e WHERE e.item_id = i.id AND e.action = 'merge' AND e.to_status = 'closed')`;
/** An item that missed a deadline: the platform escalated it or recorded the miss, or it was resolved after its resolve deadline. */
const BREACHED = `(EXISTS (SELECT 1 FROM work_item_events e WHERE e.item_id = i.id AND e.actor_role = 'platform' AND e.action IN ('escalate','sla_missed'))
  OR (i.resolved_at IS NOT NULL AND i.resolve_due IS NOT NULL AND i.resolved_at > i.resolve_due))`;

export async function gridProfile(db: Queryable, kind: 'grid' | 'community', id: string, healthRules: HealthRules): Promise<Profile> {
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
  const rateRows = await q<{ kind: string | null; opened: number; closed: number; timely: number; rated: number; good: number; visits: number; satisfied: number }>(
    `SELECT kind, count(*)::int AS opened,
            count(*) FILTER (WHERE status = 'closed')::int AS closed,
            count(*) FILTER (WHERE status = 'closed' AND NOT ${BREACHED})::int AS timely,
            count(rating)::int AS rated,
            count(*) FILTER (WHERE (rating->>'overall')::int >= 4)::int AS good,
            count(revisit)::int AS visits,
            count(*) FILTER (WHERE revisit->>'result' = 'satisfied')::int AS satisfied
     FROM work_items i WHERE ${col} = $1 AND NOT ${MERGED} GROUP BY GROUPING SETS ((kind), ())`,
  );
  const toRates = (r: (typeof rateRows)[number] | undefined): Rates => ({
    completion: rate(r?.closed ?? 0, r?.opened ?? 0),
    timeliness: rate(r?.timely ?? 0, r?.closed ?? 0),
    goodRating: rate(r?.good ?? 0, r?.rated ?? 0),
    satisfaction: rate(r?.satisfied ?? 0, r?.visits ?? 0),
  });
  const levels = await q<{ level: 'grid' | 'community' | 'street'; n: number }>(
    `SELECT escalation_level AS level, count(*)::int AS n FROM work_items i WHERE ${col} = $1 AND status = 'closed' AND NOT ${MERGED} GROUP BY 1`,
  );
  const health = (await db.query<DeviceHealth>(
    `SELECT g.id AS "gridId", g.parent_id AS "communityId", count(DISTINCT d.id)::int AS devices, count(DISTINCT d.id) FILTER (WHERE d.online)::int AS online,
            count(DISTINCT a.device_id) FILTER (WHERE a.rule_id = ANY($2::text[]))::int AS silent,
            count(DISTINCT a.device_id) FILTER (WHERE a.rule_id = ANY($3::text[]))::int AS "lowBattery"
     FROM org_units g
     JOIN org_units m ON m.parent_id = g.id AND m.kind = 'micro_grid'
     JOIN org_units b ON b.parent_id = m.id AND b.kind = 'building'
     JOIN devices d ON d.building_id = b.id
     LEFT JOIN alarms a ON a.device_id = d.id AND a.state IN ('active','clearing')
     WHERE g.kind = 'grid' AND (g.id = $1 OR g.parent_id = $1) GROUP BY g.id, g.parent_id ORDER BY g.id`,
    [id, healthRules.silence, healthRules.battery],
  )).rows;
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
    rates: { ...toRates(rateRows.find((r) => r.kind === null)), byKind: Object.fromEntries(rateRows.filter((r) => r.kind !== null).map((r) => [r.kind!, toRates(r)])) },
    closedAt: { grid: 0, community: 0, street: 0, ...Object.fromEntries(levels.map((l) => [l.level, l.n])) },
    deviceHealth: health.map((h) => ({ ...h, onlineRate: h.devices ? h.online / h.devices : null })),
  };
}
