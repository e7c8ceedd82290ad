import { randomBytes } from 'node:crypto';
import type { ItemKind } from '../core/domain.ts';
import { onDuty } from '../core/store/users.ts';
import type { AlarmView } from '../rules/alarm.ts';
import type { RulesEvent } from '../rules/events.ts';
import type { Incident } from '../rules/incident-store.ts';
import { mergeInto } from './actions/merge.ts';
import { whistle } from './actions/whistle.ts';
import { PLATFORM, type WorkItemContext } from './context.ts';
import { entry, move, record, withFresh } from './move.ts';
import { alarmTitle, deviceName, NOTES, placeName } from './texts.ts';
import { appendEvent, getItem, insertOrCount, openItemBySource, openItemsBySources, openOrRecentlyClosed, whistles, type WorkItem } from './store.ts';

const RELAPSE_WINDOW_MS = 24 * 3600_000;

/**
 * Intake from alarms: a raised alarm opens the item its rule's `raises` policy names (one open item
 * per device and storm group; repeats count on it), a storm gathers its devices' items into one, a
 * relapse within 24 h reopens the item it closed, and a cleared alarm closes its item where the rule
 * allows (无感销). Called one event at a time, in order.
 */
export async function fromRulesEvent(ctx: WorkItemContext, e: RulesEvent): Promise<void> {
  if (e.kind === 'incident') {
    if (e.event !== 'closed') await gatherIncident(ctx, e.incident);
  } else if (e.event === 'raised') await fromAlarm(ctx, e.alarm);
  else if (e.event === 'cleared') await alarmCleared(ctx, e.alarm);
  else await whistlesFollow(ctx, e.alarm);
}

/**
 * Whistles follow the alarm: departments an alarm gained after its item exists (a repeat throw
 * from the same floor adds the police) are whistled on the open item, with their report-in
 * deadline. Only alarms that gained one beyond their rule's cost a look at the store.
 */
async function whistlesFollow(ctx: WorkItemContext, alarm: AlarmView): Promise<void> {
  const rule = ctx.ruleFor(alarm.deviceId, alarm.ruleId);
  if (!rule?.raises || rule.raises.item !== 'work_order') return;
  const gained = alarm.whistle.filter((d) => !(rule.raises!.whistle as readonly string[]).includes(d));
  if (gained.length === 0) return;
  const item = await openItemBySource(ctx.db, itemKey(alarm.deviceId, rule.storm.group ?? alarm.ruleId));
  if (!item || item.kind !== 'work_order') return;
  const already = new Set((await whistles(ctx.db, item.id)).map((w) => w.department));
  const missing = gained.filter((d) => !already.has(d));
  if (missing.length) await withFresh(ctx, item, (it) => whistle(ctx, it, PLATFORM, missing, NOTES.ruleWhistles(missing)));
}

async function fromAlarm(ctx: WorkItemContext, alarm: AlarmView): Promise<void> {
  const rule = ctx.ruleFor(alarm.deviceId, alarm.ruleId);
  const raises = rule?.raises;
  if (!rule || !raises) return; // a rule that only acts (hold_door) and records, or a policy of `none`
  const db = ctx.db;
  const sourceKey = itemKey(alarm.deviceId, rule.storm.group ?? alarm.ruleId);
  const now = ctx.clock.now();
  // The reads go to the store together: one wait for its thread, not three in a row.
  const [incidentItem, { closed: relapsed }, onDutyId] = await Promise.all([
    alarm.incidentId ? openItemBySource(db, `incident:${alarm.incidentId}`) : undefined,
    openOrRecentlyClosed(db, sourceKey, new Date(now - RELAPSE_WINDOW_MS).toISOString()),
    raises.item === 'work_order' && alarm.gridId ? onDuty(db, alarm.gridId) : undefined,
  ]);
  // An alarm whose incident already has an item counts on that one.
  const condition = rule.title ?? rule.description;
  if (incidentItem) return void (await withFresh(ctx, incidentItem, (it) => count(ctx, it, NOTES.raisedAgain(alarmTitle(ctx, alarm.deviceId, condition)), alarm.id)));
  // A relapse within 24 h of closing reopens the same item (an open one is counted by insertOrCount).
  // (It keeps its assignee and deadlines: the relapse goes back to whoever had it.)
  if (relapsed) {
    const reopened = await move(ctx, relapsed, 'reopen', PLATFORM, { note: NOTES.relapse(condition), fields: { count: relapsed.count + 1, alarmId: alarm.id, evidence: alarm.evidence as never }, data: { alarmId: alarm.id } });
    // The departments the alarm calls for are called in again on the reopened item (the fire is back).
    if (alarm.whistle.length && reopened.kind === 'work_order') await withFresh(ctx, reopened, (it) => whistle(ctx, it, PLATFORM, alarm.whistle, NOTES.ruleWhistles(alarm.whistle)));
    return;
  }
  const p = ctx.directory.get(alarm.deviceId);
  const title = alarmTitle(ctx, alarm.deviceId, condition);
  const item: WorkItem = {
    ...blankItem(raises.item, now),
    severity: raises.severity,
    category: raises.category ?? null,
    title,
    // The place and condition, then the rule's numbers as the catalog states them.
    description: `${title}。${rule.description}`,
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
    assigneeId: onDutyId ?? null,
    autoClose: raises.autoClose,
    verifyS: rule.verifyS,
    evidence: alarm.evidence as never,
    ...ctx.sla.deadlinesFor(raises.severity, now),
  };
  const first = entry(ctx, PLATFORM, 'collect', null, 'collected', item.title, [], { alarmId: alarm.id, assigneeId: item.assigneeId });
  // Inserted, or counted on the open item of the same source, with its timeline entry: one transaction.
  const { item: stored, created } = await db.transaction(async (tx) => {
    const r = await insertOrCount(tx, item, first);
    if (!r.created) await appendEvent(tx, r.item.id, entry(ctx, PLATFORM, 'count', r.item.status, r.item.status, NOTES.raisedAgain(condition), [], { alarmId: alarm.id, count: r.item.count }));
    return r;
  });
  if (!created) {
    ctx.emit({ kind: 'work_item', event: 'counted', at: new Date(now).toISOString(), item: stored });
    return;
  }
  ctx.emit({ kind: 'work_item', event: 'created', at: stored.createdAt, item: stored });
  ctx.sla.arm(stored);
  if (alarm.whistle.length && stored.kind === 'work_order') await withFresh(ctx, stored, (it) => whistle(ctx, it, PLATFORM, alarm.whistle, NOTES.ruleWhistles(alarm.whistle)));
}

/** A repeat on an existing item: counted, on the timeline. */
async function count(ctx: WorkItemContext, item: WorkItem, note: string, alarmId: string): Promise<WorkItem> {
  const updated = await record(ctx, item, PLATFORM, 'count', { note, fields: { count: item.count + 1 }, data: { alarmId, count: item.count + 1 } });
  ctx.emit({ kind: 'work_item', event: 'counted', at: ctx.isoNow(), item: updated });
  return updated;
}

/**
 * A storm: one item for the incident. The oldest open item among its devices becomes the
 * incident's; the others fold into it (closed as merged, their counts carried over).
 */
async function gatherIncident(ctx: WorkItemContext, incident: Incident): Promise<void> {
  const incidentKey = `incident:${incident.id}`;
  const open = await openItemsBySources(ctx.db, [incidentKey, ...incident.deviceIds.map((d) => itemKey(d, incident.groupKey))]);
  const keeper = open.find((x) => x.sourceKey === incidentKey) ?? open[0];
  if (!keeper) return;
  for (const other of open) {
    if (other.id === keeper.id) continue;
    const joinsNote = NOTES.joins(other.deviceId ? deviceName(ctx, ctx.directory.get(other.deviceId), other.deviceId) : other.id);
    await mergeInto(ctx, other, keeper, PLATFORM, { note: NOTES.mergedInto(keeper.id), joinsNote, data: { incidentId: incident.id } });
  }
  const kept = await getItem(ctx.db, keeper.id);
  if (kept && kept.sourceKey !== incidentKey) {
    const updated = await withFresh(ctx, kept, (k) =>
      record(ctx, k, PLATFORM, 'incident', {
        note: NOTES.storm(placeName(ctx.directory.get(incident.deviceIds[0] ?? '')) || incident.scopeId, incident.deviceIds.length),
        fields: { sourceKey: incidentKey, incidentId: incident.id, title: `${k.title}（${incident.deviceIds.length} 台设备）` },
        data: { incidentId: incident.id, deviceIds: incident.deviceIds },
      }),
    );
    if (updated) ctx.emit({ kind: 'work_item', event: 'counted', at: ctx.isoNow(), item: updated, data: { incidentId: incident.id, deviceIds: incident.deviceIds } });
  }
}

/** 无感销: the sensor is back to normal and has stayed there for the rule's verify time. */
async function alarmCleared(ctx: WorkItemContext, alarm: AlarmView): Promise<void> {
  const group = ctx.ruleFor(alarm.deviceId, alarm.ruleId)?.storm.group ?? alarm.ruleId;
  const item = await openItemBySource(ctx.db, itemKey(alarm.deviceId, group));
  if (!item || !item.autoClose) return;
  if ((await whistles(ctx.db, item.id)).some((w) => !w.finishedAt)) return; // departments still on it
  // Proof: the readings back past the clear level, as the engine saw them.
  const proof = (alarm.evidence.recovery ?? []).map((r) => ({ ts: new Date(r.ts).toISOString(), value: r.value }));
  const rule = ctx.ruleFor(alarm.deviceId, alarm.ruleId);
  await move(ctx, item, 'auto_close', PLATFORM, { note: NOTES.autoClosed(rule?.title ?? rule?.description ?? alarm.ruleId, item.verifyS), fields: { closedAt: ctx.isoNow() }, data: { closedBy: 'platform', proof, alarmId: alarm.id } });
}

/**
 * The source an alarm's item is keyed by: one open item per device and storm group (a detector's
 * smoke, heat and own alarm are one fire), the rule itself for rules without a group.
 */
const itemKey = (deviceId: string, group: string) => `alarm:${deviceId}:${group}`;

/** A new item's fields before intake fills in what it knows. */
export function blankItem(kind: ItemKind, now: number): WorkItem {
  return {
    id: newId(kind, now), kind, status: 'collected', severity: 'minor', category: null, title: '', description: null,
    source: 'alarm', sourceKey: null, alarmId: null, incidentId: null, deviceId: null, ruleId: null,
    buildingId: null, microGridId: null, gridId: null, communityId: null, streetId: null, location: {}, reporterId: null, assigneeId: null,
    escalationLevel: 'grid', count: 1, autoClose: false, verifyS: 0, evidence: {}, photos: [], acceptDue: null, resolveDue: null, reminders: 0,
    createdAt: new Date(now).toISOString(), acceptedAt: null, resolvedAt: null, closedAt: null, rating: null, revisit: null, version: 1,
  };
}

/** `WO-20261121-3fa9c2` / `TK-…`: readable on a phone, unique. */
function newId(kind: ItemKind, now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replaceAll('-', '');
  return `${kind === 'work_order' ? 'WO' : 'TK'}-${day}-${randomBytes(4).toString('hex')}`;
}
