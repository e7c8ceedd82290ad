/**
 * The platform's vocabulary, declared once: roles, departments, severities and the work-item
 * statuses. Everything else (zod schemas, the transition table, SQL) imports these.
 */

/** Who signs in. The platform itself acts as the actor `platform` (see work-items/transitions.ts). */
export const ROLES = ['admin', 'street_dispatcher', 'community_dispatcher', 'property_manager', 'grid_worker', 'property_staff', 'department', 'resident', 'notifier'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Where notifications reach people (flows/, README "Notifications"): 企业微信 and 钉钉 group robots
 * (a message @-mentioning the person) and SMS. The `notifier` role is the flows' own sign-in.
 */
export const CHANNELS = ['wecom', 'dingtalk', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * The dispatchers of the levels above the grid (中心调度): a community's (社区) and the street
 * office's command centre (街道指挥中心). Items escalated to their level are assigned to them.
 */
export const DISPATCHERS = { community: 'community_dispatcher', street: 'street_dispatcher' } as const satisfies Partial<Record<Level, Role>>;
export const DISPATCHER_ROLES = Object.values(DISPATCHERS);
export const isDispatcher = (r: string): boolean => (DISPATCHER_ROLES as readonly string[]).includes(r);

/** Departments a work order can be whistled to (网格吹哨、部门报到). */
export const DEPARTMENTS = ['fire_brigade', 'municipal_works', 'police', 'city_management'] as const;
export type Department = (typeof DEPARTMENTS)[number];

export const SEVERITIES = ['critical', 'major', 'minor'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The six steps (DESIGN §4) plus `rejected`. */
export const STATUSES = ['collected', 'accepted', 'dispatched', 'in_progress', 'resolved', 'closed', 'rejected'] as const;
export type Status = (typeof STATUSES)[number];
/** Closed (verified, auto-closed or merged) or rejected: nothing more happens to the item on its own. */
export const FINISHED_STATUSES = ['closed', 'rejected'] as const satisfies readonly Status[];
export const OPEN_STATUSES = STATUSES.filter((s) => !(FINISHED_STATUSES as readonly Status[]).includes(s));
export const isFinished = (status: Status): boolean => (FINISHED_STATUSES as readonly Status[]).includes(status);

/**
 * `('closed','rejected')` for SQL. The partial unique index `work_items_one_open` is declared with
 * this predicate, and `ON CONFLICT … WHERE` must repeat it for PostgreSQL to infer the index.
 */
export const FINISHED_SQL = `(${FINISHED_STATUSES.map((s) => `'${s}'`).join(',')})`;

/** Every work-item action (DESIGN §4); `auto_close` and `merge` are the platform's own. Who takes which: work-items/transitions.ts. */
export const ACTIONS = ['accept', 'dispatch', 'grab', 'start', 'resolve', 'verify', 'reject', 'reopen', 'escalate', 'whistle', 'report_in', 'transfer', 'return', 'rate', 'revisit', 'auto_close', 'merge', 'urgent'] as const;
export type Action = (typeof ACTIONS)[number];

export const ITEM_KINDS = ['work_order', 'ticket'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** The ladder a missed deadline climbs: 小事不出网格、大事不出社区、难事不出街道. */
export const LEVELS = ['grid', 'community', 'street'] as const;
export type Level = (typeof LEVELS)[number];
