import { seconds, type KindState, type Step } from './kind.ts';

/** Where a level reading stands: past the trigger, inside the hysteresis band, or past the clear level. */
export type Level = 'breach' | 'band' | 'clear';

/**
 * The machine threshold and boolean rules share. A pending hold needs the trigger held
 * continuously: any reading short of it cancels the hold (debounce). Once active, only a reading
 * past the clear level starts the verify time (hysteresis); a reading back inside the band or past
 * the trigger resumes the alarm.
 */
export function stepLevel(s: KindState | undefined, level: Level | undefined, rule: { holdS: number; verifyS: number }, now: number): Step | undefined {
  // A quiet rule and a reading short of the trigger: nothing happens, nothing is allocated.
  if (!level || (!s && level !== 'breach')) return undefined;
  const phase = s?.phase ?? 'normal';
  const recovered = level === 'clear';
  switch (phase) {
    case 'normal':
      if (level !== 'breach') return { phase, action: 'none' };
      return rule.holdS > 0 ? { phase: 'pending', action: 'pending', due: now + seconds(rule.holdS) } : { phase: 'active', action: 'raise' };
    case 'pending':
      return level === 'breach' ? { phase, action: 'hit', due: s!.due } : { phase: 'normal', action: 'cancel' };
    case 'active':
      if (level === 'breach') return { phase, action: 'repeat' };
      if (level === 'band') return { phase, action: 'none' };
      return rule.verifyS > 0 ? { phase: 'clearing', action: 'clearing', due: now + seconds(rule.verifyS), recovered } : { phase: 'normal', action: 'clear', recovered };
    case 'clearing':
      if (level === 'clear') return { phase, action: 'none', due: s!.due, recovered };
      return { phase: 'active', action: 'resume', repeat: level === 'breach' };
  }
}

/** A due time on a level rule: the hold or the verify time has run out. */
export function dueLevel(s: KindState): Step {
  if (s.phase === 'pending') return { phase: 'active', action: 'raise' };
  if (s.phase === 'clearing') return { phase: 'normal', action: 'clear' };
  return { phase: s.phase, action: 'none' };
}

/** Where a level alarm's deadline was before a restart: its hold or its verify time. */
export function resumeLevel(s: KindState, rule: { holdS: number; verifyS: number }, since: number): number | undefined {
  return s.phase === 'pending' ? since + seconds(rule.holdS) : s.phase === 'clearing' ? since + seconds(rule.verifyS) : undefined;
}
