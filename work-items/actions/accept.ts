import { move } from '../move.ts';
import type { ActionHandler } from './handler.ts';

/** 立案受理: the accept deadline is met; the resolve clock runs from here. */
export const accept: ActionHandler = (ctx, { item, action, actor, input }) =>
  move(ctx, item, action, actor, { note: input.note, photos: input.photos, fields: { acceptedAt: ctx.isoNow() } });
