import { DomainError } from '../../core/errors.ts';
import { assigneeFits, nextStaff } from '../dispatch.ts';
import { move } from '../move.ts';
import { REFUSALS } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/**
 * 分流转办 (dispatch) and 转派 (transfer): to the person named, or, for a ticket dispatched without
 * one, to the compound's staff in turn (round-robin).
 */
export const dispatch: ActionHandler = async (ctx, { item, action, actor, input, whistles }) => {
  const roundRobin = !input.assigneeId && item.kind === 'ticket' && action === 'dispatch';
  const assigneeId = input.assigneeId ?? (roundRobin ? await nextStaff(ctx, item) : undefined);
  if (!assigneeId) throw new DomainError('WI_BAD_INPUT', REFUSALS.required('assigneeId'), { field: 'assigneeId' });
  if (!(await assigneeFits(ctx, item, whistles, assigneeId, actor))) throw new DomainError('WI_BAD_INPUT', REFUSALS.cannotTake(assigneeId, item.kind), { field: 'assigneeId' });
  return move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { assigneeId }, data: { assigneeId, mode: roundRobin ? 'round_robin' : 'assign' } });
};

/** 抢单: the first staff member to grab it wins (the version check turns the others away). */
export const grab: ActionHandler = (ctx, { item, action, actor, input }) =>
  move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { assigneeId: actor.id }, data: { assigneeId: actor.id, mode: 'grab' } });

/** 退单: back to be dispatched again. */
export const giveBack: ActionHandler = (ctx, { item, action, actor, input }) =>
  move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { assigneeId: null }, data: { returnedBy: actor.id } });
