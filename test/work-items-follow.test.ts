import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../rules/clock.ts';
import { connectDevice, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

const SITE = path.join(import.meta.dirname, 'fixtures', 'workitems-site.json');
let p: TestPlatform;
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  p = await startTestPlatform({ SITE_FILE: SITE }, { clock });
});
afterAll(() => p?.dispose());

describe('whistles follow the alarm (issue 15)', () => {
  it('a second throw from the same floor while the first item is open whistles the police on that item', async () => {
    const cred = p.credentials.find((c) => c.id === 'ba1-throw-camera-1')!;
    const cam = await connectDevice(p, cred);
    const throwFrom = async (floor: number) => {
      await cam.publishAsync(`v1/throw-camera/${cred.id}/event`, JSON.stringify({ event: 'throw_detected', data: { floor, confidence: 0.95, snapshotUrl: 'https://cam.example/x.jpg' } }), { qos: 1 });
      await p.rules.flush();
      await p.workItems.idle();
    };
    await throwFrom(12);
    const wo = (await p.api('GET', `/api/v1/work-orders?deviceId=${cred.id}`)).body.items[0];
    expect(wo).toMatchObject({ status: 'collected', ruleId: 'throw-detected' });
    expect(wo.title).toMatch(/A1号楼 高空抛物摄像机-1：高空抛物/);
    const whistled = async () => (await p.api('GET', `/api/v1/work-orders/${wo.id}`)).body.whistles.map((w: { department: string }) => w.department);
    expect(await whistled()).toEqual([]);
    clock.advance(60_000);
    await throwFrom(7); // another floor: no repeat
    expect(await whistled()).toEqual([]);
    await throwFrom(12); // the same floor again within 24 h
    expect(await whistled()).toEqual(['police']);
    const entry = (await p.api('GET', `/api/v1/work-orders/${wo.id}`)).body.timeline.at(-1);
    expect(entry).toMatchObject({ action: 'whistle', actorRole: 'platform', data: { departments: ['police'] } });
    expect(entry.note).toContain('公安');
    // A third throw adds nothing twice.
    await throwFrom(12);
    expect(await whistled()).toEqual(['police']);
    await cam.endAsync();
  });
});

describe('acting for a department (代报到, issue 15)', () => {
  it('an admin walks a fire work order to closed by recording the fire brigade\'s report-in and part', async () => {
    const cred = p.credentials.find((c) => c.id === 'ba2-smoke-detector-1')!;
    const dev = await connectDevice(p, cred);
    await dev.publishAsync(`v1/smoke-detector/${cred.id}/telemetry`, JSON.stringify({ props: { alarm: true } }), { qos: 1 });
    await p.rules.flush();
    await p.workItems.idle();
    await dev.endAsync();
    const wo = (await p.api('GET', `/api/v1/work-orders?deviceId=${cred.id}`)).body.items[0];
    const url = `/api/v1/work-orders/${wo.id}`;
    expect((await p.api('GET', url)).body.whistles.map((w: { department: string }) => w.department)).toEqual(['fire_brigade']);
    for (const action of ['accept', 'dispatch', 'start']) expect((await p.api('POST', `${url}/actions`, { action, assigneeId: action === 'dispatch' ? 'gw-a' : undefined })).status, action).toBe(200);
    // Without the department's part the item cannot move on, and the answer says what can.
    const refused = await p.api('POST', `${url}/actions`, { action: 'resolve' });
    expect(refused).toMatchObject({ status: 409, body: { code: 'WI_DEPARTMENTS_WORKING', allowed: expect.arrayContaining(['report_in', 'resolve']) } });
    expect((await p.api('POST', `${url}/actions`, { action: 'report_in' })).body).toMatchObject({ code: 'WI_BAD_INPUT', field: 'department' });
    expect((await p.api('POST', `${url}/actions`, { action: 'report_in', department: 'police' })).body).toMatchObject({ code: 'WI_BAD_INPUT', field: 'department' });
    expect((await p.api('POST', `${url}/actions`, { action: 'report_in', department: 'fire_brigade', note: '消防已到场' })).status).toBe(200);
    expect((await p.api('POST', `${url}/actions`, { action: 'resolve', department: 'fire_brigade', note: '明火已扑灭' })).body).toMatchObject({ status: 'resolved' });
    expect((await p.api('POST', `${url}/actions`, { action: 'verify' })).body).toMatchObject({ status: 'closed' });
    const item = (await p.api('GET', url)).body;
    expect(item.whistles[0]).toMatchObject({ department: 'fire_brigade', reportedAt: expect.any(String), finishedAt: expect.any(String) });
    const byAdmin = item.timeline.filter((e: { action: string }) => e.action === 'report_in' || e.action === 'resolve');
    expect(byAdmin.map((e: { data: unknown }) => e.data)).toEqual([
      expect.objectContaining({ department: 'fire_brigade', onBehalf: true, recordedBy: 'admin' }),
      expect.objectContaining({ department: 'fire_brigade', onBehalf: true, recordedBy: 'admin' }),
    ]);
  });
});
