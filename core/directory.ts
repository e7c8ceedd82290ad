import type { Queryable } from './store/db.ts';

/** Where a device hangs in the org tree: what sinks tag, overrides and storms look at, and items are routed by. */
export interface Placement {
  deviceId: string;
  type: string;
  buildingId: string;
  microGridId: string | null;
  gridId: string | null;
  communityId: string | null;
  streetId: string | null;
  /** What people call the places and the device (titles name places, not ids). */
  names?: { building: string; grid: string | null; community: string | null; device: string | null };
}

/** From a building `b` up the tree: its micro-grid, grid, community and street. */
const UP_FROM_BUILDING = `
  LEFT JOIN org_units m ON m.id = b.parent_id
  LEFT JOIN org_units g ON g.id = m.parent_id
  LEFT JOIN org_units c ON c.id = g.parent_id
  LEFT JOIN org_units s ON s.id = c.parent_id`;
const CHAIN = 'b.id AS building, m.id AS micro, g.id AS grid, c.id AS community, s.id AS street';

const SELECT = `SELECT d.id, d.type, d.name AS device_name, b.name AS building_name, g.name AS grid_name, c.name AS community_name, ${CHAIN} FROM devices d JOIN org_units b ON b.id = d.building_id ${UP_FROM_BUILDING}`;

type Row = { id: string; type: string; building: string; micro: string | null; grid: string | null; community: string | null; street: string | null; device_name: string | null; building_name: string; grid_name: string | null; community_name: string | null };
const toPlacement = (r: Row): Placement => ({
  deviceId: r.id, type: r.type, buildingId: r.building, microGridId: r.micro, gridId: r.grid, communityId: r.community, streetId: r.street,
  names: { building: r.building_name, grid: r.grid_name, community: r.community_name, device: r.device_name },
});

async function loadPlacements(db: Queryable): Promise<Placement[]> {
  const { rows } = await db.query<Row>(SELECT);
  return rows.map(toPlacement);
}

async function loadPlacement(db: Queryable, deviceId: string): Promise<Placement | undefined> {
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

/** The org units above a building, with their names (for an item a person files: it has no device). */
export async function buildingPlacement(db: Queryable, buildingId: string): Promise<(Omit<Placement, 'deviceId' | 'type' | 'names'> & { names: { building: string; grid: string | null; community: string | null } }) | undefined> {
  const { rows } = await db.query<{ building: string; micro: string | null; grid: string | null; community: string | null; street: string | null; building_name: string; grid_name: string | null; community_name: string | null }>(
    `SELECT ${CHAIN}, b.name AS building_name, g.name AS grid_name, c.name AS community_name FROM org_units b ${UP_FROM_BUILDING} WHERE b.id = $1 AND b.kind = 'building'`,
    [buildingId],
  );
  const r = rows[0];
  return r && { buildingId: r.building, microGridId: r.micro, gridId: r.grid, communityId: r.community, streetId: r.street, names: { building: r.building_name, grid: r.grid_name, community: r.community_name } };
}

/**
 * The store-backed directory of devices: where each hangs in the tree. Loaded once at start and
 * read synchronously on the hot path (the InfluxDB sink's tags, the rules engine); a device the
 * store has and the directory does not yet (registered through the API, or by another node) is
 * looked up once and kept. Ingest, rules, work items and the API all read this one.
 */
export class Directory {
  private readonly byDevice = new Map<string, Placement>();

  constructor(private readonly db: Queryable) {}

  async load(): Promise<void> {
    for (const p of await loadPlacements(this.db)) this.byDevice.set(p.deviceId, p);
  }

  /** The device's placement if the directory has it (never waits). */
  get(deviceId: string): Placement | undefined {
    return this.byDevice.get(deviceId);
  }

  /** The device's placement, from the store if the directory does not have it yet. */
  async find(deviceId: string): Promise<Placement | undefined> {
    return this.byDevice.get(deviceId) ?? this.refresh(deviceId);
  }

  /** Reads the device's placement from the store again (a device just registered or moved). */
  async refresh(deviceId: string): Promise<Placement | undefined> {
    const p = await loadPlacement(this.db, deviceId);
    if (p) this.byDevice.set(deviceId, p);
    else this.byDevice.delete(deviceId);
    return p;
  }

  all(): IterableIterator<Placement> {
    return this.byDevice.values();
  }

  /** The org units above a building (a resident's ticket has no device). */
  building(buildingId: string): ReturnType<typeof buildingPlacement> {
    return buildingPlacement(this.db, buildingId);
  }
}
