import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../core/store/dead-letters.ts';
import { listReadings } from '../core/store/readings.ts';
import { Simulator, type SimulatorOptions } from '../simulators/simulator.ts';
import { connect, deadLettersFor, latestOf, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(() => p?.dispose());

async function run(scenarios: string[], durationS: number, extra: Partial<SimulatorOptions> = {}) {
  const sim = new Simulator({ url: p.mqttUrl, catalog: p.catalog, credentials: p.credentials, scenarios, intervalS: 0.25, durationS, ...extra });
  await sim.start();
  await sim.done;
  await p.ingest.flush();
  return sim;
}

const deviceOf = (sim: Simulator, mode: string) => [...sim.assignments].find(([, m]) => m === mode)![0];

describe('simulator scenarios', () => {
  it('normal: every type reports and nothing is dead-lettered', async () => {
    const before = (await listDeadLetters(p.db, { limit: 1000 })).length;
    const sim = await run(['normal'], 2);
    expect(sim.devices).toHaveLength(10);
    for (const type of p.catalog.ids()) expect(sim.stats.byType[type], type).toBeGreaterThan(0);
    for (const c of p.credentials) expect((await listReadings(p.db, { deviceId: c.id, limit: 1 })).length, c.id).toBe(1);
    expect((await listDeadLetters(p.db, { limit: 1000 })).length).toBe(before);
  });

  it('fire: one smoke detector climbs past 0.15 dB/m and raises its own alarm', async () => {
    const sim = await run(['fire'], 2.5);
    const id = deviceOf(sim, 'fire');
    const readings = await listReadings(p.db, { deviceId: id, kind: 'telemetry', since: new Date(Date.now() - 10_000) });
    expect(Math.max(...readings.map((r) => r.data.smokeDbPerM as number))).toBeGreaterThanOrEqual(0.15);
    expect(readings.some((r) => r.data.alarm === true)).toBe(true);
    // The other smoke detector stays clear.
    const other = p.credentials.find((c) => c.type === 'smoke-detector' && c.id !== id)!;
    const calm = await listReadings(p.db, { deviceId: other.id, kind: 'telemetry', since: new Date(Date.now() - 10_000) });
    expect(Math.max(...calm.map((r) => r.data.smokeDbPerM as number))).toBeLessThan(0.05);
  });

  it('manhole-open, bin-overflow, ebike-repeat, throw-repeat: each plays its breach', async () => {
    const sim = await run(['manhole-open', 'bin-overflow', 'ebike-repeat', 'throw-repeat'], 3);
    const since = new Date(Date.now() - 10_000);
    const latest = (mode: string) => latestOf(p, deviceOf(sim, mode));
    expect(await latest('open')).toMatchObject({ open: true });
    expect((await latest('open')).tiltDeg).toBeGreaterThanOrEqual(15);
    expect((await latest('overflow')).fillPct).toBeGreaterThanOrEqual(80);
    const ebikes = await listReadings(p.db, { deviceId: deviceOf(sim, 'repeat'), kind: 'event', since });
    expect(ebikes.filter((r) => r.event === 'ebike_detected').length).toBeGreaterThanOrEqual(3);
    expect(ebikes.every((r) => (r.data.confidence as number) >= 0.85)).toBe(true);
    const throws = await listReadings(p.db, { deviceId: deviceOf(sim, 'throw'), kind: 'event', since });
    expect(throws.length).toBeGreaterThanOrEqual(3);
    expect(new Set(throws.map((r) => r.data.floor)).size).toBe(1); // the same floor again and again
  });

  it('offline-storm: every dropped device goes offline and comes back online', async () => {
    const { body } = await p.api('POST', '/api/v1/service-accounts', { name: 'presence', subscribe: ['v1/+/+/status'] });
    // A service account's client id is its username or starts with `{username}-` (DESIGN §5).
    const watcher = await connect(p.mqttUrl, body.username, body.secret, { clientId: `${body.username}-presence` });
    const offline = new Set<string>();
    const backOnline = new Set<string>();
    watcher.on('message', (topic, m, pkt) => {
      if (pkt.retain) return;
      const id = topic.split('/')[2]!;
      if (m.toString() === 'offline') offline.add(id);
      else if (offline.has(id)) backOnline.add(id);
    });
    await watcher.subscribeAsync('v1/+/+/status', { qos: 1 });
    const sim = await run(['offline-storm'], 6);
    expect(sim.stats.dropped).toBeGreaterThan(0);
    // Every dropped device went offline and came back; at the end of the run all devices leave, so
    // `offline` may hold more than the dropped ones by the time it is read.
    expect(backOnline.size).toBe(sim.stats.dropped);
    expect(offline.size).toBeGreaterThanOrEqual(sim.stats.dropped);
    await watcher.endAsync();
  });

  it('bad-device: each kind of bad message is dead-lettered with its own reason, good ones are stored', async () => {
    const sim = await run(['bad-device'], 4, { badEveryS: 60 });
    const id = deviceOf(sim, 'bad-device');
    await deadLettersFor(p, id, 'packet_too_large');
    const reasons = new Set((await listDeadLetters(p.db, { deviceId: id, limit: 100 })).map((l) => l.reason));
    for (const r of ['invalid_json', 'empty_props', 'unknown_property', 'wrong_type', 'out_of_range', 'payload_too_large', 'unknown_event', 'topic_not_allowed', 'packet_too_large'])
      expect(reasons, r).toContain(r);
    expect(sim.stats.bad.subscribe_not_allowed).toBe(1);
    // Between the bad messages the same device's good reports were stored.
    expect((await listReadings(p.db, { deviceId: id, since: new Date(Date.now() - 10_000) })).length).toBeGreaterThan(0);
  });
});
