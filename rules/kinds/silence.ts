import { z } from 'zod';
import { kindSchema, seconds, type RuleKind } from './kind.ts';

const params = { heartbeats: z.number().int().min(1), verifyS: z.number().nonnegative() };

const schema = kindSchema('silence', { heartbeats: params.heartbeats });
export type SilenceRule = z.output<typeof schema>;

/**
 * Any message from the device is a sign of life. The alarm rises when none came for `heartbeats`
 * × the type's heartbeat, and clears (after `verifyS`) when one comes.
 */
export const silence: RuleKind<typeof schema> = {
  kind: 'silence',
  schema,
  params,
  listensTo: 'message',
  step(rule, s, _value, { now, heartbeatS }) {
    const silentAt = now + seconds(rule.heartbeats * heartbeatS);
    switch (s?.phase ?? 'normal') {
      case 'normal':
        return { phase: 'normal', action: 'none', due: silentAt };
      case 'active':
        return rule.verifyS > 0 ? { phase: 'clearing', action: 'clearing', due: now + seconds(rule.verifyS) } : { phase: 'normal', action: 'clear', due: silentAt };
      default:
        return { phase: s!.phase, action: 'none', due: s!.due };
    }
  },
  due(rule, s, { now, lastSeen, heartbeatS }) {
    const silentAt = lastSeen + seconds(rule.heartbeats * heartbeatS);
    if (s.phase === 'normal') return now >= silentAt ? { phase: 'active', action: 'raise' } : { phase: s.phase, action: 'none', due: silentAt };
    if (s.phase === 'clearing') return { phase: 'normal', action: 'clear', due: silentAt };
    return { phase: s.phase, action: 'none' };
  },
  resume: (rule, s, a) => (s.phase === 'clearing' ? a.since + seconds(rule.verifyS) : undefined),
  // A changed `heartbeats` moves a quiet device's deadline now, not at its next message.
  rearm: (rule, s, { lastSeen, heartbeatS }) => (s.phase === 'normal' ? lastSeen + seconds(rule.heartbeats * heartbeatS) : s.due),
  atOpen: (_rule, _s, { now, lastSeen }) => ({ readings: [{ ts: lastSeen, at: now, value: { lastMessageAt: new Date(lastSeen).toISOString() } }] }),
  describe: () => ({}),
};
