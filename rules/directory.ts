import type { Queryable } from '../core/store/db.ts';

/** Where a device hangs in the org tree: what overrides, storms and routing look at. */
export interface Placement {
  deviceId: string;
  type: string;
  buildingId: string;
  microGridId: string | null;
  gridId: string | null;
  communityId: string | null;
  streetId: string | null;
}

/** From a building `b` up the tree: its micro-grid, grid, community and street. */
const UP_FROM_BUILDING = `
  LEFT JOIN org_units m ON m.id = b.parent_id
  LEFT JOIN org_units g ON g.id = m.parent_id
  LEFT JOIN org_units c ON c.id = g.parent_id
  LEFT JOIN org_units s ON s.id = c.parent_id`;
const CHAIN = 'b.id AS building, m.id AS micro, g.id AS grid, c.id AS community, s.id AS street';

const SELECT = `SELECT d.id, d.type, ${CHAIN} FROM devices d JOIN org_units b ON b.id = d.building_id ${UP_FROM_BUILDING}`;

type Row = { id: string; type: string; building: string; micro: string | null; grid: string | null; community: string | null; street: string | null };
const toPlacement = (r: Row): Placement => ({ deviceId: r.id, type: r.type, buildingId: r.building, microGridId: r.micro, gridId: r.grid, communityId: r.community, streetId: r.street });

export async function loadPlacements(db: Queryable): Promise<Placement[]> {
  const { rows } = await db.query<Row>(SELECT);
  return rows.map(toPlacement);
}

export async function loadPlacement(db: Queryable, deviceId: string): Promise<Placement | undefined> {
  const { rows } = await db.query<Row>(`${SELECT} WHERE d.id = $1`, [deviceId]);
  return rows[0] && toPlacement(rows[0]);
}

/** The org units above a device, farthest first: the order overrides apply in. */
export function orgChain(p: Placement): string[] {
  return [p.streetId, p.communityId, p.gridId, p.microGridId, p.buildingId].filter((x): x is string => x !== null);
}

/** The unit a storm of the given scope gathers in. */
export function stormScopeId(p: Placement, scope: 'building' | 'micro_grid' | 'grid'): string | null {
  return scope === 'building' ? p.buildingId : scope === 'micro_grid' ? p.microGridId : p.gridId;
}

/** The org units above a building (for a resident's ticket, which has no device). */
export async function buildingPlacement(db: Queryable, buildingId: string): Promise<Omit<Placement, 'deviceId' | 'type'> | undefined> {
  const { rows } = await db.query<{ building: string; micro: string | null; grid: string | null; community: string | null; street: string | null }>(
    `SELECT ${CHAIN} FROM org_units b ${UP_FROM_BUILDING} WHERE b.id = $1 AND b.kind = 'building'`,
    [buildingId],
  );
  const r = rows[0];
  return r && { buildingId: r.building, microGridId: r.micro, gridId: r.grid, communityId: r.community, streetId: r.street };
}
