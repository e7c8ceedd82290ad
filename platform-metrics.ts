import type { Db } from './core/store/db.ts';
import type { Logger } from './core/logger.ts';
import { line } from './ingest/influx/line-protocol.ts';
import type { InfluxSink } from './ingest/influx/sink.ts';
import type { Ingest } from './ingest/ingest.ts';
import { FINISHED_SQL, SEVERITIES } from './core/domain.ts';
import type { EventBus, Extension } from './core/event-bus.ts';
import type { PlatformEvent, WorkItemEvent } from './work-items/events.ts';

/**
 * What Grafana's overview needs beyond readings, written to InfluxDB next to them (README "Time
 * series"): gauges sampled every `everyMs` (devices online by type, open alarms by severity, open
 * items by grid, ingest counters) and one point per work-item milestone (opened, accepted, closed,
 * escalated, rated) with its durations.
 */
export class PlatformMetrics implements Extension {
  readonly name = 'metrics';
  private timer: NodeJS.Timeout | undefined;
  /** Groups that had open items: once empty they get a 0, so "last" in Grafana is not stale. */
  private readonly itemGroups = new Map<string, Record<string, string | null>>();

  constructor(private readonly opts: { db: Db; ingest: Ingest; bus?: EventBus<PlatformEvent>; sink: InfluxSink; log: Logger; everyMs?: number; now?: () => number }) {}

  start(): void {
    this.opts.bus?.on(this.name, 'work_item', (e) => this.workItemEvent(e));
    this.timer = setInterval(() => void this.sample().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'platform metrics sample failed')), this.opts.everyMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    this.opts.bus?.removeListeners(this.name);
    if (this.timer) clearInterval(this.timer);
  }

  /** Writes one sample of the gauges. */
  async sample(): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    const db = this.opts.db;
    const lines: (string | undefined)[] = [];
    const devices = await db.query<{ type: string; online: number; total: number }>('SELECT type, count(*) FILTER (WHERE online)::int AS online, count(*)::int AS total FROM devices GROUP BY type');
    for (const d of devices.rows) lines.push(line('devices', { type: d.type.replaceAll('-', '_') }, { online: d.online, total: d.total, onlineRate: d.total ? d.online / d.total : 0 }, now));
    const alarms = await db.query<{ severity: string | null; n: number }>(`SELECT coalesce(severity, 'none') AS severity, count(*)::int AS n FROM alarms WHERE state IN ('active','clearing') GROUP BY 1`);
    for (const sev of [...SEVERITIES, 'none']) lines.push(line('alarms_open', { severity: sev }, { count: alarms.rows.find((r) => r.severity === sev)?.n ?? 0 }, now));
    const items = await db.query<{ kind: string; severity: string; grid_id: string | null; community_id: string | null; n: number; overdue: number }>(
      `SELECT kind, severity, grid_id, community_id, count(*)::int AS n,
              count(*) FILTER (WHERE (accepted_at IS NULL AND accept_due < now()) OR (resolved_at IS NULL AND resolve_due < now()))::int AS overdue
       FROM work_items WHERE status NOT IN ${FINISHED_SQL} GROUP BY 1, 2, 3, 4`,
    );
    const present = new Set<string>();
    for (const i of items.rows) {
      const tags = { kind: i.kind, severity: i.severity, grid: i.grid_id, community: i.community_id };
      const key = JSON.stringify(tags);
      present.add(key);
      this.itemGroups.set(key, tags);
      lines.push(line('work_items_open', tags, { count: i.n, overdue: i.overdue }, now));
    }
    for (const [key, tags] of this.itemGroups) if (!present.has(key)) lines.push(line('work_items_open', tags, { count: 0, overdue: 0 }, now));
    const c = this.opts.ingest.counters;
    lines.push(line('platform_ingest', {}, { received: c.received, stored: c.stored, rejected: c.rejected }, now));
    await this.opts.sink.send(lines.filter((l): l is string => !!l));
  }

  /** One point per work-item milestone. */
  workItemEvent(e: WorkItemEvent): void {
    const i = e.item;
    const tags = { kind: i.kind, severity: i.severity, grid: i.gridId, community: i.communityId };
    const at = Date.parse(e.at);
    const secs = (from: string | null) => (from ? (at - Date.parse(from)) / 1000 : null);
    let l: string | undefined;
    if (e.event === 'created') l = line('work_items_opened', tags, { count: 1 }, at);
    else if (e.event === 'escalated') l = line('work_items_escalated', { ...tags, level: String(e.data?.level ?? '') }, { count: 1 }, at);
    else if (e.event === 'transition' && e.action === 'accept') l = line('work_items_accepted', tags, { count: 1, acceptS: secs(i.createdAt) }, at);
    else if (e.event === 'transition' && (i.status === 'closed') && (e.action === 'verify' || e.action === 'auto_close')) l = line('work_items_closed', { ...tags, by: e.action === 'auto_close' ? 'platform' : 'people' }, { count: 1, closeS: secs(i.createdAt) }, at);
    else if (e.event === 'transition' && e.action === 'rate' && i.rating) l = line('work_items_rated', tags, { overall: i.rating.overall, speed: i.rating.speed, service: i.rating.service }, at);
    if (l) void this.opts.sink.send([l]).catch((err: Error) => this.opts.log.warn({ err: err.message, itemId: i.id }, 'work-item point not written'));
  }
}
