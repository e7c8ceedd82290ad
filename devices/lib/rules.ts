import { z } from 'zod';

/** Departments a work order can be whistled to (网格吹哨、部门报到). */
export const DEPARTMENTS = ['fire_brigade', 'municipal_works', 'police', 'city_management'] as const;
export const SEVERITIES = ['critical', 'major', 'minor'] as const;

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
