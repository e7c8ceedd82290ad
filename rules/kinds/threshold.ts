import { z } from 'zod';
import { kindSchema, type RuleKind } from './kind.ts';
import { dueLevel, resumeLevel, stepLevel } from './level.ts';

const params = { trigger: z.number(), clear: z.number(), holdS: z.number().nonnegative(), verifyS: z.number().nonnegative() };

const schema = kindSchema('threshold', {
  prop: z.string(),
  /** `above`: breach when value >= trigger, clear when < clear. `below`: the mirror image. */
  direction: z.enum(['above', 'below']).default('above'),
  trigger: params.trigger,
  clear: params.clear,
  holdS: params.holdS.default(0),
});
export type ThresholdRule = z.output<typeof schema>;

/** A number past `trigger` for `holdS`, cleared once back past `clear` (the band between is hysteresis) for `verifyS`. */
export const threshold: RuleKind<typeof schema> = {
  kind: 'threshold',
  schema,
  params,
  listensTo: 'prop',
  target: (rule) => rule.prop,
  problem(rule) {
    if (rule.direction === 'above' && rule.clear > rule.trigger) return { field: 'clear', message: `clear (${rule.clear}) must not be above trigger (${rule.trigger}) for a rule that fires above its trigger` };
    if (rule.direction === 'below' && rule.clear < rule.trigger) return { field: 'clear', message: `clear (${rule.clear}) must not be below trigger (${rule.trigger}) for a rule that fires below its trigger` };
    return undefined;
  },
  step(rule, s, value, { now }) {
    if (typeof value !== 'number') return undefined;
    const level = rule.direction === 'above' ? (value >= rule.trigger ? 'breach' : value < rule.clear ? 'clear' : 'band') : value <= rule.trigger ? 'breach' : value > rule.clear ? 'clear' : 'band';
    return stepLevel(s, level, rule, now);
  },
  due: (_rule, s) => dueLevel(s),
  resume: (rule, s, a) => resumeLevel(s, rule, a.since),
  describe: (rule) => ({ prop: rule.prop, direction: rule.direction }),
};
