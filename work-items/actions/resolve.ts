import { isDispatcher } from '../../core/domain.ts';
import { DomainError } from '../../core/errors.ts';
import { markWhistle, type Whistle, type WorkItem } from '../store.ts';
import { move, record } from '../move.ts';
import type { ActionHandler } from './handler.ts';
import { onBehalfOf } from './whistle.ts';
import { REFUSALS } from '../texts.ts';

/**
 * 结果反馈. A whistled department's resolve finishes its own part; the item moves on once every
 * whistled department has. Anyone else resolves only once the departments are done.
 */
export const resolve: ActionHandler = async (ctx, req) => {
  const { item, action, actor, input, whistles } = req;
  const now = ctx.isoNow();
  // A department's own part: by the department, or recorded on its behalf (代报到) naming it.
  if (actor.role === 'department' || input.department) {
    const department = onBehalfOf(item, actor, input, whistles, 'resolve');
    if (!whistles.find((x) => x.department === department)?.reportedAt) throw new DomainError('WI_NOT_REPORTED_IN', REFUSALS.notReportedIn(department, item.id), { status: item.status, allowed: ['report_in'] });
    const left = whistles.filter((x) => x.department !== department && !x.finishedAt).map((x) => x.department);
    const behalf = actor.role === 'department' ? {} : { onBehalf: true, recordedBy: actor.id };
    const m = { note: input.note, photos: input.photos, data: { department, departmentsLeft: left, ...behalf }, within: async (tx: Parameters<typeof markWhistle>[0]) => void (await markWhistle(tx, item.id, department, 'finished_at', now)) };
    if (left.length === 0 && item.status === 'in_progress') return move(ctx, item, action, actor, { ...m, fields: { resolvedAt: now } });
    return record(ctx, item, actor, 'department_finished', m);
  }
  if (isDispatcher(actor.role)) throw new DomainError('WI_BAD_INPUT', REFUSALS.dispatchersRecordParts(), { field: 'department' });
  refuseWhileDepartmentsWork(item, action, whistles);
  return move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { resolvedAt: now, photos: [...item.photos, ...(input.photos ?? [])] } });
};

/** 核查结单: closes a resolved item, once no whistled department is still at work. */
export const verify: ActionHandler = (ctx, { item, action, actor, input, whistles }) => {
  refuseWhileDepartmentsWork(item, action, whistles);
  return move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { closedAt: ctx.isoNow() } });
};

function refuseWhileDepartmentsWork(item: WorkItem, action: string, w: Whistle[]): void {
  const working = w.filter((x) => !x.finishedAt).map((x) => x.department);
  // What moves it on: each department's part, by it or recorded on its behalf (代报到).
  if (working.length) throw new DomainError('WI_DEPARTMENTS_WORKING', REFUSALS.departmentsWorking(action, item.id, working), { status: item.status, allowed: ['report_in', 'resolve'], departments: working });
}
