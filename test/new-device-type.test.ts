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
const site = path.join(dir, '_site.json');
writeFileSync(site, JSON.stringify({ street: { id: 's', name: 's', communities: [{ id: 'c', name: 'c', grids: [{ id: 'g', name: 'g', microGrids: [{ id: 'm', name: 'm', buildings: [{ id: 'b', name: 'b', devices: [{ type: 'gas-detector', count: 2 }] }] }] }] }] } }));

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
  });

  it('fails loudly, naming the file, when a definition is wrong', async () => {
    const bad = mkdtempSync(path.join(os.tmpdir(), 'sps-bad-'));
    cpSync(path.join(DEVICES_DIR, 'lib'), path.join(bad, 'lib'), { recursive: true });
    writeFileSync(path.join(bad, 'broken.ts'), `export default { id: 'broken', name: 'x', description: '', heartbeatS: 60, props: {}, events: {}, rules: [], simulate: { modes: [], init() {}, tick() { return {}; } }, panels: [] };\n`);
    await expect(loadCatalog(bad)).rejects.toThrow(/broken\.ts: props/);
    rmSync(bad, { recursive: true, force: true });
  });
});
