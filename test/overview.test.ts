import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chinaMidnight } from '../work-items/overview.ts';
import { connect, startTestPlatform, type TestPlatform } from './helpers/platform.ts';
import { userTokens } from './helpers/browser.ts';
import { TEST_STORE } from './helpers/store.ts';

/** The numbers behind 一屏统揽 and the device pages, through the API, each within the caller's reach. */
const SITE = path.join(import.meta.dirname, 'fixtures', 'notify-site.json');

describe('GET /overview, GET /devices, GET /devices/:id/presence', () => {
  let p: TestPlatform;
  let tokens: Record<string, string>;
  beforeAll(async () => {
    p = await startTestPlatform({ SITE_FILE: SITE });
    tokens = userTokens(p);
  });
  afterAll(() => p?.dispose());

  it('counts open items per grid with the worst severity, by severity and level, and today\'s escalations, within each reach', async () => {
    const file = async (buildingId: string, severity: string) => (await p.api('POST', '/api/v1/work-orders', { category: 'fire_exit_blocked', description: '楼道堵塞', buildingId, severity })).body.id as string;
    await file('b-l1', 'minor');
    await file('b-l1', 'major');
    const t1 = await file('b-t1', 'minor');
    expect((await p.api('POST', `/api/v1/work-orders/${t1}/actions`, { action: 'escalate', note: '需社区协调' }, tokens['gw-t1'])).status).toBe(200);

    const all = (await p.api('GET', '/api/v1/overview')).body;
    expect(all.itemsByGrid).toEqual(expect.arrayContaining([
      { gridId: 'g-l1', communityId: 'c-l', open: 2, worst: 'major' },
      { gridId: 'g-t1', communityId: 'c-t', open: 1, worst: 'minor' },
    ]));
    expect(all.openItems).toEqual(expect.arrayContaining([
      { kind: 'work_order', severity: 'minor', level: 'community', count: 1 },
      { kind: 'work_order', severity: 'major', level: 'grid', count: 1 },
    ]));
    expect(all.today).toMatchObject({ escalations: 1, created: 3, since: chinaMidnight().toISOString() });
    expect(all.devicesByType['smoke-detector'].devices).toBe(p.credentials.filter((c) => c.type === 'smoke-detector').length);

    // 桃花's dispatcher sees 桃花 only; a resident has no overview of grids.
    const t = (await p.api('GET', '/api/v1/overview', undefined, tokens['cd-t'])).body;
    expect(t.itemsByGrid.map((r: { gridId: string }) => r.gridId)).toEqual(['g-t1']);
    expect(Object.values(t.devicesByType as Record<string, { devices: number }>).reduce((n, x) => n + x.devices, 0)).toBe(t.devicesByGrid.reduce((n: number, g: { devices: number }) => n + g.devices, 0));
    expect(t.devicesByGrid.every((g: { communityId: string }) => g.communityId === 'c-t')).toBe(true);
    expect(t.today.escalations).toBe(1);
    expect((await p.api('GET', '/api/v1/overview', undefined, tokens['cd-l'])).body.today.escalations).toBe(0);
    expect((await p.api('GET', '/api/v1/overview', undefined, tokens['res-1'])).status).toBe(403);
  });

  it('lists a grid worker\'s devices only, with presence live, and keeps when each went online and offline', async () => {
    const mine = (await p.api('GET', '/api/v1/devices', undefined, tokens['gw-l1'])).body;
    expect(mine.total).toBeGreaterThan(0);
    expect(mine.items.every((d: { gridId: string }) => d.gridId === 'g-l1')).toBe(true);
    const device = p.credentials.find((c) => c.id === mine.items[0].id)!;

    const client = await connect(p.mqttUrl, device.id, device.secret);
    await expect.poll(async () => (await p.api('GET', `/api/v1/devices?online=true&gridId=g-l1`, undefined, tokens['gw-l1'])).body.items.map((d: { id: string }) => d.id)).toContain(device.id);
    await client.endAsync();
    await expect.poll(async () => (await p.api('GET', `/api/v1/devices/${device.id}/presence`, undefined, tokens['gw-l1'])).body.items.map((x: { online: boolean }) => x.online), { timeout: 5000 }).toEqual([false, true]);
    // Another grid's worker: no such device.
    expect((await p.api('GET', `/api/v1/devices/${device.id}/presence`, undefined, tokens['gw-t1'])).status).toBe(404);
  });

  it(`runs on the store it was asked for (${TEST_STORE})`, async () => {
    // A PostgreSQL server listens on a port; PGlite (WASM, in-process) on none.
    const { rows } = await p.db.query<{ port: number | null }>('SELECT inet_server_port() AS port');
    expect(rows[0]!.port !== null).toBe(TEST_STORE === 'postgres');
  });

  it('midnight is China\'s (UTC+8), whatever the server\'s zone', () => {
    expect(chinaMidnight(new Date('2026-12-02T18:30:00Z')).toISOString()).toBe('2026-12-02T16:00:00.000Z');
    expect(chinaMidnight(new Date('2026-12-02T15:59:59Z')).toISOString()).toBe('2026-12-01T16:00:00.000Z');
  });
});
