import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceCredential } from '../core/seed.ts';
import type { Logger } from '../core/logger.ts';
import type { Catalog, DeviceType } from '../devices/lib/catalog.ts';
import type { Rng } from '../devices/lib/define.ts';
import { createRng, seedFor } from './rng.ts';
import { resolveScenarios } from './scenarios.ts';
import { BadDevice } from './bad-device.ts';

export interface SimulatorOptions {
  url: string;
  catalog: Catalog;
  credentials: DeviceCredential[];
  scenarios?: string[];
  /** Use at most this many devices (default: every device in the credentials). */
  devices?: number;
  /** Only these device types. */
  types?: string[];
  /** Seconds between two reports of one device (default 5). */
  intervalS?: number;
  /** Load mode: total device reports per second across all devices; overrides intervalS. */
  rate?: number;
  /** Stop by itself after this many seconds (0: run until stop()). */
  durationS?: number;
  qos?: 0 | 1;
  seed?: number;
  /** Connections opened at once while starting. */
  connectConcurrency?: number;
  /** Seconds between two rounds of misbehaviour of the bad device. */
  badEveryS?: number;
  log?: Logger;
}

interface SimDevice {
  cred: DeviceCredential;
  type: DeviceType;
  state: unknown;
  rng: Rng;
  mode: string;
  ticks: number;
  seq: number;
  /** The device clock's last reading: its reports never share a millisecond (a time series keeps one point per series and time). */
  lastTs: number;
  client?: MqttClient;
  prefix: string;
}

export interface SimulatorStats {
  reports: number;
  published: { telemetry: number; event: number };
  byType: Record<string, number>;
  commandsAcked: number;
  dropped: number;
  bad: Record<string, number>;
  errors: number;
}

/**
 * Plays devices against a broker: each device's behaviour comes from its catalog definition, the
 * scenario decides who misbehaves. One scheduler spreads the reports evenly over time, so the same
 * code serves a 10-device demo and a load run at a fixed total rate.
 */
export class Simulator {
  readonly stats: SimulatorStats = { reports: 0, published: { telemetry: 0, event: 0 }, byType: {}, commandsAcked: 0, dropped: 0, bad: {}, errors: 0 };
  /** Device id → mode, for devices that play something other than `normal`. */
  readonly assignments = new Map<string, string>();
  readonly devices: SimDevice[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private stormTimer: NodeJS.Timeout | undefined;
  private bad: BadDevice | undefined;
  private readonly stormShare: number;
  private cursor = 0;
  private started = 0;
  private ticked = 0;
  private finished!: () => void;
  /** Settles when the run's duration is over and every client has closed. */
  readonly done = new Promise<void>((resolve) => (this.finished = resolve));

  constructor(private readonly opts: SimulatorOptions) {
    const seed = opts.seed ?? 1;
    let creds = opts.credentials.filter((c) => opts.catalog.get(c.type) && (!opts.types || opts.types.includes(c.type)));
    if (opts.devices !== undefined) creds = spreadOverTypes(creds, opts.devices);
    for (const cred of creds) {
      const type = opts.catalog.get(cred.type)!;
      const rng = createRng(seedFor(seed, cred.id));
      this.devices.push({ cred, type, rng, state: type.definition.simulate.init(rng), mode: 'normal', ticks: 0, seq: 0, lastTs: 0, prefix: `v1/${cred.type}/${cred.id}/` });
    }
    const scenarios = resolveScenarios(opts.scenarios ?? ['normal']);
    const taken = new Set<string>();
    for (const s of scenarios) {
      for (const m of s.modes ?? []) {
        const d = this.devices.find((x) => x.cred.type === m.type && !taken.has(x.cred.id));
        if (!d) throw new Error(`scenario ${s.name}: no free ${m.type} device to play "${m.mode}"`);
        if (!d.type.definition.simulate.modes.includes(m.mode)) throw new Error(`scenario ${s.name}: ${m.type} has no mode "${m.mode}"`);
        d.mode = m.mode;
        taken.add(d.cred.id);
        this.assignments.set(d.cred.id, m.mode);
      }
    }
    if (scenarios.some((s) => s.badDevice)) {
      // A type with a numeric property can be sent out-of-range values too.
      const d = this.devices.find((x) => !taken.has(x.cred.id) && Object.values(x.type.definition.props).some((p) => p.kind === 'number')) ??
        this.devices.find((x) => !taken.has(x.cred.id));
      const victim = this.devices.find((x) => x !== d);
      if (!d || !victim) throw new Error('scenario bad-device needs at least two devices');
      taken.add(d.cred.id);
      this.assignments.set(d.cred.id, 'bad-device');
      this.bad = new BadDevice(opts.url, d.cred, d.type, victim.prefix, this.stats.bad, opts.log);
    }
    this.stormShare = scenarios.find((s) => s.offlineStorm)?.offlineStorm?.share ?? 0;
  }

  async start(): Promise<void> {
    const concurrency = this.opts.connectConcurrency ?? 100;
    for (let i = 0; i < this.devices.length; i += concurrency) await Promise.all(this.devices.slice(i, i + concurrency).map((d) => this.connect(d)));
    this.started = Date.now();
    this.timer = setInterval(() => this.schedule(), 20);
    if (this.bad) await this.bad.start(this.opts.badEveryS ?? 10);
    const durationMs = (this.opts.durationS ?? 0) * 1000;
    if (durationMs > 0) this.stopTimer = setTimeout(() => void this.stop(), durationMs);
    if (this.stormShare > 0) this.stormTimer = setTimeout(() => this.storm(this.stormShare), durationMs > 0 ? durationMs * 0.2 : 5000);
  }

  /** Devices connected right now. */
  get connected(): number {
    return this.devices.filter((d) => d.client?.connected).length;
  }

  /** Ticks per second across all devices. */
  get rate(): number {
    return this.opts.rate ?? this.devices.length / (this.opts.intervalS ?? 5);
  }

  private schedule(): void {
    const due = Math.floor(((Date.now() - this.started) / 1000) * this.rate) - this.ticked;
    const n = this.devices.length;
    if (n === 0) return;
    const dtS = n / this.rate;
    for (let i = 0; i < due; i++) {
      const d = this.devices[this.cursor]!;
      this.cursor = (this.cursor + 1) % n;
      this.ticked++;
      if (d.client?.connected) this.tick(d, dtS);
    }
  }

  private tick(d: SimDevice, dtS: number): void {
    // A scheduler running late ticks a device twice in one turn: its clock still moves on.
    const now = (d.lastTs = Math.max(Date.now(), d.lastTs + 1));
    const out = d.type.definition.simulate.tick(d.state, { rng: d.rng, mode: d.mode, dtS, now, tick: d.ticks++ });
    const qos = this.opts.qos ?? 1;
    this.stats.reports++;
    if (out.props && Object.keys(out.props).length) {
      d.client!.publish(`${d.prefix}telemetry`, JSON.stringify({ ts: now, seq: d.seq++, props: out.props }), { qos });
      this.stats.published.telemetry++;
      this.stats.byType[d.cred.type] = (this.stats.byType[d.cred.type] ?? 0) + 1;
    }
    for (const e of out.events ?? []) {
      d.client!.publish(`${d.prefix}event`, JSON.stringify({ ts: now, seq: d.seq++, event: e.event, data: e.data }), { qos });
      this.stats.published.event++;
    }
  }

  private connect(d: SimDevice): Promise<void> {
    return new Promise((resolve) => {
      const client = mqtt.connect(this.opts.url, {
        clientId: d.cred.id,
        username: d.cred.id,
        password: d.cred.secret,
        clean: true,
        keepalive: Math.max(30, Math.round(d.type.definition.heartbeatS * 2)),
        reconnectPeriod: 1000 + Math.round(d.rng.between(0, 2000)),
        connectTimeout: 10_000,
      });
      d.client = client;
      let first = true;
      client.on('connect', () => {
        client.subscribe(`${d.prefix}cmd`, { qos: 1 });
        if (first) {
          first = false;
          resolve();
        }
      });
      client.on('message', (topic, payload) => {
        if (topic !== `${d.prefix}cmd`) return;
        let id: unknown;
        try {
          id = (JSON.parse(payload.toString()) as { id?: unknown }).id;
        } catch {
          id = undefined;
        }
        client.publish(`${d.prefix}cmd/ack`, JSON.stringify({ id, ok: true, ts: Date.now() }), { qos: 1 });
        this.stats.commandsAcked++;
      });
      client.on('error', (err) => {
        this.stats.errors++;
        this.opts.log?.warn({ deviceId: d.cred.id, err: err.message }, 'simulated device error');
        if (first) {
          first = false;
          resolve();
        }
      });
    });
  }

  /** Drops the connection of a share of devices without DISCONNECT; mqtt.js reconnects them. */
  private storm(share: number): void {
    const victims = this.devices.filter((d) => d.rng.chance(share));
    for (const d of victims) {
      d.client?.stream?.destroy();
      this.stats.dropped++;
    }
    this.opts.log?.info({ dropped: victims.length }, 'offline storm: connections dropped');
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.stopTimer);
    clearTimeout(this.stormTimer);
    await this.bad?.stop();
    await Promise.all(this.devices.map((d) => d.client?.endAsync().catch(() => undefined)));
    this.finished();
  }
}

/** Picks `n` devices round-robin over the types, so a small run still covers every type. */
function spreadOverTypes(creds: DeviceCredential[], n: number): DeviceCredential[] {
  const byType = new Map<string, DeviceCredential[]>();
  for (const c of creds) byType.set(c.type, [...(byType.get(c.type) ?? []), c]);
  const lists = [...byType.values()];
  const out: DeviceCredential[] = [];
  for (let i = 0; out.length < n && lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length && out.length < n) out.push(l[i]!);
  return out;
}
