import { isFinished } from '../../core/domain.ts';
import { DomainError } from '../../core/errors.ts';
import { actorSees } from '../access.ts';
import type { Actor, WorkItemContext } from '../context.ts';
import { move, record, withFresh } from '../move.ts';
import { getItem, whistles, type WorkItem } from '../store.ts';
import { NOTES, REFUSALS } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/**
 * Folds a duplicate into the item that stays: the duplicate closes as merged (its source freed, so
 * the next alarm of its device counts on the keeper's source or opens anew), the keeper takes its
 * count, and both timelines say so. The platform does this for a storm; a dispatcher for duplicates.
 */
export async function mergeInto(ctx: WorkItemContext, other: WorkItem, keeper: WorkItem, actor: Actor, m: { note: string; joinsNote: string; data?: Record<string, unknown> }): Promise<WorkItem> {
  const merged = await move(ctx, other, 'merge', actor, {
    note: m.note,
    fields: { closedAt: ctx.isoNow(), ...(other.sourceKey ? { sourceKey: `merged:${other.sourceKey}` } : {}) },
    data: { into: keeper.id, ...m.data },
  });
  await withFresh(ctx, keeper, (kept) => record(ctx, kept, actor, 'merge', { note: m.joinsNote, fields: { count: kept.count + other.count }, data: { merged: other.id, deviceId: other.deviceId } }));
  return merged;
}

/** 合并: a dispatcher (or an admin) folds this item into `intoId`, an open item of the same kind they can see. */
export const merge: ActionHandler = async (ctx, { item, actor, input }) => {
  const intoId = input.intoId;
  if (!intoId) throw new DomainError('WI_BAD_INPUT', REFUSALS.required('intoId'), { field: 'intoId' });
  const keeper = intoId === item.id ? undefined : await getItem(ctx.db, intoId);
  const fits = keeper && keeper.kind === item.kind && !isFinished(keeper.status) && actorSees(actor, keeper, await whistles(ctx.db, keeper.id));
  if (!fits) throw new DomainError('WI_BAD_INPUT', REFUSALS.cannotMergeInto(intoId), { field: 'intoId' });
  return mergeInto(ctx, item, keeper, actor, { note: input.note ?? NOTES.mergedInto(keeper.id), joinsNote: NOTES.joinsDuplicate(item.id), data: { by: actor.id } });
};
