import { randomUUID } from 'node:crypto';
import type { Db } from '../core/store/db.ts';
import type { Logger } from '../core/logger.ts';
import type { Reading } from '../core/store/readings.ts';
import type { Catalog, DeviceType } from './catalog.ts';
import { kindOf, type Env, type Phase, type Rule, type RuleKind, type Step } from './kinds/index.ts';
import { addEvidence, MAX_EVIDENCE_READINGS, type AlarmEventName, type AlarmRecord, type EvidenceReading } from './alarm.ts';
import { loadOpenAlarms } from './alarm-store.ts';
import { AlarmWriter } from './alarm-writer.ts';
import { systemClock, type Clock } from './clock.ts';
import { Downlink, type CommandAck } from './downlink.ts';
import { Deadlines, type Schedulable } from './deadlines.ts';
import { Reservoir } from '../core/reservoir.ts';
import { stormScopeId, type Directory, type Placement } from '../core/directory.ts';
import type { RulesEvent } from './events.ts';
import { loadMemory } from './memory-store.ts';
import { loadOverrides, OverrideSet, type ScopeKind } from './overrides.ts';
import { paramsInForce, type EffectiveRule, type OverrideParams } from './params.ts';

export interface EngineOptions {
  db: Db;
  catalog: Catalog;
  log: Logger;
  /** Publishes downlink commands to devices, as the platform. */
  publish(topic: string, payload: string, opts: { qos: 0 | 1 }): Promise<void>;
  /** Where alarm and incident events go once written: the platform's event bus. */
  bus: { emit(e: RulesEvent): void };
  /** Where devices hang in the org tree (core/directory.ts). */
  directory: Directory;
  clock?: Clock;
  /** How long a device has to answer a command before it is recorded as unanswered. */
  commandTimeoutMs?: number;
  /**
   * Several nodes (core/cluster.ts): whether a device is connected to this node, and whether the
   * deadlines of one that is not are this node's to act on (see onDue). One node: all are.
   */
  cluster?: { here(deviceId: string): boolean; ownsAway(deviceId: string): Promise<boolean> };
}

/** A device type with its rules' kinds, and the rules indexed by what they listen to. */
interface CompiledType {
  type: DeviceType;
  kinds: RuleKind[];
  byProp: Map<string, number[]>;
  byEvent: Map<string, number[]>;
  /** Rules that hear every message (silence). */
  everyMessage: number[];
}

interface DeviceEntry {
  placement: Placement;
  ct: CompiledType;
  /** The override generation `rules` was computed at. */
  gen: number;
  rules: EffectiveRule[];
  states: (RuleState | undefined)[];
  lastSeen: number;
  /** Cluster mode: loaded from the store since the device was last seen by another node (adopt). */
  adopted?: boolean;
}

interface RuleState extends Schedulable {
  dev: DeviceEntry;
  idx: number;
  phase: Phase;
  alarm?: AlarmRecord;
  /** What the rule's kind keeps between readings (a count window, floors seen); written as rule memory. */
  memory?: Record<string, unknown>;
}

export type { CommandAck };

/**
 * The rules service: per (device, rule) alarm state machines fed by ingest's readings, with
 * deadlines for holds, verify times, count windows and silence on one injectable clock. The
 * synchronous path (a reading in, commands out) never waits on the store; alarm rows follow in
 * batched transactions and lifecycle events go out once they are written.
 */
export class RuleEngine {
  readonly overrides = new OverrideSet();
  readonly clock: Clock;
  private readonly types = new Map<string, CompiledType>();
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly loading = new Map<string, Reading[]>();
  private readonly deadlines: Deadlines<RuleState>;
  private readonly downlink: Downlink;
  private readonly writer: AlarmWriter;
  /** Raise (in memory) → event out (written): the store's share of an alarm's latency. */
  private readonly announceMs = new Reservoir(1000);
  readonly counters = { readings: 0, evaluations: 0, raised: 0, cleared: 0, unknownDevices: 0 };

  constructor(private readonly opts: EngineOptions) {
    this.clock = opts.clock ?? systemClock;
    for (const type of opts.catalog.types.values()) this.types.set(type.id, compileType(type));
    this.deadlines = new Deadlines(this.clock, (st, now) => this.onDue(st, now));
    this.writer = new AlarmWriter(opts.db, opts.log, (events) => this.emit(events), () => this.clock.now());
    this.downlink = new Downlink({ clock: this.clock, log: opts.log, writer: this.writer, publish: opts.publish, timeoutMs: opts.commandTimeoutMs ?? 10_000 });
  }

  /** Loads devices, overrides and whatever was open at the last stop, and resumes it. */
  async start(): Promise<void> {
    const db = this.opts.db;
    for (const o of await loadOverrides(db)) this.overrides.put(o.scopeKind, o.scopeId, o.ruleId, o.params);
    for (const p of this.opts.directory.all()) this.addPlacement(p);
    const resumed = this.restore(await loadMemory(db), await loadOpenAlarms(db));
    await this.downlink.resume(db);
    this.opts.log.info({ devices: this.devices.size, resumedAlarms: resumed, waitingCommands: this.downlink.size }, 'rules engine started');
  }

  /** Puts remembered rule memory and open alarms from the store back into their rule states. */
  private restore(memory: Awaited<ReturnType<typeof loadMemory>>, alarms: Awaited<ReturnType<typeof loadOpenAlarms>>): number {
    const now = this.clock.now();
    for (const m of memory) {
      const st = this.stateFor(m.deviceId, m.ruleId);
      if (st) st.memory = m.data;
    }
    let resumed = 0;
    for (const a of alarms) {
      const st = this.stateFor(a.deviceId, a.ruleId);
      if (!st) continue;
      const rule = st.dev.rules[st.idx]!;
      const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
      st.phase = a.state as Phase;
      st.alarm = {
        id: a.id, deviceId: a.deviceId, type: a.type, ruleId: a.ruleId, state: a.state, severity: a.severity, item: a.item, whistle: a.whistle, count: a.count,
        since: Date.parse(a.since), pendingSince: ms(a.pendingSince), raisedAt: ms(a.raisedAt), lastSeenAt: Date.parse(a.lastSeenAt), clearedAt: null,
        placement: st.dev.placement, storm: stormOf(rule, st.dev.placement), incidentId: a.incidentId, params: a.params, evidence: a.evidence,
        persisted: true, dropped: false, unsaved: 0, version: 0, savedVersion: 0, events: [],
      };
      st.due = st.dev.ct.kinds[st.idx]!.resume(rule, st, st.alarm, this.env(st.dev, now));
      this.deadlines.update(st);
      resumed++;
    }
    return resumed;
  }

  /**
   * Cluster mode: the device has connected to this node, perhaps from another. What this node holds
   * of it may be stale (the other node moved its alarms on), so its rule state is loaded afresh
   * from the store, after this node's own changes are written; its readings wait meanwhile.
   */
  adopt(deviceId: string): void {
    const old = this.devices.get(deviceId);
    if (old) {
      for (const s of old.states) if (s) s.due = undefined; // their heap entries turn stale
      this.devices.delete(deviceId);
    }
    if (!this.loading.has(deviceId)) this.loading.set(deviceId, []);
    const db = this.opts.db;
    const load = async () => {
      await this.writer.flush();
      const p = await this.opts.directory.find(deviceId);
      if (!p || this.devices.has(deviceId)) return;
      const [memory, alarms] = await Promise.all([loadMemory(db, deviceId), loadOpenAlarms(db, deviceId)]);
      this.addPlacement(p);
      this.devices.get(deviceId)!.adopted = true;
      this.restore(memory, alarms);
    };
    load().then(
      () => this.release(deviceId),
      (err: Error) => {
        this.opts.log.error({ err, deviceId }, 'loading a device for the rules failed; its readings are evaluated on what this node knew');
        this.release(deviceId);
      },
    );
  }

  /** Hands the readings that waited for a device's load to the rules. */
  private release(deviceId: string): void {
    const readings = this.loading.get(deviceId) ?? [];
    this.loading.delete(deviceId);
    this.counters.readings -= readings.length;
    for (const q of readings) this.handleReading(q);
  }

  /** A device registered after start (the engine also finds unknown devices on their first reading). */
  async addDevice(deviceId: string): Promise<void> {
    const p = await this.opts.directory.refresh(deviceId);
    if (p && !this.devices.has(deviceId)) this.addPlacement(p);
  }

  /** Sets an override (already stored) and applies it; see `overridesChanged`. */
  putOverride(scopeKind: ScopeKind, scopeId: string, ruleId: string, params: OverrideParams): void {
    this.overrides.put(scopeKind, scopeId, ruleId, params);
    this.overridesChanged();
  }

  /** Removes an override (already deleted from the store) and applies the level above. */
  removeOverride(scopeKind: ScopeKind, scopeId: string, ruleId: string): void {
    this.overrides.remove(scopeKind, scopeId, ruleId);
    this.overridesChanged();
  }

  /** Applies changed overrides to every device at its next reading or due time. */
  private overridesChanged(): void {
    // Readings pick the change up lazily; a kind that keeps a deadline while quiet (silence) moves it now.
    const now = this.clock.now();
    for (const dev of this.devices.values()) {
      if (!dev.ct.kinds.some((k) => k.rearm)) continue;
      this.refreshRules(dev);
      dev.ct.kinds.forEach((kind, i) => {
        const rule = dev.rules[i]!;
        const s = dev.states[i];
        if (!kind.rearm || !rule.enabled || !s) return;
        s.due = kind.rearm(rule, s, this.env(dev, now));
        this.deadlines.update(s);
      });
    }
  }

  /** Evaluates one valid reading. Synchronous: called by ingest on the broker's thread. */
  handleReading(r: Reading): void {
    this.counters.readings++;
    const dev = this.devices.get(r.deviceId);
    if (!dev) return this.loadThenHandle(r);
    if (dev.gen !== this.overrides.generation) this.refreshRules(dev);
    const now = this.clock.now();
    dev.lastSeen = now;
    const ct = dev.ct;
    for (const i of ct.everyMessage) this.feed(dev, i, r.ts, undefined, now);
    if (r.kind === 'telemetry') {
      for (const prop in r.data) {
        const idxs = ct.byProp.get(prop);
        if (idxs) for (const i of idxs) this.feed(dev, i, r.ts, r.data[prop], now);
      }
    } else if (r.event) {
      const idxs = ct.byEvent.get(r.event);
      if (idxs) for (const i of idxs) this.feed(dev, i, r.ts, r.data, now);
    }
  }

  /** A device's answer to a command (`cmd/ack`). */
  handleAck(deviceId: string, ack: CommandAck): void {
    this.downlink.ack(deviceId, ack);
  }

  /** The rules in force for a device: catalog defaults with the overrides down its branch of the tree. */
  effectiveRules(deviceId: string): EffectiveRule[] | undefined {
    const dev = this.devices.get(deviceId);
    if (!dev) {
      // Not loaded here (yet, or being adopted from another node): the same rules from its placement.
      const p = this.opts.directory.get(deviceId);
      const ct = p && this.types.get(p.type);
      return ct && ct.type.rules.map((r) => this.overrides.effective(r, p));
    }
    if (dev.gen !== this.overrides.generation) this.refreshRules(dev);
    return dev.rules;
  }

  /** Why the rules service is degraded right now (health). */
  problems(): string[] {
    return this.writer.problems();
  }

  stats() {
    let open = 0;
    for (const d of this.devices.values()) for (const s of d.states) if (s?.alarm) open++;
    const d = this.downlink.counters;
    return { ...this.counters, commandsSent: d.sent, commandsAnswered: d.answered, commandsTimedOut: d.timedOut, announceP50Ms: this.announceMs.percentile(50), announceP99Ms: this.announceMs.percentile(99), openAlarms: open, deadlines: this.deadlines.size, waitingCommands: this.downlink.size, writeQueue: this.writer.pending, writes: this.writer.writes, writeFailures: this.writer.failures, writeRejected: this.writer.rejected };
  }

  /** Resolves once every change so far is in the store and its events are out. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  async close(): Promise<void> {
    this.deadlines.close();
    this.downlink.close();
    await this.writer.close();
  }

  // ── evaluation ────────────────────────────────────────────────────────────────────────────

  /** One reading for one rule: its kind's step, then the step carried out. */
  private feed(dev: DeviceEntry, i: number, ts: number, value: unknown, now: number): void {
    const rule = dev.rules[i]!;
    if (!rule.enabled) return;
    this.counters.evaluations++;
    const kind = dev.ct.kinds[i]!;
    const st = dev.states[i];
    const step = kind.step(rule, st, value, this.env(dev, now));
    // The common case, a normal reading on a quiet rule, allocates nothing.
    if (!step) return;
    const s = st ?? this.newState(dev, i);
    if (step.memory) {
      s.memory = step.memory;
      this.writer.remember(dev.placement.deviceId, rule.id, step.memory, now);
    }
    const reading = kind.listensTo === 'message' ? undefined : { ts, at: now, value };
    if (step.recovered && s.alarm && reading) {
      const recovery = (s.alarm.evidence.recovery ??= []);
      if (recovery.length < MAX_EVIDENCE_READINGS) recovery.push(reading);
    }
    const snapshotUrl = kind.listensTo === 'event' ? (value as Record<string, unknown>).snapshotUrl : undefined;
    this.apply(s, step, now, reading, snapshotUrl);
    const a = s.alarm;
    if (a && step.whistle?.some((d) => !a.whistle.includes(d))) {
      a.whistle = [...new Set([...a.whistle, ...step.whistle])];
      if (!a.events.includes('raised')) a.events.push('updated');
      this.writer.alarm(a);
    }
    if (a && step.command && rule.kind === 'event' && rule.command) this.downlink.send(dev.placement, a, rule.command.name, rule.command.params, now);
  }

  private onDue(s: RuleState, now: number): void {
    const dev = s.dev;
    const cluster = this.opts.cluster;
    if (cluster && !cluster.here(dev.placement.deviceId)) return this.dueAway(s, cluster);
    this.runDue(s, now);
  }

  /** A rule state's moment has come: its kind's due step, carried out. */
  private runDue(s: RuleState, now: number): void {
    const dev = s.dev;
    if (dev.gen !== this.overrides.generation) this.refreshRules(dev);
    const rule = dev.rules[s.idx]!;
    if (!rule.enabled) {
      s.due = undefined;
      return;
    }
    const step = dev.ct.kinds[s.idx]!.due(rule, s, this.env(dev, now));
    if (step.memory) {
      s.memory = step.memory;
      this.writer.remember(dev.placement.deviceId, rule.id, step.memory, now);
    }
    this.apply(s, step, now);
  }

  /**
   * Cluster mode, a deadline of a device not connected here: acted on only by the node it was last
   * connected to (or, that node gone, the lease holder), on its state from the store; elsewhere it
   * is looked at again in AWAY_RECHECK_MS (5 min), in case this node becomes the one.
   */
  private dueAway(s: RuleState, cluster: NonNullable<EngineOptions['cluster']>): void {
    const dev = s.dev;
    const deviceId = dev.placement.deviceId;
    cluster.ownsAway(deviceId).then(
      (mine) => {
        if (this.devices.get(deviceId) !== dev || s.due === undefined) return; // adopted or moved on meanwhile
        const now = this.clock.now();
        if (!mine) {
          dev.adopted = false;
          s.due = now + AWAY_RECHECK_MS;
          this.deadlines.update(s);
          return;
        }
        if (!dev.adopted) return this.adopt(deviceId); // its deadlines come again from the store's state
        this.runDue(s, now);
      },
      (err: Error) => {
        this.opts.log.warn({ err, deviceId }, 'could not tell which node owns a device; its deadline is looked at again');
        s.due = this.clock.now() + AWAY_RECHECK_MS;
        this.deadlines.update(s);
      },
    );
  }

  /** The one Env the kinds read (filled per call: the hot path allocates nothing for it). */
  private readonly scratchEnv: Env = { now: 0, heartbeatS: 0, lastSeen: 0 };

  private env(dev: DeviceEntry, now: number): Env {
    const e = this.scratchEnv;
    e.now = now;
    e.heartbeatS = dev.ct.type.definition.heartbeatS;
    e.lastSeen = dev.lastSeen;
    return e;
  }

  /** Carries a step out on the alarm record and the deadline. */
  private apply(s: RuleState, step: Step, now: number, reading?: EvidenceReading, snapshotUrl?: unknown): void {
    s.phase = step.phase;
    s.due = step.due;
    if (step.due !== undefined) this.deadlines.update(s);
    const a = s.alarm;
    switch (step.action) {
      case 'none':
        return;
      case 'pending':
        s.alarm = this.openAlarm(s, 'pending', now, reading, snapshotUrl);
        return;
      case 'raise':
        if (!a) {
          s.alarm = this.openAlarm(s, 'active', now, reading, snapshotUrl);
        } else {
          a.state = 'active';
          a.since = now;
          a.raisedAt = now;
          this.event(a, 'raised');
        }
        this.counters.raised++;
        return;
      case 'hit':
      case 'repeat':
        if (!a) return;
        countBreach(a, now, reading, snapshotUrl);
        this.event(a, step.action === 'repeat' ? 'updated' : undefined);
        return;
      case 'cancel':
        if (!a) return;
        a.dropped = true;
        s.alarm = undefined;
        this.writer.alarm(a);
        return;
      case 'clearing':
      case 'resume':
        if (!a) return;
        a.state = step.action === 'clearing' ? 'clearing' : 'active';
        a.since = now;
        if (step.repeat) countBreach(a, now, reading, snapshotUrl);
        this.event(a, step.repeat ? 'updated' : undefined);
        return;
      case 'clear':
        if (!a) return;
        a.state = 'cleared';
        a.since = now;
        a.clearedAt = now;
        s.alarm = undefined;
        this.counters.cleared++;
        this.event(a, 'cleared');
        return;
    }
  }

  private event(a: AlarmRecord, name: AlarmEventName | undefined): void {
    if (name && !(name === 'updated' && a.events.includes('updated'))) a.events.push(name);
    this.writer.alarm(a);
  }

  private openAlarm(s: RuleState, state: 'pending' | 'active', now: number, reading?: EvidenceReading, snapshotUrl?: unknown): AlarmRecord {
    const dev = s.dev;
    const rule = dev.rules[s.idx]!;
    const opened = dev.ct.kinds[s.idx]!.atOpen?.(rule, s, this.env(dev, now));
    // An alarm stands for the readings that proved it (a count alarm, for the events in its window).
    const initial = opened?.count ?? (reading ? 1 : 0);
    const a: AlarmRecord = {
      id: `al-${randomUUID()}`,
      deviceId: dev.placement.deviceId,
      type: dev.ct.type.id,
      ruleId: rule.id,
      state,
      severity: rule.raises?.severity ?? null,
      item: rule.raises?.item ?? null,
      whistle: [...(rule.raises?.whistle ?? [])],
      count: initial,
      since: now,
      pendingSince: state === 'pending' ? now : null,
      raisedAt: state === 'active' ? now : null,
      lastSeenAt: now,
      clearedAt: null,
      placement: dev.placement,
      storm: stormOf(rule, dev.placement),
      incidentId: null,
      params: paramsInForce(rule),
      evidence: { rule: { id: rule.id, kind: rule.kind, description: rule.description }, params: paramsInForce(rule), readings: [], snapshots: [] },
      persisted: false,
      dropped: false,
      unsaved: initial,
      version: 0,
      savedVersion: 0,
      events: state === 'active' ? ['raised'] : [],
    };
    if (reading) addEvidence(a.evidence, reading, snapshotUrl);
    if (opened?.readings) a.evidence.readings.push(...opened.readings);
    if (opened?.params) Object.assign(a.evidence.params, opened.params);
    this.writer.alarm(a);
    return a;
  }

  // ── devices and their rules ───────────────────────────────────────────────────────────────

  private addPlacement(p: Placement): void {
    const ct = this.types.get(p.type);
    if (!ct) {
      this.opts.log.warn({ deviceId: p.deviceId, type: p.type }, 'device of a type not in the catalog: no rules');
      return;
    }
    const dev: DeviceEntry = { placement: p, ct, gen: -1, rules: [], states: [], lastSeen: this.clock.now() };
    this.refreshRules(dev);
    this.devices.set(p.deviceId, dev);
    // Silence counts from now: while the platform was down, no device could have reported.
    for (const i of ct.everyMessage) this.feed(dev, i, dev.lastSeen, undefined, dev.lastSeen);
  }

  private refreshRules(dev: DeviceEntry): void {
    dev.gen = this.overrides.generation;
    dev.rules = dev.ct.type.rules.map((r) => this.overrides.effective(r, dev.placement));
    // A rule switched off ends its open alarm.
    const now = this.clock.now();
    dev.rules.forEach((r, i) => {
      const s = dev.states[i];
      if (!r.enabled && s?.alarm) this.apply(s, s.phase === 'pending' ? { phase: 'normal', action: 'cancel' } : { phase: 'normal', action: 'clear' }, now);
    });
  }

  private newState(dev: DeviceEntry, idx: number): RuleState {
    const s: RuleState = { dev, idx, phase: 'normal', due: undefined };
    dev.states[idx] = s;
    return s;
  }

  private stateFor(deviceId: string, ruleId: string): RuleState | undefined {
    const dev = this.devices.get(deviceId);
    const idx = dev?.ct.type.rules.findIndex((r) => r.id === ruleId) ?? -1;
    if (!dev || idx < 0) return undefined;
    return dev.states[idx] ?? this.newState(dev, idx);
  }

  private loadThenHandle(r: Reading): void {
    const queued = this.loading.get(r.deviceId);
    if (queued) {
      queued.push(r);
      return;
    }
    this.loading.set(r.deviceId, [r]);
    this.opts.directory.find(r.deviceId).then(
      (p) => {
        if (!p) {
          this.loading.delete(r.deviceId);
          this.counters.unknownDevices++;
          this.opts.log.warn({ deviceId: r.deviceId }, 'reading from a device the store does not know: not evaluated');
          return;
        }
        if (!this.devices.has(p.deviceId)) this.addPlacement(p);
        this.release(r.deviceId);
      },
      (err: Error) => {
        this.loading.delete(r.deviceId);
        this.opts.log.error({ err, deviceId: r.deviceId }, 'loading a device for the rules failed');
      },
    );
  }

  private emit(events: RulesEvent[]): void {
    const now = this.clock.now();
    for (const e of events) {
      if (e.kind === 'alarm' && e.event === 'raised' && e.alarm.raisedAt) this.announceMs.add(now - Date.parse(e.alarm.raisedAt));
      this.opts.bus.emit(e);
    }
  }
}

/**
 * How soon a deadline of a device owned by another node is looked at again (that node may die):
 * one query per such device and interval on every node, so minutes, not seconds; a dead node's
 * silence deadlines are taken over that much later at most.
 */
const AWAY_RECHECK_MS = 300_000;

/** One more breaching reading behind an alarm: counted (unsaved until written), with its evidence. */
function countBreach(a: AlarmRecord, now: number, reading?: EvidenceReading, snapshotUrl?: unknown): void {
  a.count++;
  a.unsaved++;
  a.lastSeenAt = now;
  if (reading) addEvidence(a.evidence, reading, snapshotUrl);
}

function compileType(type: DeviceType): CompiledType {
  const byProp = new Map<string, number[]>();
  const byEvent = new Map<string, number[]>();
  const everyMessage: number[] = [];
  const kinds = type.rules.map((r) => kindOf(r));
  const add = (m: Map<string, number[]>, k: string, i: number) => m.set(k, [...(m.get(k) ?? []), i]);
  kinds.forEach((kind, i) => {
    const rule = type.rules[i]!;
    if (kind.listensTo === 'prop') add(byProp, kind.target!(rule), i);
    else if (kind.listensTo === 'event') add(byEvent, kind.target!(rule), i);
    else everyMessage.push(i);
  });
  return { type, kinds, byProp, byEvent, everyMessage };
}

function stormOf(rule: EffectiveRule, p: Placement): AlarmRecord['storm'] {
  return { group: rule.storm.group ?? rule.id, scope: rule.storm.scope, scopeId: stormScopeId(p, rule.storm.scope), windowS: rule.storm.windowS };
}
