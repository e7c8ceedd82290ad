import type { Db, Queryable } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import { LogThrottle } from '../core/log-throttle.ts';
import { alarmView, type AlarmEventName, type AlarmRecord } from './alarm.ts';
import { deletePendingAlarm, insertAlarm, updateAlarm } from './alarm-store.ts';
import { answerCommand, insertCommands, type CommandStatus } from './command-store.ts';
import type { RulesEvent } from './events.ts';
import { closeIncidentIfDone, joinStorm } from './incident-store.ts';
import { saveMemory, type RuleMemory } from './memory-store.ts';

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

const RETRY_MS = 1000;

/**
 * Writes alarm changes behind the engine, off its synchronous path: whatever changed while the
 * previous round ran goes out in the next one, as soon as that one ends. So a burst of 1,000
 * repeats costs a handful of UPDATEs, and an idle engine writes within a tick. An alarm's event is
 * emitted only after the statement that makes it true; storms are settled right after.
 */
export class AlarmWriter {
  private dirty = new Set<AlarmRecord>();
  private commands: QueuedCommand[] = [];
  private answers: QueuedAnswer[] = [];
  private memory = new Map<string, { deviceId: string; ruleId: string; data: RuleMemory; at: number }>();
  private running: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  private readonly throttle: LogThrottle;
  writes = 0;
  failures = 0;

  constructor(private readonly db: Db, private readonly log: Logger, private readonly emit: (events: RulesEvent[]) => void, private readonly now: () => number) {
    this.throttle = new LogThrottle(log);
  }

  get pending(): number {
    return this.dirty.size + this.commands.length + this.answers.length + this.memory.size;
  }

  alarm(a: AlarmRecord): void {
    a.version++;
    this.dirty.add(a);
    this.schedule();
  }

  command(c: QueuedCommand): void {
    this.commands.push(c);
    this.schedule();
  }

  answer(a: QueuedAnswer): void {
    this.answers.push(a);
    this.schedule();
  }

  remember(deviceId: string, ruleId: string, data: RuleMemory, at: number): void {
    this.memory.set(`${deviceId}\u0000${ruleId}`, { deviceId, ruleId, data, at });
    this.schedule();
  }

  /** Resolves once everything queued before the call is written. */
  async flush(): Promise<void> {
    while (this.running || this.pending) {
      if (this.running) await this.running;
      else await (this.running = this.write());
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.throttle.close();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running && this.pending) this.running = this.write();
    });
  }

  private async write(): Promise<void> {
    const alarms = [...this.dirty];
    this.dirty.clear();
    const commands = this.commands.splice(0);
    const answers = this.answers.splice(0);
    const memory = [...this.memory.values()];
    this.memory.clear();
    let failed = false;
    try {
      // 1. Alarm rows, one statement each (no transaction: one round trip to the store's thread is
      //    what stands between a breach and its event). A row that fails waits for the next round.
      const events: RulesEvent[] = [];
      const storms: AlarmRecord[] = [];
      const ended: AlarmRecord[] = [];
      for (const a of alarms) {
        const snap = { version: a.version, unsaved: a.unsaved, events: a.events.splice(0), persisted: a.persisted };
        try {
          const r = await this.writeAlarm(this.db, a, snap);
          if (r.gone) continue;
          const names = this.applyResult(a, snap, r);
          for (const n of names) events.push({ kind: 'alarm', event: n, at: new Date(this.now()).toISOString(), alarm: alarmView(a) });
          if (names.includes('raised') && a.state !== 'cleared' && a.storm.scopeId && !a.incidentId) storms.push(a);
          if (names.includes('cleared') && a.incidentId) ended.push(a);
        } catch (err) {
          failed = true;
          a.events.unshift(...snap.events);
          this.dirty.add(a);
          this.throttle.error('alarm_write_failed', { err, alarmId: a.id, deviceId: a.deviceId, ruleId: a.ruleId }, 'alarm write failed; retrying');
        }
      }
      // 2. What hangs off the alarms: commands (after their alarm rows), answers, rule memory.
      try {
        await insertCommands(this.db, commands.map((c) => ({ ...c, alarmId: c.alarm.id })));
        commands.length = 0;
        for (const a of answers.splice(0)) {
          if (!(await answerCommand(this.db, a))) this.throttle.warn(`unanswerable:${a.deviceId}`, { deviceId: a.deviceId, commandId: a.id, status: a.status }, 'device answered a command that is not waiting (unknown, or already answered or timed out)');
        }
        await saveMemory(this.db, memory);
        memory.length = 0;
      } catch (err) {
        failed = true;
        this.throttle.error('rules_write_failed', { err, commands: commands.length, answers: answers.length, memory: memory.length }, 'writing commands, answers or rule memory failed; retrying');
        this.commands.unshift(...commands);
        this.answers.unshift(...answers);
        for (const m of memory) if (!this.memory.has(`${m.deviceId}\u0000${m.ruleId}`)) this.memory.set(`${m.deviceId}\u0000${m.ruleId}`, m);
      }
      this.writes++;
      if (events.length) this.emit(events);
      // 3. Storms, once the alarms themselves are out: one transaction each, so two nodes agree.
      const incidentEvents: RulesEvent[] = [];
      for (const a of storms) {
        try {
          const joined = await this.db.transaction((tx) =>
            joinStorm(tx, {
              alarmId: a.id, deviceId: a.deviceId, group: a.storm.group, scopeKind: a.storm.scope, scopeId: a.storm.scopeId!, windowS: a.storm.windowS,
              at: a.raisedAt ?? this.now(), gridId: a.placement.gridId, communityId: a.placement.communityId,
            }),
          );
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
      if (failed) {
        this.failures++;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    } finally {
      this.running = undefined;
      if (this.pending) this.schedule();
    }
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
