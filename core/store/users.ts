import type { Channel, Role } from '../domain.ts';
import type { Queryable } from './db.ts';

export type UserRole = Role;

/** Who a bearer token belongs to, and where they may act. */
export interface User {
  id: string;
  name: string;
  role: UserRole;
  /** Grid worker: the grids they serve. */
  gridIds: string[];
  /** Property manager and staff: the compounds (communities) they serve. */
  communityIds: string[];
  /** Department users: which department (fire_brigade, police, …). */
  department: string | null;
  /** Residents: the buildings they live in (their registered address), the only ones they may file tickets for. */
  buildingIds?: string[];
  /** Street dispatchers: their streets (their `communityIds` are the communities under them, as the tree is now). */
  streetIds?: string[];
}

type Row = { id: string; name: string; role: UserRole; grid_ids: string[]; community_ids: string[]; department: string | null; building_ids: string[]; street_ids: string[]; street_communities: string[] };
const toUser = (r: Row): User => ({
  id: r.id, name: r.name, role: r.role, gridIds: r.grid_ids, department: r.department, buildingIds: r.building_ids, streetIds: r.street_ids,
  communityIds: [...new Set([...r.community_ids, ...r.street_communities])],
});
/** A user with the communities their streets hold (a street dispatcher reaches every one of them). */
const SELECT_USERS = `SELECT u.*, ARRAY(SELECT o.id FROM org_units o WHERE o.kind = 'community' AND o.parent_id = ANY(u.street_ids) ORDER BY o.id) AS street_communities FROM users u`;

export async function insertUser(db: Queryable, u: User & { tokenSha256: string }): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO users (id, name, role, token_sha256, grid_ids, community_ids, department, building_ids, street_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
    [u.id, u.name, u.role, u.tokenSha256, u.gridIds, u.communityIds, u.department, u.buildingIds ?? [], u.streetIds ?? []],
  );
  return (r.affectedRows ?? 0) > 0;
}

export async function userByToken(db: Queryable, tokenSha256: string): Promise<User | undefined> {
  // A revoked user's token is refused at once.
  const { rows } = await db.query<Row>(`${SELECT_USERS} WHERE u.token_sha256 = $1 AND u.revoked_at IS NULL`, [tokenSha256]);
  return rows[0] && toUser(rows[0]);
}

/** Revokes a user's token; false if there is no such active user. */
export async function revokeUser(db: Queryable, id: string): Promise<boolean> {
  const r = await db.query('UPDATE users SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return (r.affectedRows ?? 0) > 0;
}

/** Gives a user a new token (the old one stops working); a revoked user gets one back only this way. */
export async function setUserToken(db: Queryable, id: string, tokenSha256: string): Promise<boolean> {
  const r = await db.query('UPDATE users SET token_sha256 = $2, revoked_at = NULL WHERE id = $1', [id, tokenSha256]);
  return (r.affectedRows ?? 0) > 0;
}

/** Whether the user's token was revoked (for the list). */
export async function revokedUsers(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM users WHERE revoked_at IS NOT NULL');
  return new Set(rows.map((r) => r.id));
}

/** An active user (a revoked one is nobody to dispatch to). */
export async function getUser(db: Queryable, id: string): Promise<User | undefined> {
  const { rows } = await db.query<Row>(`${SELECT_USERS} WHERE u.id = $1 AND u.revoked_at IS NULL`, [id]);
  return rows[0] && toUser(rows[0]);
}

/** Users, active ones only unless `withRevoked` (the admin's list); only those of `ids` when given. */
export async function listUsers(db: Queryable, f: { role?: UserRole; withRevoked?: boolean; ids?: readonly string[] } = {}): Promise<User[]> {
  const params: unknown[] = [];
  const conds = [f.role ? `u.role = $${params.push(f.role)}` : '', f.ids ? `u.id = ANY($${params.push(f.ids)}::text[])` : '', f.withRevoked ? '' : 'u.revoked_at IS NULL'].filter(Boolean);
  const { rows } = await db.query<Row>(`${SELECT_USERS} ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY u.id`, params);
  return rows.map(toUser);
}

/**
 * Who is on duty for a unit: a grid's worker, a community's or a street's dispatcher (one table,
 * keyed by the unit). Items of that grid, or escalated to that level, go to them.
 */
export async function setDuty(db: Queryable, gridId: string, userId: string): Promise<void> {
  await db.query('INSERT INTO duty (grid_id, user_id) VALUES ($1, $2) ON CONFLICT (grid_id) DO UPDATE SET user_id = EXCLUDED.user_id', [gridId, userId]);
}

export async function onDuty(db: Queryable, gridId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ user_id: string }>('SELECT d.user_id FROM duty d JOIN users u ON u.id = d.user_id WHERE d.grid_id = $1 AND u.revoked_at IS NULL', [gridId]);
  return rows[0]?.user_id;
}

/**
 * The dispatcher who takes an item escalated to a level (community or street): the one on duty for
 * that unit, else the first active dispatcher of that level who reaches it.
 */
export async function dispatcherFor(db: Queryable, role: UserRole, unitId: string, communityId: string | null): Promise<string | undefined> {
  const duty = await onDuty(db, unitId);
  if (duty) return duty;
  const all = await listUsers(db, { role });
  return all.find((u) => (communityId !== null && u.communityIds.includes(communityId)) || u.streetIds?.includes(unitId))?.id;
}

/** How a person is reached (README "Notifications"); shown only to admins, the notifier and the person themself. */
export interface Contacts {
  phone: string | null;
  wecomUserId: string | null;
  dingtalkUserId: string | null;
  /** The channels they want; null: every channel they have an address on. */
  channels: Channel[] | null;
  /** Residents: told of their own items' progress (有进度可查). */
  notifyProgress: boolean;
}

export const NO_CONTACTS: Contacts = { phone: null, wecomUserId: null, dingtalkUserId: null, channels: null, notifyProgress: true };

type ContactRow = { id: string; phone: string | null; wecom_user_id: string | null; dingtalk_user_id: string | null; channels: Channel[] | null; notify_progress: boolean };
const toContacts = (r: ContactRow): Contacts => ({ phone: r.phone, wecomUserId: r.wecom_user_id, dingtalkUserId: r.dingtalk_user_id, channels: r.channels, notifyProgress: r.notify_progress });

/** Sets what is given of a person's contacts (a field left out keeps its value). */
export async function setContacts(db: Queryable, id: string, c: Partial<Contacts>): Promise<boolean> {
  const cols: [keyof Contacts, string][] = [['phone', 'phone'], ['wecomUserId', 'wecom_user_id'], ['dingtalkUserId', 'dingtalk_user_id'], ['channels', 'channels'], ['notifyProgress', 'notify_progress']];
  const given = cols.filter(([k]) => c[k] !== undefined);
  if (!given.length) return (await getUser(db, id)) !== undefined;
  const r = await db.query(`UPDATE users SET ${given.map(([, col], i) => `${col} = $${i + 2}`).join(', ')} WHERE id = $1`, [id, ...given.map(([k]) => c[k])]);
  return (r.affectedRows ?? 0) > 0;
}

/** Contacts by user id (active users; all of them unless `ids`). */
export async function contactsOf(db: Queryable, ids?: readonly string[]): Promise<Map<string, Contacts>> {
  const { rows } = await db.query<ContactRow>(
    `SELECT id, phone, wecom_user_id, dingtalk_user_id, channels, notify_progress FROM users WHERE revoked_at IS NULL${ids ? ' AND id = ANY($1::text[])' : ''}`,
    ids ? [ids] : [],
  );
  return new Map(rows.map((r) => [r.id, toContacts(r)]));
}

/** The duty table: unit id → who is on duty there. */
export async function dutyTable(db: Queryable): Promise<Record<string, string>> {
  const { rows } = await db.query<{ grid_id: string; user_id: string }>('SELECT d.grid_id, d.user_id FROM duty d JOIN users u ON u.id = d.user_id WHERE u.revoked_at IS NULL ORDER BY d.grid_id');
  return Object.fromEntries(rows.map((r) => [r.grid_id, r.user_id]));
}

/** People's names by id (a timeline says who acted, by name; nothing else about them). */
export async function namesOf(db: Queryable, ids: readonly string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map();
  const { rows } = await db.query<{ id: string; name: string }>('SELECT id, name FROM users WHERE id = ANY($1::text[])', [[...new Set(ids)]]);
  return new Map(rows.map((r) => [r.id, r.name]));
}
