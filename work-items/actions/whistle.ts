import { DomainError } from '../../core/errors.ts';
import type { ActInput, Actor, WorkItemContext } from '../context.ts';
import { move } from '../move.ts';
import { addWhistles, markWhistle, type Whistle, type WorkItem } from '../store.ts';
import { NOTES, REFUSALS } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/** 吹哨: calls departments in; each has `WHISTLE_REPORT_IN_S` to report in (报到). */
export async function whistle(ctx: WorkItemContext, item: WorkItem, actor: Actor, departments: string[], note?: string): Promise<WorkItem> {
  const now = ctx.clock.now();
  const due = now + ctx.reportIns.reportInMs;
  const [at, reportDue] = [new Date(now).toISOString(), new Date(due).toISOString()];
  let added: string[] = [];
  const updated = await move(ctx, item, 'whistle', actor, {
    note: note ?? NOTES.whistled(departments),
    data: { reportDue },
    within: async (tx) => {
      added = await addWhistles(tx, item.id, departments, at, reportDue);
      return { departments: added };
    },
  });
  for (const d of added) ctx.reportIns.arm(item.id, d, due);
  ctx.emit({ kind: 'work_item', event: 'whistled', at, item: updated, actor: { id: actor.id, role: actor.role }, data: { departments: added, reportDue } });
  return updated;
}

export const whistleAction: ActionHandler = (ctx, { item, actor, input }) => {
  if (!input.departments?.length) throw new DomainError('WI_BAD_INPUT', REFUSALS.noDepartments(), { field: 'departments' });
  return whistle(ctx, item, actor, input.departments, input.note);
};

/**
 * 报到: a whistled department says it is on its way — itself, or recorded on its behalf by a grid
 * worker or an admin (代报到: `department` names it, the timeline says who recorded it for whom).
 */
export const reportIn: ActionHandler = async (ctx, { item, action, actor, input, whistles }) => {
  const department = onBehalfOf(item, actor, input, whistles, 'report_in');
  const updated = await move(ctx, item, action, actor, {
    note: input.note,
    photos: input.photos,
    data: { department, ...(actor.role === 'department' ? {} : { onBehalf: true, recordedBy: actor.id }) },
    within: async (tx) => void (await markWhistle(tx, item.id, department, 'reported_at', ctx.isoNow())),
  });
  ctx.reportIns.disarm(item.id, department);
  return updated;
};

/** The department an action is for: the actor's own, or the whistled one named for 代报到. */
export function onBehalfOf(item: WorkItem, actor: Actor, input: ActInput, whistles: Whistle[], action: string): string {
  if (actor.role === 'department') return actor.department!;
  const d = input.department;
  if (!d) throw new DomainError('WI_BAD_INPUT', REFUSALS.nameTheDepartment(action), { field: 'department' });
  if (!whistles.some((w) => w.department === d)) throw new DomainError('WI_BAD_INPUT', REFUSALS.notWhistled(d, item.id), { field: 'department' });
  return d;
}
