import { z } from 'zod';
import { kindSchema, type RuleKind } from './kind.ts';
import { dueLevel, resumeLevel, stepLevel } from './level.ts';

const params = { holdS: z.number().nonnegative(), verifyS: z.number().nonnegative() };

const schema = kindSchema('boolean', {
  prop: z.string(),
  /** The value that is the breach: `true` (door open, tamper) or `false` (a module that went offline). */
  when: z.boolean().default(true),
  holdS: params.holdS.default(0),
});
export type BooleanRule = z.output<typeof schema>;

/** A flag at its breach value for `holdS`, cleared once it is back for `verifyS`. */
export const boolean: RuleKind<typeof schema> = {
  kind: 'boolean',
  schema,
  params,
  listensTo: 'prop',
  target: (rule) => rule.prop,
  step: (rule, s, value, { now }) => (typeof value === 'boolean' ? stepLevel(s, value === rule.when ? 'breach' : 'clear', rule, now) : undefined),
  due: (_rule, s) => dueLevel(s),
  resume: (rule, s, a) => resumeLevel(s, rule, a.since),
  describe: (rule) => ({ prop: rule.prop, ...(rule.when ? {} : { when: false }) }),
};
