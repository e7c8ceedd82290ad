import type { Actor, WorkItemContext } from '../context.ts';
import { move } from '../move.ts';
import type { WorkItem } from '../store.ts';
import { NOTES } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/** Back to 立案受理 with fresh deadlines and nobody assigned: by hand, on a relapse, a poor rating or an unsatisfied return visit. */
export function reopen(ctx: WorkItemContext, item: WorkItem, actor: Actor, note: string, more: { fields?: Partial<WorkItem>; data?: Record<string, unknown> } = {}): Promise<WorkItem> {
  const fields = { closedAt: null, resolvedAt: null, assigneeId: null, ...ctx.sla.deadlinesFor(item.severity, ctx.clock.now()), ...more.fields };
  return move(ctx, item, 'reopen', actor, { note, fields, data: more.data });
}

export const reopenAction: ActionHandler = (ctx, { item, actor, input }) => reopen(ctx, item, actor, input.note ?? NOTES.reopened());
