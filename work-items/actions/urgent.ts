import { move } from '../move.ts';
import { NOTES } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/**
 * 紧急事件一键调度: the status stays; the timeline says who called for it, and the transition
 * event (action `urgent`) is what the notification flows answer by telling every responsible
 * person on every channel, then recording whom they reached (POST /api/v1/notifications).
 */
export const urgent: ActionHandler = (ctx, { item, action, actor, input, whistles }) =>
  move(ctx, item, action, actor, { note: input.note ?? NOTES.urgent(), photos: input.photos, data: { severity: item.severity, departments: whistles.map((w) => w.department) } });
