/**
 * The six-step closed loop (DESIGN §4) as one table: which action moves an item from which status
 * to which, for which kind of item, and who may take it. The API answers a refused action with a conflict
 * and the actions this actor may take now, computed from the same table. An action that writes more
 * than the status has its handler in `actions/` (registered in `actions/index.ts`); every move,
 * people's and the platform's, is checked here and written by `move.ts`.
 *
 *   collected ─accept→ accepted ─dispatch→ dispatched ─start→ in_progress ─resolve→ resolved ─verify→ closed
 *   信息收集           立案受理            分流转办              问题处置              结果反馈            核查结单
 */
import { ACTIONS, DISPATCHER_ROLES, ITEM_KINDS, OPEN_STATUSES, type Action, type ItemKind, type Role, type Status } from '../core/domain.ts';

export { ACTIONS, isFinished, OPEN_STATUSES, ROLES, STATUSES, type Action, type Role, type Status } from '../core/domain.ts';

/**
 * Who takes an action: a role, or the platform itself (auto-close, merge, escalation, relapse,
 * whistles a rule asks for). The platform goes through this same table; it is not a login.
 */
export type Actor = Role | 'platform';
export type Kind = ItemKind;

interface Rule {
  from: readonly Status[];
  /** Where a role's own use of the action starts elsewhere (a department finishes its part while the item is open). */
  fromByRole?: Partial<Record<Actor, readonly Status[]>>;
  /** The status after; `same` leaves it where it is (escalate, whistle, report_in, rate, revisit). */
  to: Status | 'same';
  kinds: readonly Kind[];
  roles: readonly Actor[];
  /** Not even an admin takes it by hand. */
  platformOnly?: boolean;
}

const BOTH: readonly Kind[] = ITEM_KINDS;
const OPEN = OPEN_STATUSES;
/** The community's and the street's dispatchers (中心调度): they route, whistle, merge and close; field work is the grid's. */
const DISPATCH = DISPATCHER_ROLES;
const DISPATCHERS_FROM = Object.fromEntries(DISPATCH.map((r) => [r, OPEN]));

/**
 * Who does what. Grid workers run grid work orders in their own grids; community and street
 * dispatchers take what is escalated to their level, route it to a grid worker below them, whistle,
 * record departments' parts (代报到), merge duplicates and close; property managers run tickets in
 * their compounds and property staff work the ones given to them; whistled departments report in
 * and finish their part; residents rate what they raised. An admin may take every action.
 */
export const TRANSITIONS: Record<Action, Rule> = {
  accept: { from: ['collected'], to: 'accepted', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', ...DISPATCH] },
  dispatch: { from: ['accepted'], to: 'dispatched', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', ...DISPATCH] },
  grab: { from: ['accepted'], to: 'dispatched', kinds: ['ticket'], roles: ['property_staff'] },
  start: { from: ['dispatched'], to: 'in_progress', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_staff', 'department'] },
  // A department's resolve finishes its own part; the item moves on once every whistled department has.
  // (A dispatcher resolves only a department's part, on its behalf: actions/resolve.ts.)
  resolve: { from: ['in_progress'], fromByRole: { department: ['accepted', 'dispatched', 'in_progress'], ...DISPATCHERS_FROM }, to: 'resolved', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_staff', 'department', ...DISPATCH] },
  verify: { from: ['resolved'], to: 'closed', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', 'platform', ...DISPATCH] },
  reject: { from: ['collected', 'accepted'], to: 'rejected', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', ...DISPATCH] },
  reopen: { from: ['resolved', 'closed', 'rejected'], to: 'accepted', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', 'platform', ...DISPATCH] },
  escalate: { from: OPEN, to: 'same', kinds: ['work_order'], roles: ['admin', 'grid_worker', 'platform', 'community_dispatcher'] },
  whistle: { from: OPEN, to: 'same', kinds: ['work_order'], roles: ['admin', 'grid_worker', 'platform', ...DISPATCH] },
  // 代报到: a grid worker or a dispatcher (or an admin) may record a whistled department's report-in on its behalf.
  report_in: { from: OPEN, to: 'same', kinds: ['work_order'], roles: ['department', 'grid_worker', ...DISPATCH] },
  transfer: { from: ['dispatched', 'in_progress'], to: 'dispatched', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', ...DISPATCH] },
  return: { from: ['dispatched'], to: 'accepted', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_staff'] },
  // Residents rate what they raised: their tickets and their 事件上报.
  rate: { from: ['resolved', 'closed'], to: 'same', kinds: BOTH, roles: ['resident'] },
  revisit: { from: ['closed'], to: 'same', kinds: ['ticket'], roles: ['admin', 'property_manager'] },
  // 无感销: only the platform, once the sensor has stayed normal for the rule's verify time.
  auto_close: { from: OPEN, to: 'closed', kinds: BOTH, roles: ['platform'], platformOnly: true },
  // Duplicates fold into one item: a storm's by the platform, others by a dispatcher (`intoId`).
  merge: { from: OPEN, to: 'closed', kinds: BOTH, roles: ['platform', 'admin', ...DISPATCH] },
  // 紧急事件一键调度: every responsible person at once, on every channel they have (flows/). The
  // platform takes it for a service account that published `platform/commands/urgent` (MQTT).
  urgent: { from: OPEN, to: 'same', kinds: BOTH, roles: ['admin', 'grid_worker', 'property_manager', 'platform', ...DISPATCH] },
};

/** Whether the table lets this actor take this action on an item of this kind in this status. */
export function permitted(action: Action, kind: Kind, status: Status, actor: Actor): boolean {
  const t = TRANSITIONS[action];
  const from = t.fromByRole?.[actor] ?? t.from;
  return t.kinds.includes(kind) && from.includes(status) && (t.roles.includes(actor) || (actor === 'admin' && !t.platformOnly));
}

/** The status an action leads to. */
export function nextStatus(action: Action, status: Status): Status {
  const to = TRANSITIONS[action].to;
  return to === 'same' ? status : to;
}

/** Every action the table allows this actor on an item of this kind in this status. */
export function allowedActions(kind: Kind, status: Status, actor: Actor): Action[] {
  return ACTIONS.filter((a) => permitted(a, kind, status, actor));
}
