import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEVICES_DIR, loadCatalog } from '../rules/catalog.ts';
import { listReadings } from '../core/store/readings.ts';
import { listDeadLetters } from '../core/store/dead-letters.ts';
import { Simulator } from '../simulators/simulator.ts';
import { connectDevice, latestOf, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

// A copy of devices/ plus one new file: nothing else in the tree changes.
const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-devices-'));
cpSync(DEVICES_DIR, dir, { recursive: true });
writeFileSync(
  path.join(dir, 'gas-detector.ts'),
  `import { defineDevice } from './lib/define.ts';
import { batteryPct, num } from './lib/props.ts';
export default defineDevice<{ ppm: number }>({
  id: 'gas-detector',
  name: '燃气探测器',
  description: 'Kitchen gas detector',
  heartbeatS: 60,
  props: { methanePctLel: num('甲烷 methane', '%LEL', 0, 100), batteryPct: batteryPct() },
  events: {},
  rules: [{ id: 'gas-leak', kind: 'threshold', prop: 'methanePctLel', trigger: 10, clear: 5, description: 'Methane ≥ 10 %LEL', raises: { item: 'work_order', severity: 'critical', whistle: ['fire_brigade'] } }],
  simulate: {
    modes: ['leak'],
    init: () => ({ ppm: 1 }),
    tick: (s, { mode }) => { s.ppm = mode === 'leak' ? Math.min(100, s.ppm + 5) : 1; return { props: { methanePctLel: s.ppm, batteryPct: 90 } }; },
  },
  panels: [{ title: 'Methane', props: ['methanePctLel'], unit: '%LEL' }],
});
`,
);
// A type composed from facets: battery() and heartbeat() bring their property, rules and panel.
writeFileSync(
  path.join(dir, 'leak-sensor.ts'),
  `import { defineDevice } from './lib/define.ts';
import { battery, heartbeat } from './lib/facets.ts';
import { bool } from './lib/props.ts';
export default defineDevice<null>({
  id: 'leak-sensor',
  name: '水浸传感器',
  description: 'Water on the floor of a pump room',
  extend: [battery(), heartbeat(300)],
  props: { leak: bool('水浸 water detected') },
  rules: [{ id: 'leak-water', kind: 'boolean', prop: 'leak', description: 'Water on the floor', raises: { item: 'ticket', severity: 'major', category: 'plumbing' } }],
  simulate: { modes: ['leak'], init: () => null, tick: (_s, { mode }) => ({ props: { leak: mode === 'leak' } }) },
  panels: [],
});
`,
);
const site = path.join(dir, '_site.json');
writeFileSync(site, JSON.stringify({ street: { id: 's', name: 's', communities: [{ id: 'c', name: 'c', grids: [{ id: 'g', name: 'g', microGrids: [{ id: 'm', name: 'm', buildings: [{ id: 'b', name: 'b', devices: [{ type: 'gas-detector', count: 2 }, { type: 'leak-sensor', count: 1 }] }] }] }] }] } }));

let p: TestPlatform | undefined;
afterAll(async () => {
  await p?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('a new device type from one new file', () => {
  it('is in the catalog with its schema and rules', async () => {
    const catalog = await loadCatalog(dir);
    expect(catalog.ids()).toContain('gas-detector');
    expect(catalog.get('gas-detector')!.rules[0]).toMatchObject({ id: 'gas-leak', trigger: 10 });
  });

  it('is seeded, authenticated, validated, stored and simulated by the platform', async () => {
    p = await startTestPlatform({ SITE_FILE: site }, { catalogDir: dir });
    const c = p.cred('gas-detector');
    const client = await connectDevice(p, c);
    await client.publishAsync(`v1/gas-detector/${c.id}/telemetry`, JSON.stringify({ props: { methanePctLel: 3 } }), { qos: 1 });
    await client.publishAsync(`v1/gas-detector/${c.id}/telemetry`, JSON.stringify({ props: { methanePctLel: 300 } }), { qos: 1 });
    await client.endAsync();
    await p.ingest.flush();
    expect(await latestOf(p, c.id)).toEqual({ methanePctLel: 3 });
    expect((await listDeadLetters(p.db, { deviceId: c.id }))[0]).toMatchObject({ reason: 'out_of_range' });

    const sim = new Simulator({ url: p.mqttUrl, catalog: p.catalog, credentials: p.credentials, scenarios: ['normal'], intervalS: 0.2, durationS: 1 });
    await sim.start();
    await sim.done;
    await p.ingest.flush();
    expect(sim.stats.byType['gas-detector']).toBeGreaterThan(0);
    expect((await listReadings(p.db, { type: 'gas-detector' })).length).toBeGreaterThan(2);
    // It starts a platform (a new store: initdb) inside the test, as others do in a 60 s beforeAll:
    // ~7 s alone, past 30 s once under the whole suite on two cores.
  }, 60_000);

  it('gets the low-battery and offline rules of its facets, and the battery panel, with no other file touched', async () => {
    const t = (await loadCatalog(dir)).get('leak-sensor')!;
    expect(t.definition.heartbeatS).toBe(300);
    expect(t.definition.props.batteryPct).toMatchObject({ kind: 'number', unit: '%' });
    expect(t.rules.map((r) => r.id)).toEqual(['leak-water', 'leak-sensor-battery-low', 'leak-sensor-offline']);
    expect(t.rules[1]).toMatchObject({ kind: 'threshold', prop: 'batteryPct', direction: 'below', raises: { item: 'ticket', autoClose: true, category: 'battery' } });
    expect(t.rules[2]).toMatchObject({ kind: 'silence', heartbeats: 3, raises: { item: 'ticket', autoClose: true, category: 'offline' } });
    expect(t.definition.panels.map((x) => x.props)).toEqual([['batteryPct']]);
    expect(t.definition.simulate.modes).toEqual(['leak', 'low-battery']);
  });

  it('on the platform: GET /rules lists them, and a low battery opens a ticket that closes itself when the battery is changed', async () => {
    const rules = (await p!.api('GET', '/api/v1/rules')).body.items.filter((r: { type: string }) => r.type === 'leak-sensor');
    expect(rules.map((r: { id: string }) => r.id)).toEqual(['leak-water', 'leak-sensor-battery-low', 'leak-sensor-offline']);
    const c = p!.cred('leak-sensor');
    const client = await connectDevice(p!, c);
    const send = async (batteryPct: number) => {
      await client.publishAsync(`v1/leak-sensor/${c.id}/telemetry`, JSON.stringify({ props: { batteryPct } }), { qos: 1 });
      await p!.rules.flush();
      await p!.workItems.idle();
    };
    await send(12);
    const tickets = async () => (await p!.api('GET', `/api/v1/tickets?deviceId=${c.id}`)).body.items;
    expect(await tickets()).toMatchObject([{ ruleId: 'leak-sensor-battery-low', status: 'collected', category: 'battery', autoClose: true }]);
    await client.endAsync();
  });

  it('fails loudly, naming the file, when a definition is wrong', async () => {
    const bad = mkdtempSync(path.join(os.tmpdir(), 'sps-bad-'));
    cpSync(path.join(DEVICES_DIR, 'lib'), path.join(bad, 'lib'), { recursive: true });
    writeFileSync(path.join(bad, 'broken.ts'), `export default { id: 'broken', name: 'x', description: '', heartbeatS: 60, props: {}, events: {}, rules: [], simulate: { modes: [], init() {}, tick() { return {}; } }, panels: [] };\n`);
    await expect(loadCatalog(bad)).rejects.toThrow(/broken\.ts: props/);
    rmSync(bad, { recursive: true, force: true });
  });
});
