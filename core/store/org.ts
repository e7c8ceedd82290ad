import type { Queryable } from './db.ts';

export const ORG_KINDS = ['street', 'community', 'grid', 'micro_grid', 'building'] as const;
export type OrgKind = (typeof ORG_KINDS)[number];

export interface OrgUnit {
  id: string;
  kind: OrgKind;
  parentId: string | null;
  name: string;
}

export interface OrgNode extends OrgUnit {
  children: OrgNode[];
}

export async function insertOrgUnits(db: Queryable, units: OrgUnit[]): Promise<void> {
  if (units.length === 0) return;
  await db.query(
    `INSERT INTO org_units (id, kind, parent_id, name)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
    [units.map((u) => u.id), units.map((u) => u.kind), units.map((u) => u.parentId), units.map((u) => u.name)],
  );
}

export async function listOrgUnits(db: Queryable): Promise<OrgUnit[]> {
  const { rows } = await db.query<{ id: string; kind: OrgKind; parent_id: string | null; name: string }>(
    'SELECT id, kind, parent_id, name FROM org_units ORDER BY id',
  );
  return rows.map((r) => ({ id: r.id, kind: r.kind, parentId: r.parent_id, name: r.name }));
}

export async function getOrgUnit(db: Queryable, id: string): Promise<OrgUnit | undefined> {
  const { rows } = await db.query<{ id: string; kind: OrgKind; parent_id: string | null; name: string }>(
    'SELECT id, kind, parent_id, name FROM org_units WHERE id = $1',
    [id],
  );
  const r = rows[0];
  return r && { id: r.id, kind: r.kind, parentId: r.parent_id, name: r.name };
}

/** Nests a flat list of units into trees, roots first (normally one street). */
export function buildOrgTree(units: OrgUnit[]): OrgNode[] {
  const nodes = new Map<string, OrgNode>(units.map((u) => [u.id, { ...u, children: [] }]));
  const roots: OrgNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parentId ? nodes.get(node.parentId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}

/** The grids under these communities (what a dispatcher may hand work to). */
export async function gridsOf(db: Queryable, communityIds: readonly string[]): Promise<string[]> {
  if (communityIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM org_units WHERE kind = 'grid' AND parent_id = ANY($1::text[]) ORDER BY id`, [communityIds]);
  return rows.map((r) => r.id);
}
