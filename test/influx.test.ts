import { afterAll, describe, expect, it } from 'vitest';
import { listReadings } from '../core/store/readings.ts';
import { measurementOf } from '../ingest/influx/line-protocol.ts';
import type { InfluxSink } from '../ingest/influx/sink.ts';
import { Simulator } from '../simulators/simulator.ts';
import { startTestPlatform, type TestPlatform } from './helpers/platform.ts';
import { haveBinary, influxQL, INFLUXD, startInfluxDB1, startVictoriaMetrics, VICTORIA_METRICS, type Service } from './helpers/services.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Plays the normal scenario on `devices` devices for `seconds`, then writes everything out. */
async function play(p: TestPlatform, seconds: number, devices = 25): Promise<void> {
  const sim = new Simulator({ url: p.mqttUrl, catalog: p.catalog, credentials: p.credentials, scenarios: ['normal'], devices, intervalS: 0.5, durationS: seconds, qos: 1 });
  await sim.start();
  await sim.done;
}

/** Per device and numeric/boolean property: how many values the embedded store holds, and their sum. */
async function truth(p: TestPlatform): Promise<Map<string, { n: number; sum: number }>> {
  const out = new Map<string, { n: number; sum: number }>();
  for (const c of p.credentials) {
    for (const r of await listReadings(p.db, { deviceId: c.id, kind: 'telemetry', limit: 100_000 })) {
      for (const [k, v] of Object.entries(r.data)) {
        if (typeof v !== 'number' && typeof v !== 'boolean') continue;
        const key = `${measurementOf(r.type, 'telemetry')}|${c.id}|${k}`;
        const e = out.get(key) ?? { n: 0, sum: 0 };
        e.n++;
        e.sum += Number(v);
        out.set(key, e);
      }
    }
  }
  return out;
}

const influxSink = (p: TestPlatform) => (p.ingest as unknown as { opts: { sinks: InfluxSink[] } }).opts.sinks.find((s) => s.name.startsWith('influx'))!;

describe.runIf(haveBinary(VICTORIA_METRICS))('InfluxDB v2 write API (VictoriaMetrics)', () => {
  it("a simulator run's points land exactly: count and values per device and property", async () => {
    const vm = await startVictoriaMetrics();
    cleanups.push(() => vm.dispose());
    const p = await startTestPlatform({ INFLUX_URL: vm.url, INFLUX_TOKEN: 'unused-by-vm', INFLUX_ORG: 'sps', INFLUX_BUCKET: 'sps' });
    cleanups.push(() => p.dispose());
    await play(p, 4);
    await p.ingest.flush();
    await fetch(`${vm.url}/internal/force_flush`);
    await new Promise((r) => setTimeout(r, 3000));
    const res = await fetch(`${vm.url}/api/v1/export?${new URLSearchParams({ 'match[]': '{__name__=~".+"}', start: '0' })}`);
    const got = new Map<string, { n: number; sum: number }>();
    for (const line of (await res.text()).split('\n')) {
      if (!line) continue;
      const s = JSON.parse(line) as { metric: Record<string, string>; values: number[] };
      const name = s.metric.__name__!;
      const m = name.split('_').slice(0, -1).join('_');
      const field = name.slice(m.length + 1);
      const key = `${m}|${s.metric.deviceId}|${field}`;
      const e = got.get(key) ?? { n: 0, sum: 0 };
      e.n += s.values.length;
      e.sum += s.values.reduce((a, b) => a + b, 0);
      got.set(key, e);
      expect(s.metric).toMatchObject({ community: 'c-test', grid: 'g-test', building: 'b1' });
    }
    const want = await truth(p);
    expect(want.size).toBeGreaterThan(20);
    for (const [key, w] of want) {
      const g = got.get(key);
      expect(g?.n, key).toBe(w.n);
      expect(g!.sum, key).toBeCloseTo(w.sum, 6);
    }
  }, 60_000);
});

describe.runIf(haveBinary(INFLUXD))('InfluxDB 1.x v1 write API', () => {
  let influx: Service;

  it('stores every reading, tagged, typed and queryable with InfluxQL', async () => {
    influx = await startInfluxDB1();
    cleanups.push(() => influx.dispose());
    await influxQL(influx.url, '', 'CREATE DATABASE sps');
    const p = await startTestPlatform({ INFLUX_URL: influx.url, INFLUX_DATABASE: 'sps' });
    cleanups.push(() => p.dispose());
    await play(p, 3);
    await p.ingest.flush();
    const want = await truth(p);
    const series = await influxQL(influx.url, 'sps', 'SELECT count(smokeDbPerM) FROM smoke_detector GROUP BY deviceId');
    expect(series.length).toBeGreaterThan(0);
    for (const s of series) expect(s.values[0]![1]).toBe(want.get(`smoke_detector|${s.tags!.deviceId}|smokeDbPerM`)!.n);
    const [fields] = await influxQL(influx.url, 'sps', 'SHOW FIELD KEYS FROM smoke_detector');
    expect(Object.fromEntries(fields!.values as [string, string][])).toMatchObject({ smokeDbPerM: 'float', batteryPct: 'float', alarm: 'boolean', tamper: 'boolean' });
    const tagKeys = (await influxQL(influx.url, 'sps', 'SHOW TAG KEYS FROM smoke_detector'))[0]!.values.flat();
    expect(tagKeys.sort()).toEqual(['building', 'community', 'deviceId', 'grid']);
  }, 60_000);

  it('an outage of 30 s loses nothing and duplicates nothing: batches spool to disk and replay in order', async () => {
    const p = await startTestPlatform({ INFLUX_URL: influx.url, INFLUX_DATABASE: 'sps_outage' });
    cleanups.push(() => p.dispose());
    await influxQL(influx.url, '', 'CREATE DATABASE sps_outage');
    const run = play(p, 40, 20);
    await new Promise((r) => setTimeout(r, 5000));
    await influx.stop();
    await new Promise((r) => setTimeout(r, 30_000));
    const sink = influxSink(p);
    expect(sink.backlog).toBeGreaterThan(0); // the spool took what the server could not
    await influx.start();
    await run;
    await p.ingest.flush();
    expect(sink.backlog).toBe(0);
    const want = await truth(p);
    const series = await influxQL(influx.url, 'sps_outage', 'SELECT count(batteryPct) FROM smoke_detector, manhole_cover, overflow_bin GROUP BY deviceId');
    let checked = 0;
    for (const s of series) {
      expect(s.values[0]![1], `${s.name} ${s.tags!.deviceId}`).toBe(want.get(`${s.name}|${s.tags!.deviceId}|batteryPct`)!.n);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  }, 120_000);
});
