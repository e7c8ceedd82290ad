import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Simulator } from '../simulators/simulator.ts';
import { eventually, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

const SITE = path.join(import.meta.dirname, 'fixtures', 'workitems-site.json');
let p: TestPlatform | undefined;
afterAll(() => p?.dispose());

describe('end to end on the real clock', () => {
  it('the fire scenario yields one critical work order for the on-duty grid worker, fire brigade whistled, within 1 s of the hold time ending', async () => {
    p = await startTestPlatform({ SITE_FILE: SITE });
    const sim = new Simulator({ url: p.mqttUrl, catalog: p.catalog, credentials: p.credentials, scenarios: ['fire'], types: ['smoke-detector'], intervalS: 1, durationS: 16 });
    await sim.start();
    const fireDevice = [...sim.assignments].find(([, mode]) => mode === 'fire')![0];
    const density = await eventually(async () => {
      const a = (await p!.api('GET', `/api/v1/alarms?deviceId=${fireDevice}&ruleId=smoke-density&state=active`)).body.items[0];
      return a;
    }, 20_000, 'smoke-density active');
    await sim.done;
    await p.rules.flush();
    await p.workItems.idle();
    const orders = (await p.api('GET', `/api/v1/work-orders?deviceId=${fireDevice}`)).body.items;
    expect(orders).toHaveLength(1);
    const wo = (await p.api('GET', `/api/v1/work-orders/${orders[0].id}`)).body;
    const grid = fireDevice.startsWith('bb1') ? 'g-b' : 'g-a';
    expect(wo).toMatchObject({ severity: 'critical', status: 'collected', gridId: grid, assigneeId: grid === 'g-b' ? 'gw-b' : 'gw-a' });
    expect(wo.whistles.map((w: { department: string }) => w.department)).toEqual(['fire_brigade']);
    const holdEnds = Date.parse(density.pendingSince) + 10_000;
    expect(Date.parse(wo.createdAt)).toBeLessThanOrEqual(holdEnds + 1000);
    // The detector's smoke, heat and own alarm all count on this one order.
    expect(wo.count).toBeGreaterThanOrEqual(2);
  }, 40_000);
});
