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
 * previous write ran goes out in the next one, in one transaction, as soon as that one ends. So a
 * burst of 1,000 repeats costs a handful of UPDATEs, and an idle engine writes within a tick.
 * Lifecycle events are emitted only after the write that makes them true has committed.
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
    const batch = [...this.dirty].map((a) => ({ a, version: a.version, unsaved: a.unsaved, events: a.events.splice(0), persisted: a.persisted }));
    this.dirty.clear();
    const commands = this.commands.splice(0);
    const answers = this.answers.splice(0);
    const memory = [...this.memory.values()];
    this.memory.clear();
    const results = new Map<AlarmRecord, { id: string; count: number; inserted?: boolean; incidentId: string | null; gone?: boolean }>();
    const incidentEvents: RulesEvent[] = [];
    try {
      const unanswered = await this.db.transaction(async (tx) => {
        for (const b of batch) results.set(b.a, await this.writeAlarm(tx, b));
        for (const b of batch) {
          const r = results.get(b.a)!;
          if (r.gone) continue;
          if (b.events.includes('raised') && (r.inserted ?? true) && b.a.state !== 'cleared' && b.a.storm.scopeId) {
            const joined = await joinStorm(tx, {
              alarmId: r.id, deviceId: b.a.deviceId, group: b.a.storm.group, scopeKind: b.a.storm.scope, scopeId: b.a.storm.scopeId,
              windowS: b.a.storm.windowS, at: b.a.raisedAt ?? this.now(), gridId: b.a.placement.gridId, communityId: b.a.placement.communityId,
            });
            if (joined) r.incidentId = joined.incidentId;
            if (joined?.changed) incidentEvents.push({ kind: 'incident', event: joined.changed.event, at: new Date(this.now()).toISOString(), incident: joined.changed.incident });
          }
          if (b.events.includes('cleared') && r.incidentId) {
            const closed = await closeIncidentIfDone(tx, r.incidentId, b.a.clearedAt ?? this.now());
            if (closed) incidentEvents.push({ kind: 'incident', event: 'closed', at: closed.closedAt!, incident: closed });
          }
        }
        await insertCommands(tx, commands.map((c) => ({ ...c, alarmId: results.get(c.alarm)?.id ?? c.alarm.id })));
        const missed: QueuedAnswer[] = [];
        for (const a of answers) if (!(await answerCommand(tx, a))) missed.push(a);
        await saveMemory(tx, memory);
        return missed;
      });
      this.writes++;
      for (const a of unanswered) this.throttle.warn(`unanswerable:${a.deviceId}`, { deviceId: a.deviceId, commandId: a.id, status: a.status }, 'device answered a command that is not waiting (unknown, or already answered or timed out)');
      this.emitAfterCommit(batch, results, incidentEvents);
    } catch (err) {
      this.failures++;
      this.throttle.error('write_failed', { err, alarms: batch.map((b) => b.a.id).slice(0, 10), commands: commands.length }, 'alarm write failed; retrying');
      // Put everything back, ahead of what came since, and try again shortly.
      for (const b of batch) {
        b.a.events.unshift(...b.events);
        this.dirty.add(b.a);
      }
      this.commands.unshift(...commands);
      this.answers.unshift(...answers);
      for (const m of memory) if (!this.memory.has(`${m.deviceId}\u0000${m.ruleId}`)) this.memory.set(`${m.deviceId}\u0000${m.ruleId}`, m);
      await new Promise((r) => setTimeout(r, RETRY_MS));
    } finally {
      this.running = undefined;
      if (this.pending) this.schedule();
    }
  }

  private async writeAlarm(tx: Queryable, b: { a: AlarmRecord; unsaved: number; persisted: boolean }): Promise<{ id: string; count: number; inserted?: boolean; incidentId: string | null; gone?: boolean }> {
    const a = b.a;
    if (a.dropped) {
      if (b.persisted) await deletePendingAlarm(tx, a.id);
      return { id: a.id, count: a.count, incidentId: null, gone: true };
    }
    if (!b.persisted) return insertAlarm(tx, a, b.unsaved);
    const r = await updateAlarm(tx, a, b.unsaved);
    // A row that vanished was a pending one dropped by another writer: write it anew.
    return r ? { id: a.id, count: r.count, incidentId: r.incidentId } : insertAlarm(tx, a, a.count);
  }

  private emitAfterCommit(batch: { a: AlarmRecord; version: number; unsaved: number; events: AlarmEventName[] }[], results: Map<AlarmRecord, { id: string; count: number; inserted?: boolean; incidentId: string | null; gone?: boolean }>, incidentEvents: RulesEvent[]): void {
    const events: RulesEvent[] = [];
    const at = new Date(this.now()).toISOString();
    for (const b of batch) {
      const a = b.a;
      const r = results.get(a)!;
      if (r.gone) continue;
      a.persisted = true;
      a.id = r.id;
      a.incidentId = r.incidentId;
      a.unsaved -= b.unsaved;
      a.count = r.count + a.unsaved;
      a.savedVersion = b.version;
      let names = b.events;
      // Another writer had already raised this alarm: for us it is a repeat.
      if (r.inserted === false) names = names.map((n) => (n === 'raised' ? 'updated' : n));
      const seen = new Set<AlarmEventName>();
      const view = alarmView(a);
      for (const n of names) {
        if (seen.has(n) || (n === 'updated' && seen.has('raised'))) continue;
        seen.add(n);
        events.push({ kind: 'alarm', event: n, at, alarm: view });
      }
    }
    events.push(...incidentEvents);
    if (events.length) this.emit(events);
  }
}
