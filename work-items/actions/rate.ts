import { DomainError } from '../../core/errors.ts';
import { PLATFORM } from '../context.ts';
import { move } from '../move.ts';
import { NOTES, REFUSALS } from '../texts.ts';
import type { ActionHandler } from './handler.ts';
import { reopen } from './reopen.ts';

/** 评价: the resident's stars on what they raised; a poor rating (≤ 2★) reopens it (a ticket goes back to the property manager). */
export const rate: ActionHandler = async (ctx, { item, action, actor, input }) => {
  if (!input.rating) throw new DomainError('WI_BAD_INPUT', REFUSALS.required('rating'), { field: 'rating' });
  if (item.rating) throw new DomainError('WI_ALREADY_RATED', REFUSALS.alreadyRated(item.id), { status: item.status, allowed: [] });
  const rated = await move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { rating: { ...input.rating, at: ctx.isoNow() } }, data: { rating: input.rating } });
  return input.rating.overall <= 2 ? reopen(ctx, rated, PLATFORM, NOTES.poorRating(input.rating.overall, item.kind)) : rated;
};

/** 回访: the manager's return visit; unsatisfied reopens the ticket. */
export const revisit: ActionHandler = async (ctx, { item, action, actor, input }) => {
  if (!input.revisit) throw new DomainError('WI_BAD_INPUT', REFUSALS.required('revisit'), { field: 'revisit' });
  const visited = await move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { revisit: { ...input.revisit, at: ctx.isoNow(), by: actor.id } }, data: { revisit: input.revisit } });
  return input.revisit.result === 'unsatisfied' ? reopen(ctx, visited, PLATFORM, NOTES.unsatisfiedVisit()) : visited;
};
