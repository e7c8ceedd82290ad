import { DISPATCHERS } from '../../core/domain.ts';
import { DomainError } from '../../core/errors.ts';
import { dispatcherFor } from '../../core/store/users.ts';
import type { Actor, WorkItemContext } from '../context.ts';
import { move } from '../move.ts';
import { nextLevel } from '../sla.ts';
import type { WorkItem } from '../store.ts';
import { NOTES, REFUSALS } from '../texts.ts';
import type { ActionHandler } from './handler.ts';

/**
 * One level up the ladder (grid → community → street), by hand or by the platform when a deadline
 * is missed. The item goes to that level's dispatcher on duty (中心调度), who routes it on; the new
 * level gets a fresh window for whichever deadline was missed.
 */
export async function escalate(ctx: WorkItemContext, item: WorkItem, actor: Actor, why: string): Promise<WorkItem> {
  const level = nextLevel(item.escalationLevel);
  if (!level) throw new DomainError('WI_TOP_LEVEL', REFUSALS.topLevel(item.id), { status: item.status, allowed: [] });
  const now = ctx.clock.now();
  const fresh = ctx.sla.deadlinesFor(item.severity, now);
  // (nextLevel never gives the grid: the ladder starts there.)
  const unit = level === 'community' ? item.communityId : item.streetId;
  const dispatcher = unit ? await dispatcherFor(ctx.db, DISPATCHERS[level as 'community' | 'street'], unit, item.communityId) : undefined;
  const fields: Partial<WorkItem> = { escalationLevel: level, ...(item.acceptedAt ? { resolveDue: fresh.resolveDue } : { acceptDue: fresh.acceptDue }), ...(dispatcher ? { assigneeId: dispatcher } : {}) };
  const updated = await move(ctx, item, 'escalate', actor, { note: why, fields, data: { level, from: item.escalationLevel, assigneeId: dispatcher ?? null } });
  ctx.emit({ kind: 'work_item', event: 'escalated', at: new Date(now).toISOString(), item: updated, actor: { id: actor.id, role: actor.role }, data: { level, why, assigneeId: dispatcher ?? null } });
  return updated;
}

export const escalateAction: ActionHandler = (ctx, { item, actor, input }) => escalate(ctx, item, actor, input.note ?? NOTES.escalatedByHand(nextLevel(item.escalationLevel) ?? item.escalationLevel));
