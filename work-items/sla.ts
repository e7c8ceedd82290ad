import { z } from 'zod';
import { isFinished, LEVELS, SEVERITIES, type Level, type Severity } from '../core/domain.ts';
import type { Clock } from '../rules/clock.ts';
import { Deadlines, type Schedulable } from '../rules/deadlines.ts';
import type { WorkItem } from './store.ts';

/** Per-severity deadlines (DESIGN §4 defaults): accept within, resolve within, in seconds. */
export const slaSchema = z.partialRecord(z.enum(SEVERITIES), z.object({ acceptS: z.number().positive(), resolveS: z.number().positive() }).strict());
export type Sla = Record<Severity, { acceptS: number; resolveS: number }>;

export const DEFAULT_SLA: Sla = {
  critical: { acceptS: 5 * 60, resolveS: 3600 },
  major: { acceptS: 30 * 60, resolveS: 24 * 3600 },
  minor: { acceptS: 4 * 3600, resolveS: 72 * 3600 },
};

export { LEVELS, type Level };

export function nextLevel(level: Level): Level | undefined {
  return LEVELS[LEVELS.indexOf(level) + 1];
}

interface ItemTimer extends Schedulable {
  itemId: string;
}

/**
 * Each open item's next SLA moment on the injectable clock: a reminder (督办) every half accept
 * window until it is accepted, the accept deadline, the resolve deadline. What happens then is
 * `sla-due.ts`.
 */
export class SlaTimers {
  private readonly timers = new Map<string, ItemTimer>();
  private readonly deadlines: Deadlines<ItemTimer>;

  constructor(
    private readonly clock: Clock,
    readonly sla: Sla,
    onDue: (itemId: string) => void,
  ) {
    this.deadlines = new Deadlines(clock, (t) => onDue(t.itemId));
  }

  /** The accept and resolve deadlines of an item of this severity opened (or reopened) at `now`. */
  deadlinesFor(severity: Severity, now: number): { acceptDue: string; resolveDue: string } {
    const s = this.sla[severity] ?? DEFAULT_SLA.minor;
    return { acceptDue: new Date(now + s.acceptS * 1000).toISOString(), resolveDue: new Date(now + s.resolveS * 1000).toISOString() };
  }

  /** (Re)arms the item's timer from its current state. */
  arm(item: WorkItem): void {
    let t = this.timers.get(item.id);
    if (!t) this.timers.set(item.id, (t = { itemId: item.id, due: undefined }));
    t.due = this.nextMoment(item, this.clock.now());
    if (t.due === undefined) this.timers.delete(item.id);
    this.deadlines.update(t);
  }

  close(): void {
    this.deadlines.close();
  }

  private nextMoment(item: WorkItem, now: number): number | undefined {
    if (isFinished(item.status) || item.status === 'resolved') return undefined;
    if (!item.acceptedAt && item.acceptDue) {
      const due = Date.parse(item.acceptDue);
      const half = ((this.sla[item.severity]?.acceptS ?? DEFAULT_SLA.critical.acceptS) * 1000) / 2;
      const nextReminder = Date.parse(item.createdAt) + half * (item.reminders + 1);
      return Math.max(now, Math.min(due, nextReminder));
    }
    return item.resolveDue ? Math.max(now, Date.parse(item.resolveDue)) : undefined;
  }
}
