import { isDispatcher } from '../core/domain.ts';
import { gridsOf } from '../core/store/org.ts';
import { getUser, listUsers } from '../core/store/users.ts';
import type { Actor, WorkItemContext } from './context.ts';
import { canSee } from './access.ts';
import type { Whistle, WorkItem } from './store.ts';

/**
 * Who takes an item. Work orders: the grid worker on duty in the item's grid (at intake, see
 * intake.ts) or whoever a dispatcher names; tickets: the compound's property staff, named or in turn.
 */

/** Round-robin among the compound's property staff (the turn is kept per platform instance). */
export async function nextStaff(ctx: WorkItemContext, item: WorkItem): Promise<string | undefined> {
  const staff = (await listUsers(ctx.db, { role: 'property_staff' })).filter((u) => item.communityId !== null && u.communityIds.includes(item.communityId));
  if (staff.length === 0) return undefined;
  const n = ctx.staffTurns.get(item.communityId!) ?? 0;
  ctx.staffTurns.set(item.communityId!, n + 1);
  return staff[n % staff.length]!.id;
}

/**
 * Whether this person can take this item: a ticket's staff of its compound, a work order's grid
 * worker (or an admin) who can see it — or, handed on by a dispatcher, any grid worker below them.
 */
export async function assigneeFits(ctx: WorkItemContext, item: WorkItem, whistled: Whistle[], assigneeId: string, by: Actor): Promise<boolean> {
  const a = await getUser(ctx.db, assigneeId);
  if (!a) return false;
  if (item.kind === 'ticket') return a.role === 'property_staff' && canSee(a, item, whistled);
  if (a.role !== 'grid_worker' && a.role !== 'admin') return false;
  if (canSee(a, item, whistled)) return true;
  if (a.role !== 'grid_worker' || !isDispatcher(by.role)) return false;
  const below = new Set(await gridsOf(ctx.db, by.communityIds));
  return a.gridIds.some((g) => below.has(g));
}
