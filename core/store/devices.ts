import type { Queryable } from './db.ts';
import { page, Where } from './page.ts';

export interface DeviceRecord {
  id: string;
  type: string;
  buildingId: string;
  name: string | null;
  protocol: string;
  online: boolean;
  lastSeen: Date | null;
  latest: Record<string, unknown>;
  createdAt: Date;
}

interface DeviceRow {
  id: string;
  type: string;
  building_id: string;
  name: string | null;
  protocol: string;
  online: boolean;
  last_seen: Date | null;
  latest: Record<string, unknown>;
  created_at: Date;
}

const fromRow = (r: DeviceRow): DeviceRecord => ({
  id: r.id,
  type: r.type,
  buildingId: r.building_id,
  name: r.name,
  protocol: r.protocol,
  online: r.online,
  lastSeen: r.last_seen,
  latest: r.latest,
  createdAt: r.created_at,
});

export interface NewDevice {
  id: string;
  type: string;
  buildingId: string;
  name?: string | null;
  secretHash: string;
  protocol?: string;
}

/** Inserts devices; returns the ids that already existed (and were left untouched). */
export async function insertDevices(db: Queryable, devices: NewDevice[]): Promise<string[]> {
  if (devices.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO devices (id, type, building_id, name, secret_hash, protocol)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [
      devices.map((d) => d.id),
      devices.map((d) => d.type),
      devices.map((d) => d.buildingId),
      devices.map((d) => d.name ?? null),
      devices.map((d) => d.secretHash),
      devices.map((d) => d.protocol ?? 'mqtt'),
    ],
  );
  const inserted = new Set(rows.map((r) => r.id));
  return devices.map((d) => d.id).filter((id) => !inserted.has(id));
}

export async function getDevice(db: Queryable, id: string): Promise<DeviceRecord | undefined> {
  const { rows } = await db.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id]);
  return rows[0] && fromRow(rows[0]);
}

/** What the broker needs to authenticate a CONNECT. */
export async function getDeviceCredentials(db: Queryable, id: string): Promise<{ id: string; type: string; secretHash: string; protocol: string } | undefined> {
  const { rows } = await db.query<{ id: string; type: string; secret_hash: string; protocol: string }>(
    'SELECT id, type, secret_hash, protocol FROM devices WHERE id = $1',
    [id],
  );
  const r = rows[0];
  return r && { id: r.id, type: r.type, secretHash: r.secret_hash, protocol: r.protocol };
}

export async function countDevices(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ type: string; n: number }>('SELECT type, count(*)::int AS n FROM devices GROUP BY type');
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

/**
 * Applies a batch of presence changes (the last change per device wins) and keeps each in the
 * device's presence history, in one statement: the history never says what the device row does not.
 */
export async function applyPresence(db: Queryable, changes: { id: string; online: boolean; at: Date }[], nodeId: string): Promise<void> {
  if (changes.length === 0) return;
  // A connection takes the device to this node; a disconnect counts only where the device still is
  // (one that moved to another node, whose write came first, stays online there).
  await db.query(
    `WITH c AS (SELECT * FROM unnest($1::text[], $2::boolean[], $3::timestamptz[]) AS c(id, online, at)),
     moved AS (UPDATE devices d SET online = c.online, node_id = $4, last_seen = GREATEST(d.last_seen, c.at) FROM c
       WHERE d.id = c.id AND (c.online OR d.node_id IS NULL OR d.node_id = $4) RETURNING d.id)
     INSERT INTO device_presence (device_id, at, online) SELECT c.id, c.at, c.online FROM c WHERE c.id IN (SELECT id FROM moved)`,
    [changes.map((c) => c.id), changes.map((c) => c.online), changes.map((c) => c.at.toISOString()), nodeId],
  );
}

/** The node a device is connected to, or was last (its rule deadlines belong there while it is away). */
export async function deviceNode(db: Queryable, id: string): Promise<{ online: boolean; nodeId: string | null } | undefined> {
  const { rows } = await db.query<{ online: boolean; node_id: string | null }>('SELECT online, node_id FROM devices WHERE id = $1', [id]);
  return rows[0] && { online: rows[0].online, nodeId: rows[0].node_id };
}

/** A device's online/offline changes, newest first. */
export async function presenceHistory(db: Queryable, deviceId: string, limit = 100): Promise<{ at: Date; online: boolean }[]> {
  const { rows } = await db.query<{ at: Date; online: boolean }>('SELECT at, online FROM device_presence WHERE device_id = $1 ORDER BY at DESC LIMIT $2', [deviceId, limit]);
  return rows;
}

/** Deletes presence history older than the readings' retention window. */
export async function prunePresence(db: Queryable, olderThan: Date): Promise<number> {
  const r = await db.query('DELETE FROM device_presence WHERE at < $1', [olderThan.toISOString()]);
  return r.affectedRows ?? 0;
}

/** Devices with their presence, for lists (the overview counts, the device pages). */
export async function listDevices(db: Queryable, filter: { ids?: string[]; type?: string; online?: boolean; limit: number; offset: number }): Promise<{ items: DeviceRecord[]; total: number }> {
  const w = new Where();
  if (filter.ids) w.add('id = ANY(?::text[])', filter.ids);
  if (filter.type) w.add('type = ?', filter.type);
  if (filter.online !== undefined) w.add('online = ?', filter.online);
  const { rows, total } = await page<DeviceRow>(db, 'devices', w, 'id', filter.limit, filter.offset);
  return { items: rows.map(fromRow), total };
}

/** Merges the latest telemetry per device into `devices.latest` and moves `last_seen` forward. */
export async function mergeLatest(db: Queryable, latest: { id: string; props: Record<string, unknown>; at: Date }[]): Promise<void> {
  if (latest.length === 0) return;
  await db.query(
    `UPDATE devices d SET latest = d.latest || c.props, last_seen = GREATEST(d.last_seen, c.at)
     FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[]) AS c(id, props, at) WHERE d.id = c.id`,
    [latest.map((l) => l.id), latest.map((l) => JSON.stringify(l.props)), latest.map((l) => l.at.toISOString())],
  );
}

/**
 * Marks devices offline at start-up, when none can be connected to this node yet: every device on
 * one node, only this node's with `nodeId` (in a cluster the others' devices are theirs).
 */
export async function resetPresence(db: Queryable, nodeId?: string): Promise<void> {
  // The history says they went offline now: when the node stopped is not known.
  await db.query(
    `WITH gone AS (UPDATE devices SET online = false WHERE online AND ($1::text IS NULL OR node_id = $1) RETURNING id)
    INSERT INTO device_presence (device_id, at, online) SELECT id, now(), false FROM gone`,
    [nodeId ?? null],
  );
}

/** A device's new secret (hashed): the old one stops working. False if there is no such device. */
export async function setDeviceSecret(db: Queryable, id: string, secretHash: string): Promise<boolean> {
  const r = await db.query('UPDATE devices SET secret_hash = $2 WHERE id = $1', [id, secretHash]);
  return (r.affectedRows ?? 0) > 0;
}

/** A hash no secret matches: what a revoked device keeps until it is given a new secret. */
export const REVOKED_SECRET = 'revoked';
