import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCredentials } from '../simulators/credentials.ts';
import { connect, eventually } from './helpers/platform.ts';
import { startPlatformProcess, type PlatformProcess, ROOT } from './helpers/process.ts';

const SITE = path.join(ROOT, 'test', 'fixtures', 'small-site-overrides.json');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-kill-'));
const TOKEN = 'kill-test-token-0123456789';
let run: PlatformProcess | undefined;
afterAll(async () => {
  await run?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const start = () => startPlatformProcess({ DATA_DIR: dataDir, SITE_FILE: SITE, PLATFORM_ADMIN_TOKEN: TOKEN });

describe('alarm state across a kill -9', () => {
  it('resumes a pending hold and an active alarm: none lost, none duplicated', async () => {
    run = await start();
    const api = async (url: string) => (await fetch(`http://127.0.0.1:${run!.ports.http}${url}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    const creds = readCredentials(path.join(dataDir, 'device-credentials.json')).filter((c) => c.type === 'smoke-detector');
    const [a, b] = creds as [(typeof creds)[0], (typeof creds)[0]];
    const publish = async (c: typeof a, props: Record<string, unknown>) => {
      const client = await connect(`mqtt://127.0.0.1:${run!.ports.mqtt}`, c.id, c.secret);
      await client.publishAsync(`v1/smoke-detector/${c.id}/telemetry`, JSON.stringify({ props }), { qos: 1 });
      await client.endAsync();
    };
    await publish(a, { smokeDbPerM: 0.3 }); // pending: the site file holds it 4 s in building b1
    await publish(b, { alarm: true }); // active at once
    const before = await eventually(async () => {
      const open = (await api('/api/v1/alarms?state=open')).items as { id: string; deviceId: string; ruleId: string; state: string; pendingSince: string }[];
      const pa = open.find((x) => x.deviceId === a.id && x.ruleId === 'smoke-density' && x.state === 'pending');
      const ab = open.find((x) => x.deviceId === b.id && x.ruleId === 'smoke-device-alarm' && x.state === 'active');
      return pa && ab && { pa, ab };
    }, 5000, 'one pending, one active');

    await run.stop('SIGKILL');
    run = await start();
    await publish(b, { alarm: true }); // a repeat of the active alarm, after the restart
    const after = await eventually(async () => {
      const all = (await api('/api/v1/alarms?limit=100')).items as { id: string; deviceId: string; ruleId: string; state: string; count: number; pendingSince: string; raisedAt: string }[];
      const forA = all.filter((x) => x.deviceId === a.id && x.ruleId === 'smoke-density');
      const forB = all.filter((x) => x.deviceId === b.id && x.ruleId === 'smoke-device-alarm');
      return forA[0]?.state === 'active' && forB[0]?.count === 2 && { forA, forB };
    }, 10_000, 'the hold completes and the repeat counts');
    expect(after.forA).toHaveLength(1);
    expect(after.forA[0]!.id).toBe(before.pa.id);
    expect(after.forA[0]!.pendingSince).toBe(before.pa.pendingSince);
    expect(Date.parse(after.forA[0]!.raisedAt) - Date.parse(after.forA[0]!.pendingSince)).toBeGreaterThanOrEqual(4000);
    expect(after.forB).toHaveLength(1);
    expect(after.forB[0]!.id).toBe(before.ab.id);

    expect(await run.stop('SIGTERM')).toBe(0);
  }, 90_000); // two platform starts in a process each: slow on a loaded 2-core machine
});
