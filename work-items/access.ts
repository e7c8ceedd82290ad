import type { User } from '../core/store/users.ts';
import type { ItemFilter, WorkItem, Whistle } from './store.ts';
import type { Action } from './transitions.ts';

/**
 * Where each role may look and act (DESIGN §4), beyond what the transition table allows: grid
 * workers in their own grids, property people in their own compounds, staff on what is theirs,
 * departments on what they were whistled to, residents on their own tickets.
 */
export function canSee(u: User, item: WorkItem, whistled: Whistle[]): boolean {
  switch (u.role) {
    case 'admin':
      return true;
    case 'grid_worker':
      return item.gridId !== null && u.gridIds.includes(item.gridId);
    case 'property_manager':
    case 'property_staff':
      return item.communityId !== null && u.communityIds.includes(item.communityId);
    case 'department':
      return whistled.some((w) => w.department === u.department);
    case 'resident':
      return item.kind === 'ticket' && item.reporterId === u.id;
  }
}

/** The same reach as a filter for listing from the store (canSee's twin in SQL). */
export function scopeOf(u: User): ItemFilter['scope'] {
  switch (u.role) {
    case 'admin':
      return undefined;
    case 'grid_worker':
      return { gridIds: u.gridIds };
    case 'property_manager':
    case 'property_staff':
      return { communityIds: u.communityIds };
    case 'department':
      return { department: u.department ?? '' };
    case 'resident':
      return { reporterId: u.id };
  }
}

/** Why this user may not take this action on this item (undefined: they may). */
export function actProblem(u: User, item: WorkItem, action: Action, whistled: Whistle[]): string | undefined {
  if (!canSee(u, item, whistled)) return 'not yours to see';
  if (u.role === 'property_staff' && action !== 'grab' && item.assigneeId !== u.id) return 'only the assigned staff member may act on this ticket';
  if (u.role === 'property_manager' && item.kind !== 'ticket') return 'property managers act on tickets; grid work orders are read-only for them';
  if (u.role === 'grid_worker' && item.kind !== 'work_order') return 'grid workers act on grid work orders';
  return undefined;
}
