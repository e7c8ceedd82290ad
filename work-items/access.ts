import type { ItemKind } from '../core/domain.ts';
import { inScope, scopeFor, type Scope } from '../core/reach.ts';
import type { User } from '../core/store/users.ts';
import type { WorkItem, Whistle } from './store.ts';
import type { Action } from './transitions.ts';
import type { Actor } from './context.ts';
import { isDispatcher } from '../core/domain.ts';
import type { Label } from '../core/vocabulary.ts';
import { NOT_YOURS } from './texts.ts';

/**
 * Where each role may look (core/reach.ts, the platform's one access table) and act, beyond what
 * the transition table allows: grid workers on their grids' work orders, property managers on
 * their compounds' tickets (work orders read-only), staff on the tickets given to them, departments
 * on what they were whistled to, residents on what they filed.
 */
export function canSee(u: User, item: WorkItem, whistled: Whistle[]): boolean {
  return inScope(scopeOf(u, item.kind), { ...item, departments: whistled.map((w) => w.department) });
}

/** Whether an actor sees the item: the platform sees everything, a person what their reach holds. */
export function actorSees(a: Actor, item: WorkItem, whistled: Whistle[]): boolean {
  return a.role === 'platform' || canSee({ ...a, role: a.role }, item, whistled);
}

/** The same reach for listing from the store (the one table in core/reach.ts). */
export function scopeOf(u: User, kind: ItemKind): Scope {
  return scopeFor(u, kind === 'ticket' ? 'tickets' : 'work_orders');
}

/** Why this user may not take this action on this item (undefined: they may). */
export function actProblem(u: User, item: WorkItem, action: Action, whistled: Whistle[]): Label | undefined {
  if (!canSee(u, item, whistled)) return NOT_YOURS.notVisible;
  if (u.role === 'property_staff' && action !== 'grab' && item.assigneeId !== u.id) return NOT_YOURS.notAssigned;
  if (u.role === 'property_manager' && item.kind !== 'ticket') return NOT_YOURS.managersReadOnly;
  if (u.role === 'grid_worker' && item.kind !== 'work_order') return NOT_YOURS.gridWorkOrders;
  if (isDispatcher(u.role) && item.kind !== 'work_order') return NOT_YOURS.dispatchersWorkOrders;
  // A resident rates what they raised, nothing else they might see.
  if (action === 'rate' && item.reporterId !== u.id) return NOT_YOURS.onlyReporterRates;
  return undefined;
}
