/**
 * `npm run bench:rules`: the rules service's two targets (issue 3), measured in one run.
 *
 *  1. Evaluations per second of the engine over a recorded stream of readings of all five device
 *     types (the demo site's 200 devices, played by their own simulators, a tenth of them in a
 *     breach mode), on one core, against a real embedded store. Target: ≥ 200,000/s.
 *  2. Breach → alarm-event latency through the real broker (device publish → `platform/alarms/raised`
 *     at a service account), and ebike detection → `hold_door` at the device, while a simulator
 *     process (at nice 10) keeps 2,000 messages/s of background load on the same broker. Targets:
 *     p99 < 20 ms and < 200 ms.
 *
 * Options: --readings N (default 200000), --samples N (default 1000), --rate R (default 2000).
 * Everything runs on loopback, in a temp folder, and stops by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { createLogger } from '../core/logger.ts';
import { seedSite } from '../core/seed.ts';
import { DEMO_SITE_FILE, readSiteFile } from '../core/site.ts';
import { migrate } from '../core/store/migrations.ts';
import { openPglite } from '../core/store/pglite.ts';
import type { Reading } from '../core/store/readings.ts';
import { loadCatalog, type Catalog } from '../rules/catalog.ts';
import { ManualClock } from '../rules/clock.ts';
import { RuleEngine } from '../rules/engine.ts';
import { Directory } from '../core/directory.ts';
import { createRng, seedFor } from '../simulators/rng.ts';
import { startPlatformProcess } from '../test/helpers/process.ts';
import { percentile, printTable, writeReport } from './report.ts';
import { startSimulatorLoad } from './simulator-process.ts';

const { values } = parseArgs({ options: { readings: { type: 'string', default: '200000' }, samples: { type: 'string', default: '1000' }, rate: { type: 'string', default: '2000' } } });
const READINGS = Number(values.readings);
const SAMPLES = Number(values.samples);
const RATE = Number(values.rate);
const silent = createLogger('silent');

/** Plays every device's simulator for as many ticks as it takes to record `n` readings. */
function recordStream(catalog: Catalog, devices: { id: string; type: string }[], n: number, start: number): { reading: Reading; at: number }[] {
  const players = devices.map((d, i) => {
    const type = catalog.get(d.type)!;
    const rng = createRng(seedFor(7, d.id));
    const modes = type.definition.simulate.modes;
    return { d, def: type.definition, rng, state: type.definition.simulate.init(rng), mode: i % 10 === 0 && modes.length ? modes[(i / 10) % modes.length]! : 'normal', tick: 0 };
  });
  const out: { reading: Reading; at: number }[] = [];
  const stepMs = 5000 / players.length; // each device reports every 5 s
  let at = start;
  while (out.length < n) {
    for (const p of players) {
      at += stepMs;
      const o = p.def.simulate.tick(p.state, { rng: p.rng, mode: p.mode, dtS: 5, now: at, tick: p.tick++ });
      if (o.props && Object.keys(o.props).length) out.push({ at, reading: { deviceId: p.d.id, type: p.d.type, ts: at, kind: 'telemetry', data: o.props, serverTs: false } });
      for (const e of o.events ?? []) out.push({ at, reading: { deviceId: p.d.id, type: p.d.type, ts: at, kind: 'event', event: e.event, data: e.data, serverTs: false } });
      if (out.length >= n) break;
    }
  }
  return out;
}

async function benchEvaluations(catalog: Catalog) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-rules-'));
  const db = await openPglite(path.join(dir, 'store'));
  try {
    await migrate(db);
    await seedSite(db, readSiteFile(DEMO_SITE_FILE), catalog.ids(), path.join(dir, 'credentials.json'));
    const devices = (await db.query<{ id: string; type: string }>('SELECT id, type FROM devices ORDER BY id')).rows;
    const clock = new ManualClock();
    const stream = recordStream(catalog, devices, READINGS, clock.now());
    let published = 0;
    const directory = new Directory(db);
    await directory.load();
    const engine = new RuleEngine({ db, catalog, log: silent, clock, publish: async () => void published++, bus: { emit: () => void published++ }, directory });
    await engine.start();
    const warm = Math.floor(stream.length / 10);
    let syncMs = 0;
    let evalsMeasured = 0;
    const wallStart = performance.now();
    for (let i = 0; i < stream.length; i += 1000) {
      const chunk = stream.slice(i, i + 1000);
      const before = engine.counters.evaluations;
      const t0 = performance.now();
      for (const { reading, at } of chunk) {
        clock.set(at);
        engine.handleReading(reading);
      }
      const dt = performance.now() - t0;
      if (i >= warm) {
        syncMs += dt;
        evalsMeasured += engine.counters.evaluations - before;
      }
      await new Promise((r) => setImmediate(r)); // let the writer run, as the broker's event loop would
    }
    await engine.flush();
    const wallMs = performance.now() - wallStart;
    const stats = engine.stats();
    await engine.close();
    return { readings: stream.length, evaluations: stats.evaluations, evalsPerS: evalsMeasured / (syncMs / 1000), readingsPerSEndToEnd: stream.length / (wallMs / 1000), raised: stats.raised, cleared: stats.cleared, writes: stats.writes, commands: stats.commandsSent, published };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The platform runs as `npm start` does, in its own process; the probes (a smoke detector, an
 * elevator camera, a service account watching `platform/alarms`) and the simulator's background
 * load each run in theirs, as devices and consumers would.
 */
async function benchLatency() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-lat-'));
  const token = 'bench-rules-token-0123456789';
  const platform = await startPlatformProcess({ DATA_DIR: dir, PLATFORM_ADMIN_TOKEN: token });
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${platform.ports.http}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const url = `mqtt://127.0.0.1:${platform.ports.mqtt}`;
  const sim = startSimulatorLoad({ url, credentials: path.join(dir, 'device-credentials.json'), rate: RATE, durationS: 600 });
  const clients: mqtt.MqttClient[] = [];
  try {
    const smoke = await api('POST', '/api/v1/devices', { type: 'smoke-detector', buildingId: 'b01', id: 'bench-probe-smoke' });
    const ebike = await api('POST', '/api/v1/devices', { type: 'ebike-elevator', buildingId: 'b01', id: 'bench-probe-ebike' });
    // The probe alarm clears at once, so it can be raised again and again.
    await api('PUT', '/api/v1/rule-overrides', { ruleId: 'smoke-heat', deviceId: smoke.id, params: { verifyS: 0 } });
    const account = await api('POST', '/api/v1/service-accounts', { name: 'bench', subscribe: ['platform/alarms/#'] });
    const connect = (id: string, secret: string) => mqtt.connectAsync(url, { clientId: id, username: id, password: secret, reconnectPeriod: 0 });
    const watcher = await connect(account.username, account.secret);
    const smokeDev = await connect(smoke.id, smoke.secret);
    const ebikeDev = await connect(ebike.id, ebike.secret);
    clients.push(watcher, smokeDev, ebikeDev);
    await watcher.subscribeAsync(`platform/alarms/+/+/${smoke.id}`, { qos: 1 });
    await ebikeDev.subscribeAsync(`v1/ebike-elevator/${ebike.id}/cmd`, { qos: 1 });
    let waiter: ((name: string) => void) | undefined;
    watcher.on('message', (topic) => waiter?.(topic.split('/')[2]!));
    ebikeDev.on('message', (topic, payload) => {
      waiter?.('cmd');
      ebikeDev.publish(`${topic}/ack`, JSON.stringify({ id: JSON.parse(payload.toString()).id, ok: true }), { qos: 1 });
    });
    const timed = (name: string, send: () => void) =>
      new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        const timer = setTimeout(() => reject(new Error(`no ${name} within 5 s`)), 5000);
        waiter = (got) => {
          if (got !== name) return;
          clearTimeout(timer);
          waiter = undefined;
          resolve(performance.now() - t0);
        };
        send();
      });

    await new Promise((r) => setTimeout(r, 5000)); // the simulator connects its 200 devices and reaches its rate
    const health = () => api('GET', '/api/v1/health') as Promise<{ ingest: { received: number }; rules: { announceP50Ms: number; announceP99Ms: number }; eventLoop: { delayP50Ms: number; delayP99Ms: number; delayMaxMs: number } }>;
    const received0 = (await health()).ingest.received; // also starts the event-loop window
    const t0 = performance.now();
    const alarmLat: number[] = [];
    const cmdLat: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      alarmLat.push(await timed('raised', () => smokeDev.publish(`v1/smoke-detector/${smoke.id}/telemetry`, JSON.stringify({ props: { temperatureC: 80 } }), { qos: 1 })));
      await timed('cleared', () => smokeDev.publish(`v1/smoke-detector/${smoke.id}/telemetry`, JSON.stringify({ props: { temperatureC: 20 } }), { qos: 1 }));
      cmdLat.push(await timed('cmd', () => ebikeDev.publish(`v1/ebike-elevator/${ebike.id}/event`, JSON.stringify({ event: 'ebike_detected', data: { confidence: 0.95, snapshotUrl: 'https://bench.example/x.jpg' } }), { qos: 1 })));
      await new Promise((r) => setTimeout(r, 20));
    }
    const end = await health();
    const loadRate = (end.ingest.received - received0) / ((performance.now() - t0) / 1000);
    return { alarmLat, cmdLat, loadRate, eventLoop: end.eventLoop, announce: end.rules };
  } finally {
    for (const c of clients) await c.endAsync().catch(() => undefined);
    await sim.stop();
    await platform.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const catalog = await loadCatalog();
console.log(`rules benchmark: ${READINGS} recorded readings; ${SAMPLES} latency samples under ${RATE} msg/s of background load\n`);
const e = await benchEvaluations(catalog);
printTable('evaluation (one core, real embedded store)', [
  ['readings', e.readings.toLocaleString()],
  ['rule evaluations', e.evaluations.toLocaleString()],
  ['evaluations/s (synchronous path)', Math.round(e.evalsPerS).toLocaleString()],
  ['target', '200,000/s'],
  ['ratio to target', `${(e.evalsPerS / 200_000).toFixed(2)}×`],
  ['readings/s including store writes', Math.round(e.readingsPerSEndToEnd).toLocaleString()],
  ['alarms raised / cleared / store writes', `${e.raised} / ${e.cleared} / ${e.writes}`],
]);
const l = await benchLatency();
const a50 = percentile(l.alarmLat, 50), a99 = percentile(l.alarmLat, 99), c50 = percentile(l.cmdLat, 50), c99 = percentile(l.cmdLat, 99);
printTable('latency through the real broker', [
  ['background load measured', `${Math.round(l.loadRate).toLocaleString()} msg/s`],
  ['platform event-loop delay p50 / p99 / max', `${l.eventLoop.delayP50Ms} / ${l.eventLoop.delayP99Ms} / ${l.eventLoop.delayMaxMs} ms`],
  ['breach → platform/alarms/raised p50 / p99', `${a50.toFixed(1)} ms / ${a99.toFixed(1)} ms`],
  ['  of which raise → written and announced p50 / p99', `${l.announce.announceP50Ms} ms / ${l.announce.announceP99Ms} ms`],
  ['limit p99', '20 ms'],
  ['ratio p99 to limit', `${(a99 / 20).toFixed(2)}× (below 1 meets it)`],
  ['ebike_detected → hold_door p50 / p99', `${c50.toFixed(1)} ms / ${c99.toFixed(1)} ms`],
  ['limit', '200 ms'],
  ['ratio p99 to limit', `${(c99 / 200).toFixed(3)}×`],
]);
writeReport('rules', `Rules: evaluations, and breach → alarm under ${RATE.toLocaleString()} msg/s background`, { evaluation: e, samples: l.alarmLat.length, alarmP50Ms: a50, alarmP99Ms: a99, cmdP50Ms: c50, cmdP99Ms: c99, loadRate: l.loadRate, eventLoop: l.eventLoop },
  ['| evaluations/s (target 200,000) | breach → alarm p50 / p99 ms (limit 20) | ebike → hold_door p50 / p99 ms (limit 200) | background msg/s |', '| --- | --- | --- | --- |',
    `| ${Math.round(e.evalsPerS)} (${(e.evalsPerS / 200_000).toFixed(1)}×) | ${a50.toFixed(1)} / ${a99.toFixed(1)} (${(a99 / 20).toFixed(2)}×) | ${c50.toFixed(1)} / ${c99.toFixed(1)} (${(c99 / 200).toFixed(3)}×) | ${Math.round(l.loadRate)} |`].join('\n'));
process.exit(0);
