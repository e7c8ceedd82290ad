import { DomainError } from '../../core/errors.ts';
import type { Actor, WorkItemContext } from '../context.ts';
import { move } from '../move.ts';
import { nextLevel } from '../sla.ts';
import type { WorkItem } from '../store.ts';
import { NOTES } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/**
 * One level up the ladder (grid → community → street), by hand or by the platform when a deadline
 * is missed. The new level gets a fresh window for whichever deadline was missed.
 */
export async function escalate(ctx: WorkItemContext, item: WorkItem, actor: Actor, why: string): Promise<WorkItem> {
  const level = nextLevel(item.escalationLevel);
  if (!level) throw new DomainError('WI_TOP_LEVEL', `escalate on ${item.id}: already at the street, the top of the ladder`, { status: item.status, allowed: [] });
  const now = ctx.clock.now();
  const fresh = ctx.sla.deadlinesFor(item.severity, now);
  const fields: Partial<WorkItem> = item.acceptedAt ? { escalationLevel: level, resolveDue: fresh.resolveDue } : { escalationLevel: level, acceptDue: fresh.acceptDue };
  const updated = await move(ctx, item, 'escalate', actor, { note: why, fields, data: { level, from: item.escalationLevel } });
  ctx.emit({ kind: 'work_item', event: 'escalated', at: new Date(now).toISOString(), item: updated, data: { level, why } });
  return updated;
}

export const escalateAction: ActionHandler = (ctx, { item, actor, input }) => escalate(ctx, item, actor, input.note ?? NOTES.escalatedByHand(nextLevel(item.escalationLevel) ?? item.escalationLevel));
