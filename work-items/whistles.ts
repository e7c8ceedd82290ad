import type { Clock } from '../rules/clock.ts';
import { Deadlines, type Schedulable } from '../rules/deadlines.ts';

interface ReportTimer extends Schedulable {
  itemId: string;
  department: string;
}

/**
 * 网格吹哨、部门报到: each whistled department's report-in deadline on the injectable clock. What
 * happens when one passes is `sla-due.ts` (`reportInDue`).
 */
export class ReportInTimers {
  private readonly timers = new Map<string, ReportTimer>();
  private readonly deadlines: Deadlines<ReportTimer>;

  constructor(
    clock: Clock,
    /** Seconds a whistled department has to report in. */
    readonly reportInMs: number,
    onDue: (itemId: string, department: string) => void,
  ) {
    this.deadlines = new Deadlines(clock, (t) => {
      this.timers.delete(key(t.itemId, t.department));
      onDue(t.itemId, t.department);
    });
  }

  arm(itemId: string, department: string, due: number): void {
    const k = key(itemId, department);
    let t = this.timers.get(k);
    if (!t) this.timers.set(k, (t = { itemId, department, due: undefined }));
    t.due = due;
    this.deadlines.update(t);
  }

  /** The department reported in: its deadline no longer matters. */
  disarm(itemId: string, department: string): void {
    const t = this.timers.get(key(itemId, department));
    if (t) t.due = undefined;
    this.timers.delete(key(itemId, department));
  }

  close(): void {
    this.deadlines.close();
  }
}

const key = (itemId: string, department: string) => `${itemId}\u0000${department}`;
