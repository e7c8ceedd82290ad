import { isFinished } from '../core/domain.ts';
import { escalate } from './actions/escalate.ts';
import { PLATFORM, type WorkItemContext } from './context.ts';
import { record, withFresh } from './move.ts';
import { nextLevel } from './sla.ts';
import { NOTES } from './texts.ts';
import { getItem, markWhistle, updateItem, whistles } from './store.ts';

/**
 * An item's SLA moment has come: a missed deadline climbs a level (a work order below the street)
 * or is recorded once (tickets, and work orders already at the street); before acceptance, a
 * reminder (督办) goes out.
 */
export async function slaDue(ctx: WorkItemContext, itemId: string): Promise<void> {
  const item = await getItem(ctx.db, itemId);
  if (!item || isFinished(item.status)) return;
  const now = ctx.clock.now();
  const missedAccept = !item.acceptedAt && item.acceptDue && now >= Date.parse(item.acceptDue);
  const missedResolve = item.acceptedAt && item.status !== 'resolved' && item.resolveDue && now >= Date.parse(item.resolveDue);
  if (missedAccept || missedResolve) {
    if (nextLevel(item.escalationLevel) && item.kind === 'work_order') {
      const to = nextLevel(item.escalationLevel)!;
      await escalate(ctx, item, PLATFORM, missedAccept ? NOTES.notAcceptedEscalate(to) : NOTES.notResolvedEscalate(to));
      return;
    }
    const updated = await record(ctx, item, PLATFORM, 'sla_missed', { note: missedAccept ? NOTES.notAccepted() : NOTES.notResolved(), fields: missedAccept ? { acceptDue: null } : { resolveDue: null } });
    ctx.emit({ kind: 'work_item', event: 'escalated', at: new Date(now).toISOString(), item: updated, data: { level: item.escalationLevel, why: missedAccept ? 'accept' : 'resolve' } });
    ctx.sla.arm(updated);
    return;
  }
  if (!item.acceptedAt) {
    const updated = await updateItem(ctx.db, item.id, item.version, { reminders: item.reminders + 1 });
    if (updated) {
      ctx.emit({ kind: 'work_item', event: 'reminder', at: new Date(now).toISOString(), item: updated, data: { reminders: updated.reminders, note: NOTES.reminder(updated.reminders, updated.acceptDue) } });
      ctx.sla.arm(updated);
    }
    return;
  }
  ctx.sla.arm(item);
}

/** A department that has not reported in by its deadline: recorded, and the item climbs a level. */
export async function reportInDue(ctx: WorkItemContext, itemId: string, department: string): Promise<void> {
  const w = (await whistles(ctx.db, itemId)).find((x) => x.department === department);
  if (!w || w.reportedAt || w.late) return;
  const item = await getItem(ctx.db, itemId);
  if (!item || isFinished(item.status)) {
    await markWhistle(ctx.db, itemId, department, 'late', '');
    return;
  }
  // Someone acting on the item meanwhile must not make the late report-in go unrecorded: retried on a fresh read.
  const updated = await withFresh(ctx, item, (it) =>
    record(ctx, it, PLATFORM, 'report_in_late', {
      note: NOTES.lateReportIn(department),
      data: { department },
      within: async (tx) => void (await markWhistle(tx, itemId, department, 'late', '')),
    }),
  );
  if (!updated) throw new Error(`report-in of ${department} on ${itemId}: could not be recorded as late (the item kept changing)`);
  ctx.emit({ kind: 'work_item', event: 'report_in_late', at: ctx.isoNow(), item: updated, data: { department } });
  const to = nextLevel(updated.escalationLevel);
  if (to) await withFresh(ctx, updated, (it) => escalate(ctx, it, PLATFORM, NOTES.lateReportInEscalate(department, to)));
}
