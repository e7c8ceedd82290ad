import type { EffectiveRule } from './params.ts';

/**
 * The alarm state machine of one (device, rule), as pure functions: what a reading or a due time
 * does to it. The engine applies the resulting action to the alarm record and the store.
 *
 *   normal ──breach──▶ pending ──hold elapsed──▶ active ──back past clear──▶ clearing ──verify elapsed──▶ normal
 *                         │ not breaching             ▲ breach / in band         │
 *                         ▼                           └──────────────────────────┘
 *                       normal (cancel)
 */
export type Phase = 'normal' | 'pending' | 'active' | 'clearing';

/** What a step asks of the engine. */
export type Action =
  | 'none'
  | 'pending' // hold started: open a pending alarm
  | 'hit' // another breaching reading while pending: evidence, count
  | 'raise' // the alarm becomes active
  | 'repeat' // another breach while active: count, last seen
  | 'cancel' // the hold failed: the pending alarm never was
  | 'clearing' // back past the clear level: the verify time starts
  | 'resume' // the verify failed: active again
  | 'clear'; // the alarm is over

export interface Step {
  phase: Phase;
  action: Action;
  /** When the state wants to be woken next (undefined: only a reading moves it). */
  due?: number;
  /** The reading that resumed the alarm was itself a breach: count it. */
  repeat?: boolean;
}

/** Where a level reading stands: past the trigger, inside the hysteresis band, or past the clear level. */
export type Level = 'breach' | 'band' | 'clear';

export function levelOf(rule: EffectiveRule, value: unknown): Level | undefined {
  if (rule.kind === 'boolean') return typeof value === 'boolean' ? (value ? 'breach' : 'clear') : undefined;
  if (rule.kind !== 'threshold' || typeof value !== 'number') return undefined;
  if (rule.direction === 'above') return value >= rule.trigger ? 'breach' : value < rule.clear ? 'clear' : 'band';
  return value <= rule.trigger ? 'breach' : value > rule.clear ? 'clear' : 'band';
}

const seconds = (s: number) => s * 1000;

/**
 * Threshold and boolean rules. A pending hold needs the trigger held continuously: any reading short
 * of it cancels the hold (debounce). Once active, only a reading past the clear level starts the
 * verify time (hysteresis); a reading back inside the band or past the trigger resumes the alarm.
 */
export function stepLevel(phase: Phase, level: Level, rule: EffectiveRule & { holdS: number }, now: number, due: number | undefined): Step {
  switch (phase) {
    case 'normal':
      if (level !== 'breach') return { phase, action: 'none' };
      return rule.holdS > 0 ? { phase: 'pending', action: 'pending', due: now + seconds(rule.holdS) } : { phase: 'active', action: 'raise' };
    case 'pending':
      return level === 'breach' ? { phase, action: 'hit', due } : { phase: 'normal', action: 'cancel' };
    case 'active':
      if (level === 'breach') return { phase, action: 'repeat' };
      if (level === 'band') return { phase, action: 'none' };
      return rule.verifyS > 0 ? { phase: 'clearing', action: 'clearing', due: now + seconds(rule.verifyS) } : { phase: 'normal', action: 'clear' };
    case 'clearing':
      if (level === 'clear') return { phase, action: 'none', due };
      return { phase: 'active', action: 'resume', repeat: level === 'breach' };
  }
}

/** A due time on a level rule: the hold or the verify time has run out. */
export function dueLevel(phase: Phase): Step {
  if (phase === 'pending') return { phase: 'active', action: 'raise' };
  if (phase === 'clearing') return { phase: 'normal', action: 'clear' };
  return { phase, action: 'none' };
}

/** Event rules: every matching event raises or repeats; the alarm clears after `clearAfterS` without one. */
export function stepEvent(phase: Phase, rule: EffectiveRule & { kind: 'event' }, now: number): Step {
  const due = now + seconds(rule.clearAfterS);
  return phase === 'normal' ? { phase: 'active', action: 'raise', due } : { phase: 'active', action: 'repeat', due };
}

/**
 * Count-in-window rules (the third e-bike within an hour). `hits` holds the matching events' times,
 * oldest first, trimmed to the window. The alarm clears once the window holds fewer than `count`.
 */
export function stepCount(phase: Phase, hits: number[], rule: EffectiveRule & { kind: 'count' }, now: number): Step {
  hits.push(now);
  trimWindow(hits, now, rule.windowS);
  if (phase === 'normal') {
    if (hits.length < rule.count) return { phase, action: 'none' };
    return { phase: 'active', action: 'raise', due: countDue(hits, rule) };
  }
  return { phase: 'active', action: 'repeat', due: countDue(hits, rule) };
}

export function dueCount(phase: Phase, hits: number[], rule: EffectiveRule & { kind: 'count' }, now: number): Step {
  trimWindow(hits, now, rule.windowS);
  if (phase !== 'active') return { phase, action: 'none' };
  if (hits.length >= rule.count) return { phase, action: 'none', due: countDue(hits, rule) };
  return { phase: 'normal', action: 'clear' };
}

/** The moment the window would hold one event too few. */
const countDue = (hits: number[], rule: { count: number; windowS: number }) => hits[hits.length - rule.count]! + seconds(rule.windowS) + 1;

export function trimWindow(hits: number[], now: number, windowS: number): void {
  const from = now - seconds(windowS);
  let drop = 0;
  while (drop < hits.length && hits[drop]! < from) drop++;
  if (drop) hits.splice(0, drop);
}

/**
 * Silence rules: any message from the device is a sign of life. The alarm rises when none came for
 * `heartbeats` × the type's heartbeat, and clears (after `verifyS`) when one comes.
 */
export function stepSilenceMessage(phase: Phase, rule: EffectiveRule & { kind: 'silence' }, heartbeatS: number, now: number, due: number | undefined): Step {
  const silentAt = now + seconds(rule.heartbeats * heartbeatS);
  switch (phase) {
    case 'normal':
      return { phase, action: 'none', due: silentAt };
    case 'active':
      return rule.verifyS > 0 ? { phase: 'clearing', action: 'clearing', due: now + seconds(rule.verifyS) } : { phase: 'normal', action: 'clear', due: silentAt };
    default:
      return { phase, action: 'none', due };
  }
}

export function dueSilence(phase: Phase, lastSeen: number, rule: EffectiveRule & { kind: 'silence' }, heartbeatS: number, now: number): Step {
  const silentAt = lastSeen + seconds(rule.heartbeats * heartbeatS);
  if (phase === 'normal') return now >= silentAt ? { phase: 'active', action: 'raise' } : { phase, action: 'none', due: silentAt };
  if (phase === 'clearing') return { phase: 'normal', action: 'clear', due: silentAt };
  return { phase, action: 'none' };
}
