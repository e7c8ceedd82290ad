import { z } from 'zod';
import { DEPARTMENTS } from '../../core/domain.ts';
import { kindSchema, seconds, type RuleKind } from './kind.ts';

const params = { minConfidence: z.number().min(0).max(1), clearAfterS: z.number().positive() };

const schema = kindSchema('event', {
  event: z.string(),
  minConfidence: params.minConfidence.default(0),
  /** A repeat with the same value of this data field within `windowS` whistles more departments. */
  repeat: z.object({ sameField: z.string(), windowS: z.number().positive(), whistle: z.array(z.enum(DEPARTMENTS)) }).optional(),
  /** An event alarm has no reading to return to normal: it clears after this many quiet seconds. */
  clearAfterS: params.clearAfterS.default(300),
  /** Downlink sent to the device on every matching event. */
  command: z.object({ name: z.string(), params: z.record(z.string(), z.unknown()).default({}) }).optional(),
});
export type EventRule = z.output<typeof schema>;

/** Whether an event's `confidence` reaches the rule's minimum (shared with count rules). */
export function confident(rule: { minConfidence: number }, data: unknown): boolean {
  const c = (data as Record<string, unknown>).confidence;
  return rule.minConfidence <= 0 || (typeof c === 'number' && c >= rule.minConfidence);
}

/**
 * Every matching event raises or repeats; the alarm clears after `clearAfterS` without one. A
 * repeat of the same `repeat.sameField` value (the same floor) within its window whistles more
 * departments; a `command` goes to the device on every one.
 */
export const event: RuleKind<typeof schema> = {
  kind: 'event',
  schema,
  params,
  listensTo: 'event',
  target: (rule) => rule.event,
  step(rule, s, value, { now }) {
    if (!confident(rule, value)) return undefined;
    const phase = s?.phase ?? 'normal';
    const due = now + seconds(rule.clearAfterS);
    const step = phase === 'normal' ? { phase: 'active' as const, action: 'raise' as const, due } : { phase: 'active' as const, action: 'repeat' as const, due };
    const data = value as Record<string, unknown>;
    if (!rule.repeat || data[rule.repeat.sameField] === undefined) return { ...step, command: !!rule.command };
    // The values seen in the window (the floors), kept as the rule's memory.
    const seen = { ...((s?.memory?.seen as Record<string, number> | undefined) ?? {}) };
    const from = now - seconds(rule.repeat.windowS);
    for (const k of Object.keys(seen)) if (seen[k]! < from) delete seen[k];
    const key = String(data[rule.repeat.sameField]);
    const repeated = seen[key] !== undefined;
    seen[key] = now;
    return { ...step, command: !!rule.command, memory: { seen }, whistle: repeated ? rule.repeat.whistle : undefined };
  },
  due: (_rule, s) => (s.phase === 'active' ? { phase: 'normal', action: 'clear' } : { phase: s.phase, action: 'none' }),
  resume: (rule, _s, a) => a.lastSeenAt + seconds(rule.clearAfterS),
  describe: (rule) => ({ event: rule.event }),
};
