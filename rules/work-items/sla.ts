import { z } from 'zod';

/** Per-severity deadlines (DESIGN §4 defaults): accept within, resolve within, in seconds. */
export const slaSchema = z.partialRecord(z.enum(['critical', 'major', 'minor']), z.object({ acceptS: z.number().positive(), resolveS: z.number().positive() }).strict());
export type Sla = Record<'critical' | 'major' | 'minor', { acceptS: number; resolveS: number }>;

export const DEFAULT_SLA: Sla = {
  critical: { acceptS: 5 * 60, resolveS: 3600 },
  major: { acceptS: 30 * 60, resolveS: 24 * 3600 },
  minor: { acceptS: 4 * 3600, resolveS: 72 * 3600 },
};

/** The ladder a missed deadline climbs: 小事不出网格、大事不出社区、难事不出街道. */
export const LEVELS = ['grid', 'community', 'street'] as const;
export type Level = (typeof LEVELS)[number];

export function nextLevel(level: Level): Level | undefined {
  return LEVELS[LEVELS.indexOf(level) + 1];
}
