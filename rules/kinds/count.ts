import { z } from 'zod';
import { kindSchema, seconds, type KindState, type RuleKind } from './kind.ts';
import { confident } from './event.ts';

const params = { minConfidence: z.number().min(0).max(1), count: z.number().int().min(2), windowS: z.number().positive() };

const schema = kindSchema('count', {
  event: z.string(),
  minConfidence: params.minConfidence.default(0),
  count: params.count,
  windowS: params.windowS,
});
export type CountRule = z.output<typeof schema>;

/** The matching events' times in the window, oldest first: the rule's memory. */
const hitsOf = (s: KindState | undefined): number[] => [...((s?.memory?.hits as number[] | undefined) ?? [])];

function trimWindow(hits: number[], now: number, windowS: number): number[] {
  const from = now - seconds(windowS);
  let drop = 0;
  while (drop < hits.length && hits[drop]! < from) drop++;
  return drop ? hits.slice(drop) : hits;
}

/** The moment the window would hold one event too few. */
const countDue = (hits: number[], rule: { count: number; windowS: number }) => hits[hits.length - rule.count]! + seconds(rule.windowS) + 1;

/** The `count`-th matching event within `windowS` (the third e-bike within an hour); clears once fewer are left in the window. */
export const count: RuleKind<typeof schema> = {
  kind: 'count',
  schema,
  params,
  listensTo: 'event',
  target: (rule) => rule.event,
  step(rule, s, value, { now }) {
    if (!confident(rule, value)) return undefined;
    const hits = trimWindow([...hitsOf(s), now], now, rule.windowS);
    const memory = { hits };
    if ((s?.phase ?? 'normal') === 'normal') {
      if (hits.length < rule.count) return { phase: 'normal', action: 'none', memory };
      return { phase: 'active', action: 'raise', due: countDue(hits, rule), memory };
    }
    return { phase: 'active', action: 'repeat', due: countDue(hits, rule), memory };
  },
  due(rule, s, { now }) {
    const hits = trimWindow(hitsOf(s), now, rule.windowS);
    const memory = { hits };
    if (s.phase !== 'active') return { phase: s.phase, action: 'none', memory };
    if (hits.length >= rule.count) return { phase: s.phase, action: 'none', due: countDue(hits, rule), memory };
    return { phase: 'normal', action: 'clear', memory };
  },
  resume(rule, s, _a, { now }) {
    const hits = trimWindow(hitsOf(s), now, rule.windowS);
    s.memory = { hits };
    return hits.length >= rule.count ? countDue(hits, rule) : now;
  },
  // A count alarm stands for the events in its window.
  atOpen: (_rule, s) => {
    const hits = hitsOf(s);
    return { count: hits.length || 1, params: { hitsInWindow: hits.map((t) => new Date(t).toISOString()) } };
  },
  describe: (rule) => ({ event: rule.event }),
};
