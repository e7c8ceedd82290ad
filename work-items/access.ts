import type { ItemKind } from '../core/domain.ts';
import { inScope, scopeFor, type Scope } from '../core/reach.ts';
import type { User } from '../core/store/users.ts';
import type { WorkItem, Whistle } from './store.ts';
import type { Action } from './transitions.ts';

/**
 * Where each role may look (core/reach.ts, the platform's one access table) and act, beyond what
 * the transition table allows: grid workers on their grids' work orders, property managers on
 * their compounds' tickets (work orders read-only), staff on the tickets given to them, departments
 * on what they were whistled to, residents on what they filed.
 */
export function canSee(u: User, item: WorkItem, whistled: Whistle[]): boolean {
  return inScope(scopeOf(u, item.kind), { ...item, departments: whistled.map((w) => w.department) });
}

/** The same reach for listing from the store (the one table in core/reach.ts). */
export function scopeOf(u: User, kind: ItemKind): Scope {
  return scopeFor(u, kind === 'ticket' ? 'tickets' : 'work_orders');
}

/** Why this user may not take this action on this item (undefined: they may). */
export function actProblem(u: User, item: WorkItem, action: Action, whistled: Whistle[]): string | undefined {
  if (!canSee(u, item, whistled)) return 'not yours to see';
  if (u.role === 'property_staff' && action !== 'grab' && item.assigneeId !== u.id) return 'only the assigned staff member may act on this ticket';
  if (u.role === 'property_manager' && item.kind !== 'ticket') return 'property managers act on tickets; grid work orders are read-only for them';
  if (u.role === 'grid_worker' && item.kind !== 'work_order') return 'grid workers act on grid work orders';
  return undefined;
}
