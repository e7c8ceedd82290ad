import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEPARTMENTS, ROLES } from './domain.ts';
import { contactsSchema } from './contacts.ts';
import { idSchema } from './ids.ts';
import type { OrgUnit } from './store/org.ts';
import { ROOT } from './paths.ts';

const named = { id: idSchema, name: z.string().min(1) };
const deviceEntry = z.union([
  z.object({ type: z.string(), count: z.number().int().min(1).max(1000) }),
  z.object({ type: z.string(), id: idSchema, name: z.string().optional() }),
]);

/**
 * A site file describes one street office's org tree and the devices installed in it. The platform
 * seeds an empty store from it (SITE_FILE, or the demo site when unset).
 */
export const siteSchema = z.object({
  street: z.object({
    ...named,
    communities: z.array(z.object({
      ...named,
      grids: z.array(z.object({
        ...named,
        microGrids: z.array(z.object({
          ...named,
          buildings: z.array(z.object({ ...named, devices: z.array(deviceEntry).default([]) })).min(1),
        })).min(1),
      })).min(1),
    })).min(1),
  }),
  /**
   * Rule parameters that differ from the catalog's defaults at some level of the tree (the nearest
   * wins). Checked against the catalog when the store is seeded; the API changes them afterwards.
   */
  /**
   * The people who work the items: grid workers (with the grids they serve and where they are on
   * duty), community and street dispatchers, property managers and staff (their compounds),
   * department liaisons, residents. Each gets
   * a bearer token at seeding, written once to DATA_DIR/user-tokens.json.
   */
  people: z.array(contactsSchema.extend({
    id: idSchema,
    name: z.string().min(1),
    role: z.enum(ROLES),
    gridIds: z.array(z.string()).default([]),
    communityIds: z.array(z.string()).default([]),
    department: z.enum(DEPARTMENTS).optional(),
    buildingIds: z.array(z.string()).default([]).describe('a resident\'s registered address: the buildings they may file tickets for'),
    streetIds: z.array(z.string()).default([]).describe('a street dispatcher\'s streets (街道指挥中心)'),
    onDuty: z.array(z.string()).default([]).describe('where this person is on duty: a grid worker\'s grids, a dispatcher\'s community or street'),
  })).default([]),
  ruleOverrides: z.array(z.object({
    ruleId: z.string(),
    orgUnitId: z.string().optional(),
    deviceId: z.string().optional(),
    params: z.record(z.string(), z.union([z.number(), z.boolean()])),
  })).default([]),
});

export type Site = z.infer<typeof siteSchema>;

export const DEMO_SITE_FILE = path.join(ROOT, 'core', 'demo-site.json');

export function readSiteFile(file: string): Site {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`site file ${file}: ${(err as Error).message}`);
  }
  const parsed = siteSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`site file ${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export interface SiteDevice {
  id: string;
  type: string;
  buildingId: string;
  name: string | null;
}

/** Flattens a site into org units (parents before children) and devices. */
export function flattenSite(site: Site): { units: OrgUnit[]; devices: SiteDevice[] } {
  const units: OrgUnit[] = [];
  const devices: SiteDevice[] = [];
  const s = site.street;
  units.push({ id: s.id, kind: 'street', parentId: null, name: s.name });
  for (const c of s.communities) {
    units.push({ id: c.id, kind: 'community', parentId: s.id, name: c.name });
    for (const g of c.grids) {
      units.push({ id: g.id, kind: 'grid', parentId: c.id, name: g.name });
      for (const m of g.microGrids) {
        units.push({ id: m.id, kind: 'micro_grid', parentId: g.id, name: m.name });
        for (const b of m.buildings) {
          units.push({ id: b.id, kind: 'building', parentId: m.id, name: b.name });
          for (const d of b.devices) {
            if ('count' in d) {
              for (let i = 1; i <= d.count; i++) devices.push({ id: `${b.id}-${d.type}-${i}`, type: d.type, buildingId: b.id, name: null });
            } else devices.push({ id: d.id, type: d.type, buildingId: b.id, name: d.name ?? null });
          }
        }
      }
    }
  }
  const seen = new Set<string>();
  for (const u of units) {
    if (seen.has(u.id)) throw new Error(`site: org id ${u.id} is used twice`);
    seen.add(u.id);
  }
  const seenDevices = new Set<string>();
  for (const d of devices) {
    if (seenDevices.has(d.id)) throw new Error(`site: device id ${d.id} is used twice`);
    seenDevices.add(d.id);
  }
  return { units, devices };
}
