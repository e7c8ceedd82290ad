import { move } from '../move.ts';
import type { ActionHandler } from './handler.ts';

/** An action that writes only the status and its timeline entry (start, reject). */
export const plain: ActionHandler = (ctx, { item, action, actor, input }) => move(ctx, item, action, actor, { note: input.note, photos: input.photos });
