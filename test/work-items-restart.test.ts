import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../rules/clock.ts';
import { connectDevice, eventually, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

const SITE = path.join(import.meta.dirname, 'fixtures', 'workitems-site.json');
const S = 1000;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-sla-restart-'));
let p: TestPlatform | undefined;
afterAll(async () => {
  await p?.dispose(true);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('SLA timers across a restart', () => {
  it('a deadline that passed while the platform was down escalates once after it comes back, and the next one is armed', async () => {
    const t0 = Date.UTC(2026, 10, 21, 8, 0, 0);
    p = await startTestPlatform({ SITE_FILE: SITE }, { clock: new ManualClock(t0), dataDir });
    const cred = p.credentials.find((c) => c.id === 'ba1-manhole-cover-1')!;
    const device = await connectDevice(p, cred);
    await device.publishAsync(`v1/manhole-cover/${cred.id}/telemetry`, JSON.stringify({ props: { gasPpm: 1500 } }), { qos: 1 });
    const wo = await eventually(async () => (await p!.api('GET', `/api/v1/work-orders?deviceId=${cred.id}`)).body.items[0], 3000, 'the work order');
    expect(wo).toMatchObject({ status: 'collected', escalationLevel: 'grid' });
    await device.endAsync();
    await p.dispose(true);

    // Down through the 5-minute accept window: back 6 minutes later.
    const clock = new ManualClock(t0 + 360 * S);
    p = await startTestPlatform({ SITE_FILE: SITE }, { clock, dataDir });
    clock.advance(S);
    const item = async () => (await p!.api('GET', `/api/v1/work-orders/${wo.id}`)).body;
    const escalated = await eventually(async () => {
      const x = await item();
      return x.escalationLevel === 'community' && x;
    }, 3000, 'the missed accept deadline escalates');
    expect(escalated.timeline.filter((t: { action: string }) => t.action === 'escalate')).toHaveLength(1);
    // Re-armed for the next level, not fired again by the restart.
    clock.advance(10 * S);
    await p.workItems.idle();
    expect((await item()).escalationLevel).toBe('community');
    clock.advance(300 * S);
    await eventually(async () => (await item()).escalationLevel === 'street', 3000, 'the next missed deadline escalates to the street');
  }, 90_000); // two platform starts: slow on a loaded 2-core machine
});
