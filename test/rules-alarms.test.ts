import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listAlarms } from '../rules/alarm-store.ts';
import { listIncidents } from '../rules/incident-store.ts';
import { saveOverride } from '../rules/overrides.ts';
import { alarmEvents, RulesHarness } from './helpers/rules.ts';

let h: RulesHarness;
beforeAll(async () => {
  h = await RulesHarness.open();
});
afterAll(() => h?.close());
beforeEach(() => h.reset());

const S = 1000;
const open = async (filter: Parameters<typeof listAlarms>[1]) => (await listAlarms(h.db, { state: 'open', limit: 500, ...filter })).items;

describe('one open alarm per (device, rule)', () => {
  it('1,000 breaches from two ingest instances over one store make one alarm with count 1,000', async () => {
    // Two engines, each with its own memory, as two platform nodes would run; only the store is shared.
    const a = await h.engine();
    const b = await h.engine();
    const device = 'ba1-smoke-detector-1';
    // Interleaved in bursts, with the writers of both flushing in between: the races the store must settle.
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 25; i++) {
        a.tel(device, { temperatureC: 70 + (i % 5) });
        b.tel(device, { temperatureC: 70 + (i % 5) });
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([a.settle(), b.settle()]);
    const alarms = await listAlarms(h.db, { deviceId: device, ruleId: 'smoke-heat' });
    expect(alarms.total).toBe(1);
    expect(alarms.items[0]).toMatchObject({ state: 'active', count: 1000 });
    // Exactly one of them announced it as raised; the other counted repeats.
    const raised = [...a.events, ...b.events].filter((e) => e.kind === 'alarm' && e.event === 'raised');
    expect(raised).toHaveLength(1);
  });

  it('a thousand breaches microseconds apart on one engine: one alarm, a handful of writes', async () => {
    const t = await h.engine();
    for (let i = 0; i < 1000; i++) t.tel('ba1-manhole-cover-1', { gasPpm: 1500 });
    await t.settle();
    const [alarm] = await open({ deviceId: 'ba1-manhole-cover-1' });
    expect(alarm).toMatchObject({ ruleId: 'manhole-gas', count: 1000 });
    expect(t.engine.stats().writes).toBeLessThan(10);
    expect(alarmEvents(t.events, 'ba1-manhole-cover-1', 'manhole-gas')).toEqual(['raised']);
  });
});

describe('thresholds inherited down the tree', () => {
  it('a grid override changes its devices only; a device override beats it; changes apply without a restart', async () => {
    const t = await h.engine();
    const inGridA = 'ba1-smoke-detector-2';
    const alsoGridA = 'ba2-smoke-detector-1';
    const inGridB = 'bb1-smoke-detector-1';
    const put = async (scopeKind: 'org' | 'device', scopeId: string, params: Record<string, number>) => {
      await saveOverride(h.db, { scopeKind, scopeId, ruleId: 'smoke-heat', params });
      t.engine.putOverride(scopeKind, scopeId, 'smoke-heat', params);
    };
    await put('org', 'g-a', { trigger: 45, clear: 40 });
    await put('device', alsoGridA, { trigger: 65, clear: 55 });
    for (const d of [inGridA, alsoGridA, inGridB]) t.tel(d, { temperatureC: 50 });
    await t.settle();
    expect((await open({ ruleId: 'smoke-heat' })).map((a) => a.deviceId)).toEqual([inGridA]);
    for (const d of [alsoGridA, inGridB]) t.tel(d, { temperatureC: 60 });
    await t.settle();
    expect((await open({ ruleId: 'smoke-heat' })).map((a) => a.deviceId).sort()).toEqual([inGridA, inGridB]); // default 57 for grid B, 65 for the device
    const [alarm] = await open({ deviceId: inGridA });
    expect(alarm!.params).toMatchObject({ trigger: 45, clear: 40, overriddenBy: { trigger: 'org:g-a', clear: 'org:g-a' } });
    // And the effective rules say where each number comes from.
    const rules = t.engine.effectiveRules(alsoGridA)!;
    expect(rules.find((r) => r.id === 'smoke-heat')).toMatchObject({ trigger: 65, sources: { trigger: `device:${alsoGridA}` } });
    // Removing the device override lets the grid's apply again.
    t.engine.removeOverride('device', alsoGridA, 'smoke-heat');
    t.tel(alsoGridA, { temperatureC: 50 });
    await t.settle();
    expect((await open({ deviceId: alsoGridA })).map((a) => a.ruleId)).toEqual(['smoke-heat']);
  });

  it('a disabled rule raises nothing and ends its open alarm', async () => {
    const t = await h.engine();
    t.tel('ba1-overflow-bin-1', { fillPct: 90 });
    await t.settle();
    expect(await open({ deviceId: 'ba1-overflow-bin-1' })).toHaveLength(1);
    t.engine.putOverride('org', 'c-r', 'bin-full', { enabled: false });
    t.tel('ba1-overflow-bin-1', { fillPct: 95 });
    await t.settle();
    expect(await open({ deviceId: 'ba1-overflow-bin-1' })).toHaveLength(0);
    expect(alarmEvents(t.events, 'ba1-overflow-bin-1', 'bin-full')).toEqual(['raised', 'cleared']);
  });
});

describe('storms', () => {
  it('three smoke detectors of one building alarming within the window make one incident with three devices', async () => {
    const t = await h.engine();
    t.tel('ba1-smoke-detector-1', { alarm: true });
    await t.settle();
    t.clock.advance(20 * S);
    t.tel('ba1-smoke-detector-2', { temperatureC: 80 });
    await t.settle();
    t.clock.advance(20 * S);
    t.tel('ba1-smoke-detector-3', { alarm: true });
    t.tel('ba2-smoke-detector-1', { alarm: true }); // another building: its own alarm, no part of the storm
    await t.settle();
    const incidents = await listIncidents(h.db, { state: 'open', scopeId: 'ba1' });
    expect(incidents.total).toBe(1);
    expect(incidents.items[0]).toMatchObject({ groupKey: 'fire', scopeId: 'ba1', deviceIds: ['ba1-smoke-detector-1', 'ba1-smoke-detector-2', 'ba1-smoke-detector-3'] });
    const members = await open({ incidentId: incidents.items[0]!.id });
    expect(members).toHaveLength(3);
    expect((await open({ deviceId: 'ba2-smoke-detector-1' }))[0]!.incidentId).toBeNull();
    const incidentEvents = t.events.filter((e) => e.kind === 'incident').map((e) => e.event);
    expect(incidentEvents).toEqual(['opened', 'updated']); // the second detector opens it, the third joins
    // The incident closes when its last alarm clears.
    for (const d of ['ba1-smoke-detector-1', 'ba1-smoke-detector-3']) t.tel(d, { alarm: false });
    t.tel('ba1-smoke-detector-2', { temperatureC: 20 });
    t.clock.advance(61 * S);
    await t.settle();
    expect((await listIncidents(h.db, { state: 'closed' })).total).toBe(1);
  });

  it('a burst written in one batch makes one incident, announced once', async () => {
    const t = await h.engine();
    for (const d of ['ba1-smoke-detector-1', 'ba1-smoke-detector-2', 'ba1-smoke-detector-3']) t.tel(d, { alarm: true });
    await t.settle();
    const incidentEvents = t.events.filter((e) => e.kind === 'incident');
    expect(incidentEvents.map((e) => e.event)).toEqual(['opened']);
    expect(incidentEvents[0]!.kind === 'incident' && incidentEvents[0]!.incident.deviceIds).toEqual(['ba1-smoke-detector-1', 'ba1-smoke-detector-2', 'ba1-smoke-detector-3']);
    // Alarm events go out first (a raised alarm does not wait for its storm); the rows carry the incident.
    const rows = await open({ ruleId: 'smoke-device-alarm' });
    expect(new Set(rows.map((a) => a.incidentId))).toEqual(new Set([incidentEvents[0]!.kind === 'incident' && incidentEvents[0]!.incident.id]));
  });

  it('alarms further apart than the window stay apart', async () => {
    const t = await h.engine();
    t.tel('ba1-smoke-detector-1', { alarm: true });
    t.clock.advance(301 * S);
    t.tel('ba1-smoke-detector-2', { alarm: true }); // written in the same batch as the first: the window still holds
    await t.settle();
    // (The detectors of ba1 that stayed silent do make a storm of their own: a building gone quiet at once.)
    const incidents = (await listIncidents(h.db, {})).items;
    expect(incidents.filter((i) => i.groupKey === 'fire')).toEqual([]);
    expect(incidents.find((i) => i.scopeId === 'ba1')).toMatchObject({ groupKey: 'smoke-silent', deviceIds: ['ba1-smoke-detector-1', 'ba1-smoke-detector-3'] });
  });
});

describe('evidence and repeats', () => {
  it('records the crossing readings, the parameters in force and the snapshots; a throw from the same floor within 24 h whistles the police', async () => {
    const t = await h.engine();
    const cam = 'ba1-throw-camera-1';
    t.ev(cam, 'throw_detected', { floor: 12, confidence: 0.93, snapshotUrl: 'https://cam.example/1.jpg' });
    t.clock.advance(700 * S); // cleared after its quiet time
    t.ev(cam, 'throw_detected', { floor: 7, confidence: 0.9, snapshotUrl: 'https://cam.example/2.jpg' });
    t.clock.advance(700 * S);
    await t.settle();
    // (The camera, quiet for 700 s between throws, also went offline twice: that is another rule.)
    let alarms = (await listAlarms(h.db, { deviceId: cam, ruleId: 'throw-detected' })).items;
    expect(alarms.map((a) => a.whistle)).toEqual([[], []]);
    t.ev(cam, 'throw_detected', { floor: 12, confidence: 0.95, snapshotUrl: 'https://cam.example/3.jpg' });
    await t.settle();
    alarms = (await listAlarms(h.db, { deviceId: cam, ruleId: 'throw-detected', state: 'active' })).items;
    expect(alarms[0]).toMatchObject({ whistle: ['police'], severity: 'major', item: 'work_order' });
    expect(alarms[0]!.evidence).toMatchObject({
      rule: { id: 'throw-detected', kind: 'event' },
      params: { minConfidence: 0.8, event: 'throw_detected' },
      snapshots: ['https://cam.example/3.jpg'],
      readings: [{ value: { floor: 12, confidence: 0.95 } }],
    });

    const smoke = 'ba1-smoke-detector-1';
    t.tel(smoke, { smokeDbPerM: 0.16 });
    t.clock.advance(5 * S);
    t.tel(smoke, { smokeDbPerM: 0.21 });
    t.clock.advance(5 * S);
    await t.settle();
    const [density] = (await listAlarms(h.db, { deviceId: smoke, ruleId: 'smoke-density' })).items;
    expect(density).toMatchObject({ state: 'active', count: 2, params: { trigger: 0.15, clear: 0.05, holdS: 10, prop: 'smokeDbPerM' } });
    expect(density!.evidence.readings.map((r) => r.value)).toEqual([0.16, 0.21]);
  });
});

describe('downlink and memory', () => {
  it('publishes hold_door inside the reading call itself, before any store write', async () => {
    const t = await h.engine();
    const writesBefore = t.engine.stats().writes;
    t.ev('ba1-ebike-elevator-1', 'ebike_detected', { confidence: 0.9, snapshotUrl: 'https://elevator.example/a.jpg' });
    // No await in between: the command is already out when the reading call returns.
    const cmd = t.published.find((x) => x.topic === 'v1/ebike-elevator/ba1-ebike-elevator-1/cmd');
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd!.payload)).toMatchObject({ name: 'hold_door', params: { voice: expect.any(String) }, id: expect.stringMatching(/^cmd-/) });
    expect(t.engine.stats().writes).toBe(writesBefore);
    await t.settle();
  });

  it('a count window survives a restart of the engine', async () => {
    const first = await h.engine();
    first.ev('ba1-ebike-elevator-1', 'ebike_detected', { confidence: 0.9, snapshotUrl: 'https://elevator.example/1.jpg' });
    first.clock.advance(600 * S);
    first.ev('ba1-ebike-elevator-1', 'ebike_detected', { confidence: 0.9, snapshotUrl: 'https://elevator.example/2.jpg' });
    await first.settle();
    await first.engine.close();
    const second = await h.engine(first.clock);
    second.clock.advance(600 * S);
    second.ev('ba1-ebike-elevator-1', 'ebike_detected', { confidence: 0.9, snapshotUrl: 'https://elevator.example/3.jpg' });
    await second.settle();
    expect(alarmEvents(second.events, 'ba1-ebike-elevator-1', 'ebike-repeat')).toEqual(['raised']);
    expect((await open({ deviceId: 'ba1-ebike-elevator-1', ruleId: 'ebike-repeat' }))[0]).toMatchObject({ count: 3 });
  });
});

describe('a row the store refuses', () => {
  it('is dead-lettered; the other alarms are written and announced; the rules say they are degraded', async () => {
    // The store refuses any alarm of one device, as PostgreSQL refuses a value it cannot hold (class 22).
    await h.db.exec(`
      CREATE OR REPLACE FUNCTION refuse_alarm() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.device_id = 'ba1-smoke-detector-2' THEN RAISE EXCEPTION 'test store refuses this alarm' USING ERRCODE = '22023'; END IF;
        RETURN NEW;
      END $$;
      DROP TRIGGER IF EXISTS refuse_alarm ON alarms;
      CREATE TRIGGER refuse_alarm BEFORE INSERT OR UPDATE ON alarms FOR EACH ROW EXECUTE FUNCTION refuse_alarm();`);
    try {
      const e = await h.engine();
      e.tel('ba1-smoke-detector-2', { temperatureC: 80 });
      e.tel('ba1-smoke-detector-1', { temperatureC: 80 });
      const events = await e.settle();
      expect(alarmEvents(events, 'ba1-smoke-detector-1', 'smoke-heat')).toContain('raised');
      expect(alarmEvents(events, 'ba1-smoke-detector-2', 'smoke-heat')).toEqual([]);
      expect((await open({ deviceId: 'ba1-smoke-detector-1' })).length).toBe(1);
      expect(await open({ deviceId: 'ba1-smoke-detector-2' })).toEqual([]);
      const { rows } = await h.db.query<{ detail: string; payload: string }>(`SELECT detail, payload FROM dead_letters WHERE reason = 'sink_rejected' AND device_id = 'ba1-smoke-detector-2'`);
      expect(rows[0]!.detail).toContain('test store refuses this alarm');
      expect(JSON.parse(rows[0]!.payload)).toMatchObject({ deviceId: 'ba1-smoke-detector-2', ruleId: 'smoke-heat' });
      expect(e.engine.problems().join('\n')).toContain('refused');
      expect(e.engine.stats()).toMatchObject({ writeRejected: 1, writeQueue: 0 });
    } finally {
      await h.db.exec('DROP TRIGGER refuse_alarm ON alarms');
    }
  });
});
