import { isPermanent, PartialWriteError, writeIsolating } from '../core/isolate.ts';
import type { Db, Queryable } from '../core/store/db.ts';
import { insertDeadLetters } from '../core/store/dead-letters.ts';
import type { Logger } from '../core/logger.ts';
import { LogThrottle } from '../core/log-throttle.ts';
import { alarmView, type AlarmEventName, type AlarmRecord } from './alarm.ts';
import { deletePendingAlarm, insertAlarm, updateAlarm } from './alarm-store.ts';
import { answerCommand, insertCommands, type CommandStatus } from './command-store.ts';
import type { RulesEvent } from './events.ts';
import { closeIncidentIfDone, joinStorm, stormPossible } from './incident-store.ts';
import { saveMemory, type RuleMemory } from './memory-store.ts';
import { WriteLane } from './write-lane.ts';

export interface QueuedCommand {
  id: string;
  /** The alarm it belongs to: its id is read at write time (the store may have given it another). */
  alarm: AlarmRecord;
  deviceId: string;
  name: string;
  params: Record<string, unknown>;
  sentAt: number;
}

export interface QueuedAnswer {
  id: string;
  deviceId: string;
  status: Exclude<CommandStatus, 'sent'>;
  at: number;
  answer?: unknown;
}

const memoryKey = (deviceId: string, ruleId: string) => `${deviceId}\u0000${ruleId}`;

/**
 * Writes alarm changes behind the engine, off its synchronous path, in two lanes that never wait
 * for each other's rounds:
 *  - alarms: rows, one statement each (one round trip to the store's thread is all that stands
 *    between a breach and its event), then their lifecycle events;
 *  - aftermath: downlink commands (once their alarm row exists), devices' answers, rule memory,
 *    storms and incident closes, then incident events.
 * Whatever changed while a lane's round ran goes out in its next one, so a burst of 1,000 repeats
 * costs a handful of UPDATEs, and an idle engine writes within a tick.
 */
export class AlarmWriter {
  private dirty = new Set<AlarmRecord>();
  private commands: QueuedCommand[] = [];
  private answers: QueuedAnswer[] = [];
  private memory = new Map<string, { deviceId: string; ruleId: string; data: RuleMemory; at: number }>();
  private storms: AlarmRecord[] = [];
  private ended: AlarmRecord[] = [];
  private readonly alarms: WriteLane;
  private readonly aftermath: WriteLane;
  private readonly throttle: LogThrottle;
  writes = 0;
  failures = 0;
  /** Rows the store refused for what was in them: dead-lettered (sink_rejected), not retried. */
  rejected = 0;
  private lastFailureAt = 0;
  private lastRejectedAt = 0;
  /** Dead letters on their way: flush() waits for them, so a flushed writer has recorded its refusals. */
  private readonly deadLetters = new Set<Promise<void>>();

  constructor(private readonly db: Db, log: Logger, private readonly emit: (events: RulesEvent[]) => void, private readonly now: () => number) {
    this.throttle = new LogThrottle(log);
    this.alarms = new WriteLane(() => this.alarmRound(), () => this.dirty.size > 0);
    this.aftermath = new WriteLane(() => this.aftermathRound(), () => this.aftermathReady());
  }

  get pending(): number {
    return this.dirty.size + this.commands.length + this.answers.length + this.memory.size + this.storms.length + this.ended.length;
  }

  alarm(a: AlarmRecord): void {
    a.version++;
    this.dirty.add(a);
    this.alarms.schedule();
  }

  command(c: QueuedCommand): void {
    this.commands.push(c);
    this.aftermath.schedule();
  }

  answer(a: QueuedAnswer): void {
    this.answers.push(a);
    this.aftermath.schedule();
  }

  remember(deviceId: string, ruleId: string, data: RuleMemory, at: number): void {
    this.memory.set(memoryKey(deviceId, ruleId), { deviceId, ruleId, data, at });
    this.aftermath.schedule();
  }

  /** Resolves once everything queued before the call is written (rounds in flight included). */
  async flush(): Promise<void> {
    for (;;) {
      await this.alarms.flush();
      await this.aftermath.flush();
      // Done, or only commands left whose alarm rows keep failing (they go with a later round).
      if (!this.pending || (this.dirty.size === 0 && !this.aftermathReady())) break;
    }
    await Promise.all(this.deadLetters);
  }

  async close(): Promise<void> {
    await this.flush();
    this.alarms.close();
    this.aftermath.close();
    this.throttle.close();
  }

  /** Commands wait for their alarm's row; everything else in the aftermath can go at once. */
  private aftermathReady(): boolean {
    return this.commands.some((c) => c.alarm.persisted) || this.answers.length > 0 || this.memory.size > 0 || this.storms.length > 0 || this.ended.length > 0;
  }

  private async alarmRound(): Promise<boolean> {
    const batch = [...this.dirty];
    this.dirty.clear();
    const events: RulesEvent[] = [];
    let failed = false;
    for (const a of batch) {
      const snap = { version: a.version, unsaved: a.unsaved, events: a.events.splice(0), persisted: a.persisted };
      try {
        const r = await this.writeAlarm(this.db, a, snap);
        if (r.gone) continue;
        const names = this.applyResult(a, snap, r);
        for (const n of names) events.push({ kind: 'alarm', event: n, at: new Date(this.now()).toISOString(), alarm: alarmView(a) });
        if (names.includes('raised') && a.state !== 'cleared' && a.storm.scopeId && !a.incidentId) this.storms.push(a);
        if (names.includes('cleared') && a.incidentId) this.ended.push(a);
      } catch (err) {
        if (isPermanent(err)) {
          // The store will refuse this row every time: kept as a dead letter, the others go on.
          this.refused('alarm', a.deviceId, err as Error, alarmView(a));
          continue;
        }
        failed = true;
        a.events.unshift(...snap.events);
        this.dirty.add(a);
        this.throttle.error('alarm_write_failed', { err, alarmId: a.id, deviceId: a.deviceId, ruleId: a.ruleId }, 'alarm write failed; retrying');
      }
    }
    this.writes++;
    if (failed) this.noteFailure();
    if (events.length) this.emit(events);
    if (this.aftermathReady()) this.aftermath.schedule();
    return failed;
  }

  private async aftermathRound(): Promise<boolean> {
    let failed = false;
    const ready = this.commands.filter((c) => c.alarm.persisted);
    const waitingIds = new Set(this.commands.filter((c) => !c.alarm.persisted).map((c) => c.id));
    const answers = this.answers.filter((a) => !waitingIds.has(a.id));
    const memory = [...this.memory.values()];
    const storms = this.storms.splice(0);
    const ended = this.ended.splice(0);
    this.commands = this.commands.filter((c) => !c.alarm.persisted);
    this.answers = this.answers.filter((a) => waitingIds.has(a.id));
    this.memory.clear();
    try {
      await this.writeAll(ready, (part) => insertCommands(this.db, part.map((c) => ({ ...c, alarmId: c.alarm.id }))), (c, err) => this.refused('command', c.deviceId, err, { id: c.id, name: c.name, params: c.params }));
      while (answers.length) {
        const a = answers[0]!;
        try {
          if (!(await answerCommand(this.db, a))) this.throttle.warn(`unanswerable:${a.deviceId}`, { deviceId: a.deviceId, commandId: a.id, status: a.status }, 'device answered a command that is not waiting (unknown, or already answered or timed out)');
        } catch (err) {
          if (!isPermanent(err)) throw err;
          this.refused('command answer', a.deviceId, err as Error, a);
        }
        answers.shift();
      }
      await this.writeAll(memory, (part) => saveMemory(this.db, part), (m, err) => this.refused('rule memory', m.deviceId, err, m));
    } catch (err) {
      failed = true;
      this.throttle.error('rules_write_failed', { err, commands: ready.length, answers: answers.length, memory: memory.length }, 'writing commands, answers or rule memory failed; retrying');
      this.commands.unshift(...ready);
      this.answers.unshift(...answers);
      for (const m of memory) if (!this.memory.has(memoryKey(m.deviceId, m.ruleId))) this.memory.set(memoryKey(m.deviceId, m.ruleId), m);
    }
    const incidentEvents: RulesEvent[] = [];
    for (const a of storms) {
      try {
        const candidate = {
          alarmId: a.id, deviceId: a.deviceId, group: a.storm.group, scopeKind: a.storm.scope, scopeId: a.storm.scopeId!, windowS: a.storm.windowS,
          at: a.raisedAt ?? this.now(), gridId: a.placement.gridId, communityId: a.placement.communityId,
        };
        const seen = await stormPossible(this.db, candidate);
        if (seen.already) a.incidentId = seen.already;
        if (seen.already || !seen.possible) continue;
        const joined = await this.db.transaction((tx) => joinStorm(tx, candidate));
        if (joined) a.incidentId = joined.incidentId;
        if (joined?.changed) incidentEvents.push({ kind: 'incident', event: joined.changed.event, at: new Date(this.now()).toISOString(), incident: joined.changed.incident });
      } catch (err) {
        this.throttle.error('storm_failed', { err, alarmId: a.id, deviceId: a.deviceId }, 'storm grouping failed; the alarm stands alone');
      }
    }
    for (const a of ended) {
      try {
        const closed = await closeIncidentIfDone(this.db, a.incidentId!, a.clearedAt ?? this.now());
        if (closed) incidentEvents.push({ kind: 'incident', event: 'closed', at: closed.closedAt!, incident: closed });
      } catch (err) {
        this.throttle.error('incident_close_failed', { err, alarmId: a.id, incidentId: a.incidentId }, 'closing an incident failed');
      }
    }
    if (incidentEvents.length) this.emit(incidentEvents);
    if (failed) this.noteFailure();
    return failed;
  }

  private noteFailure(): void {
    this.failures++;
    this.lastFailureAt = Date.now();
  }

  /** Why alarm writing is degraded (health): retrying within the last 10 s, rows refused within `windowMs`. */
  problems(windowMs = 60_000): string[] {
    const now = Date.now();
    const out: string[] = [];
    if (now - this.lastFailureAt < 10_000) out.push(`rules: alarm writes failing, retrying; ${this.pending} changes waiting`);
    if (now - this.lastRejectedAt < windowMs) out.push(`rules: the store refused ${this.rejected} alarm row(s) since start; dead-lettered as sink_rejected`);
    return out;
  }

  /** Writes `list` isolating refused rows (core/isolate.ts); on a transient failure, what was done leaves the list. */
  private async writeAll<T>(list: T[], write: (part: T[]) => Promise<void>, reject: (item: T, err: Error) => void): Promise<void> {
    try {
      await writeIsolating(list, write, reject);
      list.length = 0;
    } catch (err) {
      if (!(err instanceof PartialWriteError)) throw err;
      list.splice(0, err.done);
      throw err.cause;
    }
  }

  /** A row the store refused for its content: a dead letter with the store's error, best effort. */
  private refused(what: string, deviceId: string, err: Error, row: unknown): void {
    this.rejected++;
    this.lastRejectedAt = Date.now();
    this.throttle.error(`rules_row_refused:${what}`, { err, deviceId, what }, 'the store refused a rules row; dead-lettered');
    const written = insertDeadLetters(this.db.background, [{ at: new Date(this.now()), deviceId, topic: null, reason: 'sink_rejected', detail: `${what}: ${err.message}`, payload: JSON.stringify(row), payloadBytes: 0 }])
      .catch((e: Error) => this.throttle.error('rules_dead_letter_failed', { err: e, deviceId }, 'could not dead-letter a refused rules row'))
      .finally(() => this.deadLetters.delete(written));
    this.deadLetters.add(written);
  }

  /** Takes the store's answer into the record; returns the events it makes true. */
  private applyResult(a: AlarmRecord, snap: { version: number; unsaved: number; events: AlarmEventName[] }, r: { id: string; count: number; inserted?: boolean; incidentId: string | null }): AlarmEventName[] {
    a.persisted = true;
    a.id = r.id;
    a.incidentId = r.incidentId ?? a.incidentId;
    a.unsaved -= snap.unsaved;
    a.count = r.count + a.unsaved;
    a.savedVersion = snap.version;
    // Another writer had already raised this alarm: for us it is a repeat.
    const names = r.inserted === false ? snap.events.map((n) => (n === 'raised' ? 'updated' : n)) : snap.events;
    const out: AlarmEventName[] = [];
    for (const n of names) if (!out.includes(n) && !(n === 'updated' && out.includes('raised'))) out.push(n);
    return out;
  }

  private async writeAlarm(tx: Queryable, a: AlarmRecord, b: { unsaved: number; persisted: boolean }): Promise<{ id: string; count: number; inserted?: boolean; incidentId: string | null; gone?: boolean }> {
    if (a.dropped) {
      if (b.persisted) await deletePendingAlarm(tx, a.id);
      return { id: a.id, count: a.count, incidentId: null, gone: true };
    }
    if (!b.persisted) return insertAlarm(tx, a, b.unsaved);
    const r = await updateAlarm(tx, a, b.unsaved);
    // A row that vanished was a pending one dropped by another writer: write it anew.
    return r ? { id: a.id, count: r.count, incidentId: r.incidentId } : insertAlarm(tx, a, a.count);
  }
}
