import type { Role } from './domain.ts';

/**
 * The one access rule: which rows of each kind of data a signed-in person may read. Every API
 * route declares the kind of data it returns (`config.reach`, checked at start: a route without
 * one stops the platform), the route's queries are filtered by the scope computed here, and a
 * single row (an id) outside it is answered as if it did not exist. The work-item layer asks the
 * same table (work-items/access.ts).
 */
export const RESOURCES = ['org', 'alarms', 'devices', 'work_orders', 'tickets', 'profiles', 'contacts', 'admin'] as const;
export type Resource = (typeof RESOURCES)[number];

export type Scope =
  | { kind: 'all' }
  | { kind: 'none' }
  /** Rows of these grids, or of these communities (compounds), or (work items) assigned to this person. */
  | { kind: 'org'; gridIds: string[]; communityIds: string[]; assigneeId?: string }
  /** What this person filed (a resident's own tickets and 事件上报). */
  | { kind: 'reporter'; reporterId: string }
  /** Items this department was whistled to. */
  | { kind: 'department'; department: string };

export interface Reader {
  id: string;
  role: Role;
  gridIds: string[];
  communityIds: string[];
  department: string | null;
}

const ALL: Scope = { kind: 'all' };
const NONE: Scope = { kind: 'none' };
// What is assigned to a person is theirs to see wherever it is (a dispatcher may hand a grid worker an item of a neighbouring grid).
const grids = (u: Reader): Scope => ({ kind: 'org', gridIds: u.gridIds, communityIds: [], assigneeId: u.id });
const compounds = (u: Reader): Scope => ({ kind: 'org', gridIds: [], communityIds: u.communityIds, assigneeId: u.id });
/** A community's or the street's dispatcher: everything in their communities (a street dispatcher's are its street's). */
const dispatcher: Partial<Record<Resource, (u: Reader) => Scope>> = { org: () => ALL, alarms: compounds, devices: compounds, work_orders: compounds, tickets: compounds, profiles: compounds };

/**
 * Who reads what (README "Work items", SECURITY.md). Grid workers: their grids' sensors, alarms,
 * work orders and profiles, not residents' tickets. Property managers: their compounds' sensors,
 * alarms, tickets and (read-only) work orders. Property staff: their compounds' tickets. Whistled
 * departments: the work orders they were whistled to. Residents: what they filed. Community and
 * street dispatchers: everything in their communities (tickets read-only). The notifier (the
 * notification flows' sign-in) reads every item and everyone's contacts, to tell the right people;
 * nobody else reads another person's contacts. Everyone signed in reads the org tree (names of places).
 */
const TABLE: Record<Exclude<Role, 'admin'>, Partial<Record<Resource, (u: Reader) => Scope>>> = {
  street_dispatcher: dispatcher,
  community_dispatcher: dispatcher,
  grid_worker: { org: () => ALL, alarms: grids, devices: grids, work_orders: grids, profiles: grids },
  property_manager: { org: () => ALL, alarms: compounds, devices: compounds, work_orders: compounds, tickets: compounds, profiles: compounds },
  property_staff: { org: () => ALL, tickets: compounds },
  department: { org: () => ALL, work_orders: (u) => ({ kind: 'department', department: u.department ?? '' }) },
  resident: { org: () => ALL, tickets: (u) => ({ kind: 'reporter', reporterId: u.id }), work_orders: (u) => ({ kind: 'reporter', reporterId: u.id }) },
  notifier: { org: () => ALL, work_orders: () => ALL, tickets: () => ALL, contacts: () => ALL },
};

export function scopeFor(u: Reader, resource: Resource): Scope {
  if (u.role === 'admin') return ALL;
  return TABLE[u.role][resource]?.(u) ?? NONE;
}

/** What a row says about where it belongs. */
export interface Placed {
  gridId: string | null;
  communityId: string | null;
  reporterId?: string | null;
  assigneeId?: string | null;
  /** Departments whistled to it (work items). */
  departments?: readonly string[];
}

export function inScope(s: Scope, row: Placed): boolean {
  switch (s.kind) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'org':
      return (row.gridId !== null && s.gridIds.includes(row.gridId)) || (row.communityId !== null && s.communityIds.includes(row.communityId)) || (s.assigneeId !== undefined && row.assigneeId === s.assigneeId);
    case 'reporter':
      return row.reporterId === s.reporterId;
    case 'department':
      return row.departments?.includes(s.department) ?? false;
  }
}

/** A table's columns the scope is checked on (`assignee`, `reporter`, `id`: work items). */
export interface ScopeColumns {
  grid: string;
  community: string;
  reporter?: string;
  assignee?: string;
  id?: string;
}

/**
 * The scope as a SQL condition on a table's columns, with its parameters numbered from `next`.
 * `department` needs the table to be work items (the whistles are joined by id).
 */
export function scopeSql(s: Scope, cols: ScopeColumns, next: number): { sql: string; params: unknown[] } | undefined {
  switch (s.kind) {
    case 'all':
      return undefined;
    case 'none':
      return { sql: 'false', params: [] };
    case 'org': {
      const assigned = cols.assignee && s.assigneeId !== undefined ? ` OR ${cols.assignee} = $${next + 2}` : '';
      return { sql: `(${cols.grid} = ANY($${next}::text[]) OR ${cols.community} = ANY($${next + 1}::text[])${assigned})`, params: assigned ? [s.gridIds, s.communityIds, s.assigneeId] : [s.gridIds, s.communityIds] };
    }
    case 'reporter':
      return cols.reporter ? { sql: `${cols.reporter} = $${next}`, params: [s.reporterId] } : { sql: 'false', params: [] };
    case 'department':
      return cols.id ? { sql: `${cols.id} IN (SELECT item_id FROM work_item_whistles WHERE department = $${next})`, params: [s.department] } : { sql: 'false', params: [] };
  }
}
