import { z } from 'zod';

import { DEPARTMENTS, SEVERITIES } from '../../core/domain.ts';

export { DEPARTMENTS, SEVERITIES };

const raises = z.object({
  /** A grid work order (网格工单) or a property ticket (物业报修). */
  item: z.enum(['work_order', 'ticket']),
  severity: z.enum(SEVERITIES),
  whistle: z.array(z.enum(DEPARTMENTS)).default([]),
  /** 无感销: the item may close itself once the reading stays normal for `verifyS`. */
  autoClose: z.boolean().default(false),
  category: z.string().optional(),
});

const base = {
  id: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string(),
  /** The work item an alarm of this rule opens; absent for rules that only act (a downlink) and record. */
  raises: raises.optional(),
  /** Seconds the condition must stay cleared before the alarm clears. */
  verifyS: z.number().nonnegative().default(0),
  /**
   * Storm grouping: alarms of the same `group` from different devices in one `scope` (a building by
   * default) within `windowS` of each other join one incident instead of standing alone.
   */
  storm: z.object({
    group: z.string().regex(/^[a-z0-9-]+$/).optional(),
    scope: z.enum(['building', 'micro_grid', 'grid']).default('building'),
    windowS: z.number().positive().default(300),
  }).default({ scope: 'building', windowS: 300 }),
};

/**
 * Default alarm rules, as data (DESIGN §3). The rules service consumes them; overrides down the
 * org tree change the numbers, never the shape.
 */
export const ruleSchema = z.discriminatedUnion('kind', [
  z.object({
    ...base,
    kind: z.literal('threshold'),
    prop: z.string(),
    /** `above`: breach when value >= trigger, clear when < clear. `below`: the mirror image. */
    direction: z.enum(['above', 'below']).default('above'),
    trigger: z.number(),
    clear: z.number(),
    holdS: z.number().nonnegative().default(0),
  }),
  z.object({ ...base, kind: z.literal('boolean'), prop: z.string(), holdS: z.number().nonnegative().default(0) }),
  z.object({
    ...base,
    kind: z.literal('event'),
    event: z.string(),
    minConfidence: z.number().min(0).max(1).default(0),
    /** A repeat with the same value of this data field within `windowS` whistles more departments. */
    repeat: z.object({ sameField: z.string(), windowS: z.number().positive(), whistle: z.array(z.enum(DEPARTMENTS)) }).optional(),
    /** An event alarm has no reading to return to normal: it clears after this many quiet seconds. */
    clearAfterS: z.number().positive().default(300),
    /** Downlink sent to the device on every matching event. */
    command: z.object({ name: z.string(), params: z.record(z.string(), z.unknown()).default({}) }).optional(),
  }),
  z.object({
    ...base,
    kind: z.literal('count'),
    event: z.string(),
    minConfidence: z.number().min(0).max(1).default(0),
    count: z.number().int().min(2),
    windowS: z.number().positive(),
  }),
  z.object({ ...base, kind: z.literal('silence'), heartbeats: z.number().int().min(1) }),
]);

export type RuleInput = z.input<typeof ruleSchema>;
export type Rule = z.output<typeof ruleSchema>;

/**
 * Checks what a schema cannot see field by field: a hysteresis band must open the right way (for
 * `above`, clear ≤ trigger). Returns the offending field and why, or undefined. Overrides are checked
 * the same way after merging, so a site can never configure a rule that flaps by construction.
 */
export function ruleParamsProblem(rule: Rule): { field: string; message: string } | undefined {
  if (rule.kind !== 'threshold') return undefined;
  if (rule.direction === 'above' && rule.clear > rule.trigger) return { field: 'clear', message: `clear (${rule.clear}) must not be above trigger (${rule.trigger}) for a rule that fires above its trigger` };
  if (rule.direction === 'below' && rule.clear < rule.trigger) return { field: 'clear', message: `clear (${rule.clear}) must not be below trigger (${rule.trigger}) for a rule that fires below its trigger` };
  return undefined;
}
