import { randomBytes } from 'node:crypto';
import type { Db } from '../../core/store/db.ts';
import type { Logger } from '../../core/logger.ts';
import { getUser, listUsers, onDuty, type User } from '../../core/store/users.ts';
import type { AlarmView } from '../alarm.ts';
import type { Clock } from '../clock.ts';
import { Deadlines, type Schedulable } from '../deadlines.ts';
import type { Placement } from '../directory.ts';
import type { RulesEvent } from '../events.ts';
import type { Incident } from '../incident-store.ts';
import type { EffectiveRule } from '../params.ts';
import { actProblem, canSee } from './access.ts';
import { DEFAULT_SLA, nextLevel, type Sla } from './sla.ts';
import {
  addWhistles, appendEvent, getItem, insertOrCount, markWhistle, openItemBySource, openItems, openItemsBySources, openOrRecentlyClosed, pendingReportIns, timeline, updateItem, whistles,
  type TimelineEntry, type Whistle, type WorkItem,
} from './store.ts';
import { allowedActions, isFinished, nextStatus, permitted, type Action, type Status } from './transitions.ts';

/** A work-item event: MQTT `platform/workitems/{event}/{kind}/{gridId}/{id}`, SSE, in-process. */
export interface WorkItemEvent {
  kind: 'work_item';
  event: 'created' | 'counted' | 'transition' | 'escalated' | 'reminder' | 'whistled' | 'report_in_late';
  at: string;
  item: WorkItem;
  action?: string;
  actor?: { id: string; role: string };
  data?: Record<string, unknown>;
}

export function workItemTopic(e: WorkItemEvent): string {
  return `platform/workitems/${e.event}/${e.item.kind}/${e.item.gridId ?? '-'}/${e.item.id}`;
}

/** Refusals the API turns into HTTP answers. */
export class WorkItemError extends Error {
  constructor(readonly status: 400 | 403 | 404 | 409, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

export interface ActInput {
  note?: string;
  photos?: string[];
  assigneeId?: string;
  departments?: string[];
  rating?: { overall: number; speed: number; service: number; comment?: string };
  revisit?: { result: 'satisfied' | 'fair' | 'unsatisfied'; note?: string };
}

export interface TicketInput {
  category: string;
  description: string;
  buildingId: string;
  unit?: string;
  room?: string;
  photos?: string[];
  severity?: 'critical' | 'major' | 'minor';
}

export interface WorkItemsOptions {
  db: Db;
  log: Logger;
  clock: Clock;
  publish(topic: string, payload: string, opts: { qos: 0 | 1 }): Promise<void>;
  /** Where a device hangs in the org tree (the rules engine knows). */
  placement(deviceId: string): Placement | undefined;
  /** The rule as it applies to a device, overrides and policy included (the rules engine knows). */
  ruleFor(deviceId: string, ruleId: string): EffectiveRule | undefined;
  sla?: Sla;
  /** Seconds a whistled department has to report in (报到). */
  reportInS?: number;
}

const PLATFORM: User = { id: 'platform', name: '平台', role: 'admin', gridIds: [], communityIds: [], department: null };
const RELAPSE_WINDOW_MS = 24 * 3600_000;

interface ItemTimer extends Schedulable {
  itemId: string;
}
interface ReportTimer extends Schedulable {
  itemId: string;
  department: string;
}

/**
 * Work items and the six-step closed loop. Alarms open grid work orders and property tickets by
 * each rule's `raises` policy (one open item per device and rule; repeats count on it); residents
 * file 一键报修 tickets; every action is checked against the transition table and the actor's
 * reach, written with optimistic locking and appended to the item's timeline; SLA deadlines remind
 * and escalate on the injectable clock; whistled departments report in; an item whose alarm has
 * cleared closes itself where the rule allows (无感销) and reopens on a relapse within 24 h.
 */
export class WorkItems {
  private readonly sla: Sla;
  private readonly reportInMs: number;
  private readonly listeners: ((e: WorkItemEvent) => void)[] = [];
  private readonly slaTimers = new Map<string, ItemTimer>();
  private readonly reportTimers = new Map<string, ReportTimer>();
  private readonly slaDeadlines: Deadlines<ItemTimer>;
  private readonly reportDeadlines: Deadlines<ReportTimer>;
  /** Alarm events are handled one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private roundRobin = new Map<string, number>();

  constructor(private readonly opts: WorkItemsOptions) {
    this.sla = opts.sla ?? DEFAULT_SLA;
    this.reportInMs = (opts.reportInS ?? 1800) * 1000;
    this.slaDeadlines = new Deadlines(opts.clock, (t) => this.enqueue(() => this.onSlaDue(t.itemId)));
    this.reportDeadlines = new Deadlines(opts.clock, (t) => this.enqueue(() => this.onReportDue(t.itemId, t.department)));
  }

  async start(): Promise<void> {
    for (const item of await openItems(this.opts.db)) this.armSla(item);
    for (const w of await pendingReportIns(this.opts.db)) this.armReport(w.itemId, w.department, Date.parse(w.reportDue));
  }

  onEvent(listener: (e: WorkItemEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Like onEvent, with a way to stop listening (an SSE client that goes away). */
  subscribe(listener: (e: WorkItemEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Alarm events from the rules engine, in order. */
  handleRulesEvent(e: RulesEvent): void {
    if (e.kind === 'incident') {
      if (e.event !== 'closed') this.enqueue(() => this.gatherIncident(e.incident));
      return;
    }
    if (e.event === 'raised') this.enqueue(() => this.fromAlarm(e.alarm));
    else if (e.event === 'cleared') this.enqueue(() => this.alarmCleared(e.alarm));
  }

  /** Resolves once every event handed over so far has been acted on. */
  async idle(): Promise<void> {
    let c: Promise<void>;
    do {
      c = this.chain;
      await c;
    } while (c !== this.chain);
  }

  close(): void {
    this.slaDeadlines.close();
    this.reportDeadlines.close();
  }

  // ── reading ───────────────────────────────────────────────────────────────────────────────

  async get(id: string, user: User): Promise<WorkItem & { timeline: TimelineEntry[]; whistles: Whistle[]; allowedActions: Action[] }> {
    const item = await getItem(this.opts.db, id);
    if (!item) throw new WorkItemError(404, `work item ${id} does not exist`);
    const w = await whistles(this.opts.db, id);
    if (!canSee(user, item, w)) throw new WorkItemError(404, `work item ${id} does not exist`); // no hint that it exists
    const mine = allowedActions(item.kind, item.status, user.role).filter((a) => !actProblem(user, item, a, w));
    return { ...item, timeline: await timeline(this.opts.db, id), whistles: w, allowedActions: mine };
  }

  // ── from alarms ───────────────────────────────────────────────────────────────────────────

  private async fromAlarm(alarm: AlarmView): Promise<void> {
    const rule = this.opts.ruleFor(alarm.deviceId, alarm.ruleId);
    const raises = rule?.raises;
    if (!rule || !raises) return; // a rule that only acts (hold_door) and records, or a policy of `none`
    const db = this.opts.db;
    const sourceKey = itemKey(alarm.deviceId, rule.storm.group ?? alarm.ruleId);
    const now = this.opts.clock.now();
    // The reads go to the store together: one wait for its thread, not three in a row.
    const [incidentItem, { closed: relapsed }, onDutyId] = await Promise.all([
      alarm.incidentId ? openItemBySource(db, `incident:${alarm.incidentId}`) : undefined,
      openOrRecentlyClosed(db, sourceKey, new Date(now - RELAPSE_WINDOW_MS).toISOString()),
      raises.item === 'work_order' && alarm.gridId ? onDuty(db, alarm.gridId) : undefined,
    ]);
    // An alarm whose incident already has an item counts on that one.
    if (incidentItem) return this.count(incidentItem, alarm);
    // A relapse within 24 h of closing reopens the same item (an open one is counted by insertOrCount).
    if (relapsed) {
      // (The transition re-arms its SLA.)
      await this.transition(relapsed, 'reopen', PLATFORM, { note: `relapse: ${alarm.ruleId} raised again` }, { count: relapsed.count + 1, alarmId: alarm.id, evidence: alarm.evidence as never }, { alarmId: alarm.id });
      return;
    }
    const sev = raises.severity;
    const deadlines = this.deadlinesFor(sev, now);
    const p = this.opts.placement(alarm.deviceId);
    const item: WorkItem = {
      id: newId(raises.item, now),
      kind: raises.item,
      status: 'collected',
      severity: sev,
      category: raises.category ?? null,
      title: rule.description,
      description: `${alarm.deviceId}: ${rule.description}`,
      source: 'alarm',
      sourceKey,
      alarmId: alarm.id,
      incidentId: alarm.incidentId,
      deviceId: alarm.deviceId,
      ruleId: alarm.ruleId,
      buildingId: alarm.buildingId,
      microGridId: alarm.microGridId,
      gridId: alarm.gridId,
      communityId: alarm.communityId,
      streetId: p?.streetId ?? null,
      location: {},
      reporterId: null,
      assigneeId: onDutyId ?? null,
      escalationLevel: 'grid',
      count: 1,
      autoClose: raises.autoClose,
      verifyS: rule.verifyS,
      evidence: alarm.evidence as never,
      photos: [],
      ...deadlines,
      reminders: 0,
      createdAt: new Date(now).toISOString(),
      acceptedAt: null,
      resolvedAt: null,
      closedAt: null,
      rating: null,
      revisit: null,
      version: 1,
    };
    const { item: stored, created } = await insertOrCount(db, item, this.entry(PLATFORM, 'collect', null, 'collected', rule.description, [], { alarmId: alarm.id, assigneeId: item.assigneeId }));
    if (!created) {
      await appendEvent(db, stored.id, this.entry(PLATFORM, 'count', stored.status, stored.status, `${alarm.ruleId} raised again`, [], { alarmId: alarm.id, count: stored.count }));
      this.emit({ kind: 'work_item', event: 'counted', at: new Date(now).toISOString(), item: stored });
      return;
    }
    this.emit({ kind: 'work_item', event: 'created', at: stored.createdAt, item: stored });
    if (alarm.whistle.length && stored.kind === 'work_order') await this.whistle(stored, PLATFORM, alarm.whistle, 'the rule whistles');
    this.armSla(stored);
  }

  /** A repeat on an existing item: counted, on the timeline. */
  private async count(item: WorkItem, alarm: AlarmView): Promise<void> {
    const updated = await updateItem(this.opts.db, item.id, item.version, { count: item.count + 1 });
    if (!updated) return this.count((await getItem(this.opts.db, item.id))!, alarm);
    await appendEvent(this.opts.db, item.id, this.entry(PLATFORM, 'count', item.status, item.status, `${alarm.deviceId}: ${alarm.ruleId}`, [], { alarmId: alarm.id, count: updated.count }));
    this.emit({ kind: 'work_item', event: 'counted', at: this.isoNow(), item: updated });
  }

  /**
   * A storm: one item for the incident. The oldest open item among its devices becomes the
   * incident's; the others fold into it (closed as merged, their counts carried over).
   */
  private async gatherIncident(incident: Incident): Promise<void> {
    const db = this.opts.db;
    const keys = [`incident:${incident.id}`, ...incident.deviceIds.map((d) => itemKey(d, incident.groupKey))];
    const open = await openItemsBySources(db, keys);
    const keeper = open.find((x) => x.sourceKey === `incident:${incident.id}`) ?? open[0];
    if (!keeper) return;
    let kept = keeper;
    for (const other of open) {
      if (other.id === keeper.id) continue;
      await this.transition(other, 'merge', PLATFORM, { note: `merged into ${keeper.id} (incident ${incident.id})` }, { closedAt: this.isoNow(), sourceKey: `merged:${other.sourceKey}` }, { into: keeper.id, incidentId: incident.id });
      const fresh = (await getItem(db, kept.id))!;
      kept = (await updateItem(db, fresh.id, fresh.version, { count: fresh.count + other.count })) ?? fresh;
      await appendEvent(db, kept.id, this.entry(PLATFORM, 'merge', kept.status, kept.status, `${other.deviceId ?? other.id} joins this incident`, [], { merged: other.id, deviceId: other.deviceId }));
    }
    if (kept.sourceKey !== `incident:${incident.id}`) {
      const fresh = (await getItem(db, kept.id))!;
      kept = (await updateItem(db, fresh.id, fresh.version, { sourceKey: `incident:${incident.id}`, incidentId: incident.id, title: `${fresh.title} (${incident.deviceIds.length} devices)` })) ?? fresh;
      await appendEvent(db, kept.id, this.entry(PLATFORM, 'incident', kept.status, kept.status, `storm in ${incident.scopeId}: ${incident.deviceIds.join(', ')}`, [], { incidentId: incident.id, deviceIds: incident.deviceIds }));
      this.emit({ kind: 'work_item', event: 'counted', at: this.isoNow(), item: kept, data: { incidentId: incident.id, deviceIds: incident.deviceIds } });
    }
  }

  /** 无感销: the sensor is back to normal and has stayed there for the rule's verify time. */
  private async alarmCleared(alarm: AlarmView): Promise<void> {
    const group = this.opts.ruleFor(alarm.deviceId, alarm.ruleId)?.storm.group ?? alarm.ruleId;
    const item = await openItemBySource(this.opts.db, itemKey(alarm.deviceId, group));
    if (!item || !item.autoClose) return;
    if ((await whistles(this.opts.db, item.id)).some((w) => !w.finishedAt)) return; // departments still on it
    // Proof: the readings back past the clear level, as the engine saw them.
    const proof = (alarm.evidence.recovery ?? []).map((r) => ({ ts: new Date(r.ts).toISOString(), value: r.value }));
    await this.transition(item, 'auto_close', PLATFORM, { note: `closed by the platform (无感销): ${alarm.ruleId} normal for ${item.verifyS} s` }, { closedAt: this.isoNow() }, { closedBy: 'platform', proof, alarmId: alarm.id });
  }

  // ── actions ───────────────────────────────────────────────────────────────────────────────

  /** Takes an action for a user: checked against the table and their reach, then recorded. */
  async act(id: string, action: Action, user: User, input: ActInput): Promise<WorkItem> {
    const db = this.opts.db;
    const item = await getItem(db, id);
    if (!item) throw new WorkItemError(404, `work item ${id} does not exist`);
    const w = await whistles(db, id);
    if (!canSee(user, item, w)) throw new WorkItemError(404, `work item ${id} does not exist`);
    const problem = actProblem(user, item, action, w);
    if (problem) throw new WorkItemError(403, `${action} on ${id}: ${problem}`);
    if (!permitted(action, item.kind, item.status, user.role)) {
      throw new WorkItemError(409, `${action} is not allowed on a ${item.kind} in status ${item.status} for ${user.role}`, {
        status: item.status,
        allowed: allowedActions(item.kind, item.status, user.role).filter((a) => !actProblem(user, item, a, w)),
      });
    }
    const now = this.isoNow();
    switch (action) {
      case 'dispatch':
      case 'transfer': {
        const assigneeId = input.assigneeId ?? (item.kind === 'ticket' && action === 'dispatch' ? await this.nextStaff(item) : undefined);
        if (!assigneeId) throw new WorkItemError(400, 'assigneeId: required', { field: 'assigneeId' });
        const assignee = await getUser(db, assigneeId);
        const fits = assignee && (item.kind === 'ticket' ? assignee.role === 'property_staff' && item.communityId !== null && assignee.communityIds.includes(item.communityId) : assignee.role === 'grid_worker' || assignee.role === 'admin');
        if (!fits) throw new WorkItemError(400, `assigneeId: ${assigneeId} cannot take this ${item.kind}`, { field: 'assigneeId' });
        return this.transition(item, action, user, input, { assigneeId }, { assigneeId, mode: input.assigneeId ? 'assign' : 'round_robin' });
      }
      case 'grab':
        return this.transition(item, action, user, input, { assigneeId: user.id }, { assigneeId: user.id, mode: 'grab' });
      case 'return':
        return this.transition(item, action, user, input, { assigneeId: null }, { returnedBy: user.id });
      case 'accept':
        return this.transition(item, action, user, input, { acceptedAt: now }, {});
      case 'resolve': {
        if (user.role === 'department') return this.departmentFinished(item, user, input, w);
        refuseWhileDepartmentsWork(item, action, w);
        return this.transition(item, action, user, input, { resolvedAt: now, photos: [...item.photos, ...(input.photos ?? [])] }, {});
      }
      case 'verify':
        refuseWhileDepartmentsWork(item, action, w);
        return this.transition(item, action, user, input, { closedAt: now }, {});
      case 'reopen':
        return this.reopen(item, user, input.note ?? 'reopened');
      case 'escalate':
        return this.escalate(item, user, input.note ?? 'escalated by hand');
      case 'whistle': {
        if (!input.departments?.length) throw new WorkItemError(400, 'departments: give at least one', { field: 'departments' });
        return this.whistle(item, user, input.departments, input.note);
      }
      case 'report_in': {
        await markWhistle(db, id, user.department!, 'reported_at', now);
        const timer = this.reportTimers.get(reportKey(id, user.department!));
        if (timer) timer.due = undefined;
        return this.transition(item, action, user, input, {}, { department: user.department });
      }
      case 'rate': {
        if (!input.rating) throw new WorkItemError(400, 'rating: required', { field: 'rating' });
        if (item.rating) throw new WorkItemError(409, `rate on ${id}: already rated`, { status: item.status, allowed: [] });
        const rated = await this.transition(item, action, user, input, { rating: { ...input.rating, at: now } }, { rating: input.rating });
        // A poor rating goes back to the manager.
        return input.rating.overall <= 2 ? this.reopen(rated, PLATFORM, `rated ${input.rating.overall}★: back to the property manager`) : rated;
      }
      case 'revisit': {
        if (!input.revisit) throw new WorkItemError(400, 'revisit: required', { field: 'revisit' });
        const visited = await this.transition(item, action, user, input, { revisit: { ...input.revisit, at: now, by: user.id } }, { revisit: input.revisit });
        return input.revisit.result === 'unsatisfied' ? this.reopen(visited, PLATFORM, 'return visit unsatisfied: back to the property manager') : visited;
      }
      default:
        return this.transition(item, action, user, input, {}, {});
    }
  }

  /** 一键报修: a resident files a ticket for their building. */
  async fileTicket(user: User, input: TicketInput, placement: { buildingId: string; microGridId: string | null; gridId: string | null; communityId: string | null; streetId: string | null }): Promise<WorkItem> {
    const now = this.opts.clock.now();
    const severity = input.severity ?? 'minor';
    const item: WorkItem = {
      id: newId('ticket', now), kind: 'ticket', status: 'collected', severity, category: input.category, title: `${input.category}: ${input.description.slice(0, 60)}`, description: input.description,
      source: user.role === 'resident' ? 'resident' : 'staff', sourceKey: null, alarmId: null, incidentId: null, deviceId: null, ruleId: null,
      buildingId: placement.buildingId, microGridId: placement.microGridId, gridId: placement.gridId, communityId: placement.communityId, streetId: placement.streetId,
      location: { buildingId: input.buildingId, unit: input.unit, room: input.room }, reporterId: user.id, assigneeId: null, escalationLevel: 'grid', count: 1,
      autoClose: false, verifyS: 0, evidence: {}, photos: input.photos ?? [], ...this.deadlinesFor(severity, now), reminders: 0, createdAt: new Date(now).toISOString(),
      acceptedAt: null, resolvedAt: null, closedAt: null, rating: null, revisit: null, version: 1,
    };
    const { item: stored } = await insertOrCount(this.opts.db, item, this.entry(user, 'collect', null, 'collected', input.description, input.photos ?? [], { category: input.category }));
    this.emit({ kind: 'work_item', event: 'created', at: stored.createdAt, item: stored, actor: { id: user.id, role: user.role } });
    this.armSla(stored);
    return stored;
  }

  // ── the steps behind the actions ───────────────────────────────────────────────────────────

  private async transition(item: WorkItem, action: Action, user: User, input: ActInput, fields: Partial<WorkItem>, data: Record<string, unknown>): Promise<WorkItem> {
    const to = nextStatus(action, item.status);
    const updated = await updateItem(this.opts.db, item.id, item.version, { ...fields, status: to });
    if (!updated) {
      const fresh = await getItem(this.opts.db, item.id);
      throw new WorkItemError(409, `${action} on ${item.id}: the item changed meanwhile (now ${fresh?.status}); reload and retry`, { status: fresh?.status, allowed: fresh ? allowedActions(fresh.kind, fresh.status, user.role) : [] });
    }
    const actorRole = user === PLATFORM ? 'platform' : user.role;
    await appendEvent(this.opts.db, item.id, this.entry(user, action, item.status, to, input.note ?? null, input.photos ?? [], data));
    this.emit({ kind: 'work_item', event: 'transition', at: this.isoNow(), item: updated, action, actor: { id: user.id, role: actorRole }, data });
    this.armSla(updated);
    return updated;
  }

  private async reopen(item: WorkItem, user: User, note: string): Promise<WorkItem> {
    const now = this.opts.clock.now();
    return this.transition(item, 'reopen', user, { note }, { closedAt: null, resolvedAt: null, assigneeId: null, ...this.deadlinesFor(item.severity, now) }, {});
  }

  private async whistle(item: WorkItem, user: User, departments: string[], note?: string): Promise<WorkItem> {
    const now = this.opts.clock.now();
    const due = now + this.reportInMs;
    const added = await addWhistles(this.opts.db, item.id, departments, new Date(now).toISOString(), new Date(due).toISOString());
    for (const d of added) this.armReport(item.id, d, due);
    const updated = await this.transition(item, 'whistle', user, { note: note ?? `whistled: ${departments.join(', ')}` }, {}, { departments: added, reportDue: new Date(due).toISOString() });
    this.emit({ kind: 'work_item', event: 'whistled', at: new Date(now).toISOString(), item: updated, data: { departments: added } });
    return updated;
  }

  private async departmentFinished(item: WorkItem, user: User, input: ActInput, w: Whistle[]): Promise<WorkItem> {
    const now = this.isoNow();
    const mine = w.find((x) => x.department === user.department);
    if (!mine?.reportedAt) throw new WorkItemError(409, `resolve on ${item.id}: ${user.department} has not reported in`, { status: item.status, allowed: ['report_in'] });
    await markWhistle(this.opts.db, item.id, user.department!, 'finished_at', now);
    const left = w.filter((x) => x.department !== user.department && !x.finishedAt).map((x) => x.department);
    const data = { department: user.department, departmentsLeft: left };
    if (left.length === 0 && item.status === 'in_progress') return this.transition(item, 'resolve', user, input, { resolvedAt: now }, data);
    // Recorded on the timeline without moving the item.
    const updated = await updateItem(this.opts.db, item.id, item.version, {});
    await appendEvent(this.opts.db, item.id, this.entry(user, 'department_finished', item.status, item.status, input.note ?? null, input.photos ?? [], data));
    return updated ?? item;
  }

  private async escalate(item: WorkItem, user: User, why: string): Promise<WorkItem> {
    const level = nextLevel(item.escalationLevel);
    if (!level) throw new WorkItemError(409, `escalate on ${item.id}: already at the street, the top of the ladder`, { status: item.status, allowed: [] });
    const now = this.opts.clock.now();
    // The new level gets a fresh window for whichever deadline was missed.
    const fresh = this.deadlinesFor(item.severity, now);
    const fields: Partial<WorkItem> = item.acceptedAt ? { escalationLevel: level, resolveDue: fresh.resolveDue } : { escalationLevel: level, acceptDue: fresh.acceptDue };
    const updated = await this.transition(item, 'escalate', user, { note: why }, fields, { level, from: item.escalationLevel });
    this.emit({ kind: 'work_item', event: 'escalated', at: new Date(now).toISOString(), item: updated, data: { level, why } });
    return updated;
  }

  // ── deadlines ─────────────────────────────────────────────────────────────────────────────

  private deadlinesFor(severity: string, now: number): { acceptDue: string; resolveDue: string } {
    const s = this.sla[severity as keyof Sla] ?? DEFAULT_SLA.minor;
    return { acceptDue: new Date(now + s.acceptS * 1000).toISOString(), resolveDue: new Date(now + s.resolveS * 1000).toISOString() };
  }

  /** The item's next SLA moment: a reminder before acceptance, the accept deadline, the resolve deadline. */
  private armSla(item: WorkItem): void {
    let t = this.slaTimers.get(item.id);
    if (!t) this.slaTimers.set(item.id, (t = { itemId: item.id, due: undefined }));
    t.due = this.nextSlaMoment(item, this.opts.clock.now());
    this.slaDeadlines.update(t);
  }

  private nextSlaMoment(item: WorkItem, now: number): number | undefined {
    if (isFinished(item.status) || item.status === 'resolved') return undefined;
    if (!item.acceptedAt && item.acceptDue) {
      const due = Date.parse(item.acceptDue);
      // 督办: reminders every half accept window until it is accepted.
      const half = (this.sla[item.severity]?.acceptS ?? 300) * 500;
      const nextReminder = Date.parse(item.createdAt) + half * (item.reminders + 1);
      return Math.max(now, Math.min(due, nextReminder));
    }
    return item.resolveDue ? Math.max(now, Date.parse(item.resolveDue)) : undefined;
  }

  private async onSlaDue(itemId: string): Promise<void> {
    const item = await getItem(this.opts.db, itemId);
    if (!item || isFinished(item.status)) return;
    const now = this.opts.clock.now();
    const missedAccept = !item.acceptedAt && item.acceptDue && now >= Date.parse(item.acceptDue);
    const missedResolve = item.acceptedAt && item.status !== 'resolved' && item.resolveDue && now >= Date.parse(item.resolveDue);
    if (missedAccept || missedResolve) {
      if (nextLevel(item.escalationLevel) && item.kind === 'work_order') {
        await this.escalate(item, PLATFORM, missedAccept ? 'SLA: not accepted in time' : 'SLA: not resolved in time');
        return;
      }
      // Tickets, and work orders already at the street: the miss is recorded and announced once.
      const updated = await updateItem(this.opts.db, item.id, item.version, missedAccept ? { acceptDue: null } : { resolveDue: null });
      if (updated) {
        await appendEvent(this.opts.db, item.id, this.entry(PLATFORM, 'sla_missed', item.status, item.status, missedAccept ? 'not accepted in time' : 'not resolved in time', [], {}));
        this.emit({ kind: 'work_item', event: 'escalated', at: new Date(now).toISOString(), item: updated, data: { level: item.escalationLevel, why: missedAccept ? 'accept' : 'resolve' } });
        this.armSla(updated);
      }
      return;
    }
    if (!item.acceptedAt) {
      const updated = await updateItem(this.opts.db, item.id, item.version, { reminders: item.reminders + 1 });
      if (updated) {
        this.emit({ kind: 'work_item', event: 'reminder', at: new Date(now).toISOString(), item: updated, data: { reminders: updated.reminders } });
        this.armSla(updated);
      }
      return;
    }
    this.armSla(item);
  }

  private armReport(itemId: string, department: string, due: number): void {
    const key = reportKey(itemId, department);
    let t = this.reportTimers.get(key);
    if (!t) this.reportTimers.set(key, (t = { itemId, department, due: undefined }));
    t.due = due;
    this.reportDeadlines.update(t);
  }

  /** A department that has not reported in by its deadline: recorded, and the item climbs a level. */
  private async onReportDue(itemId: string, department: string): Promise<void> {
    const w = (await whistles(this.opts.db, itemId)).find((x) => x.department === department);
    if (!w || w.reportedAt || w.late) return;
    await markWhistle(this.opts.db, itemId, department, 'late', '');
    const item = await getItem(this.opts.db, itemId);
    if (!item || isFinished(item.status)) return;
    await appendEvent(this.opts.db, itemId, this.entry(PLATFORM, 'report_in_late', item.status, item.status, `${department} did not report in`, [], { department }));
    this.emit({ kind: 'work_item', event: 'report_in_late', at: this.isoNow(), item, data: { department } });
    if (nextLevel(item.escalationLevel)) await this.escalate(item, PLATFORM, `${department} did not report in (报到) in time`);
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────

  /** Round-robin among the compound's property staff. */
  private async nextStaff(item: WorkItem): Promise<string | undefined> {
    const staff = (await listUsers(this.opts.db, { role: 'property_staff' })).filter((u) => item.communityId !== null && u.communityIds.includes(item.communityId));
    if (staff.length === 0) return undefined;
    const key = item.communityId!;
    const n = this.roundRobin.get(key) ?? 0;
    this.roundRobin.set(key, n + 1);
    return staff[n % staff.length]!.id;
  }

  private entry(user: User, action: string, from: Status | null, to: Status | null, note: string | null, photos: string[], data: Record<string, unknown>): Omit<TimelineEntry, 'seq'> {
    return { at: this.isoNow(), actorId: user.id, actorRole: user === PLATFORM ? 'platform' : user.role, action, fromStatus: from, toStatus: to, note, photos, data };
  }

  private isoNow(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: Error) => this.opts.log.error({ err }, 'work item step failed'));
  }

  private emit(e: WorkItemEvent): void {
    this.opts.publish(workItemTopic(e), JSON.stringify(e), { qos: 1 }).catch((err: Error) => this.opts.log.error({ err, itemId: e.item.id }, 'work item event publish failed'));
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.log.error({ err, itemId: e.item.id }, 'work item listener failed');
      }
    }
  }
}

const reportKey = (itemId: string, department: string) => `${itemId}\u0000${department}`;

/** Resolve and verify wait until every whistled department has finished its part. */
function refuseWhileDepartmentsWork(item: WorkItem, action: Action, w: Whistle[]): void {
  const working = w.filter((x) => !x.finishedAt).map((x) => x.department);
  if (working.length) throw new WorkItemError(409, `${action} on ${item.id}: whistled departments still working: ${working.join(', ')}`, { status: item.status, allowed: [] });
}

/**
 * The source an alarm's item is keyed by: one open item per device and storm group (a detector's
 * smoke, heat and own alarm are one fire), the rule itself for rules without a group.
 */
const itemKey = (deviceId: string, group: string) => `alarm:${deviceId}:${group}`;

/** `WO-20261121-3fa9c2` / `TK-…`: readable on a phone, unique. */
function newId(kind: 'work_order' | 'ticket', now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replaceAll('-', '');
  return `${kind === 'work_order' ? 'WO' : 'TK'}-${day}-${randomBytes(4).toString('hex')}`;
}


