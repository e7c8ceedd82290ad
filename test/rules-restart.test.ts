import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readCredentials } from '../simulators/credentials.ts';
import { connect, eventually } from './helpers/platform.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SITE = path.join(root, 'test', 'fixtures', 'small-site-overrides.json');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-kill-'));
const TOKEN = 'kill-test-token';
let child: ChildProcess | undefined;
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts `npm start`'s entry point as its own process and resolves with its ports. */
async function start(): Promise<{ proc: ChildProcess; mqtt: number; http: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: root,
    env: { ...process.env, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', DATA_DIR: dataDir, SITE_FILE: SITE, PLATFORM_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) if (line.includes('"platform started"')) resolve(JSON.parse(line).ports);
    });
    proc.once('exit', (code) => reject(new Error(`platform exited early (${code}): ${stderr}`)));
  });
  return { proc, ...ports };
}

describe('alarm state across a kill -9', () => {
  it('resumes a pending hold and an active alarm: none lost, none duplicated', async () => {
    let run = await start();
    child = run.proc;
    const api = async (url: string) => (await fetch(`http://127.0.0.1:${run.http}${url}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    const creds = readCredentials(path.join(dataDir, 'device-credentials.json')).filter((c) => c.type === 'smoke-detector');
    const [a, b] = creds as [(typeof creds)[0], (typeof creds)[0]];
    const publish = async (c: typeof a, props: Record<string, unknown>) => {
      const client = await connect(`mqtt://127.0.0.1:${run.mqtt}`, c.id, c.secret);
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

    const exited = new Promise((r) => run.proc.once('exit', r));
    run.proc.kill('SIGKILL');
    await exited;

    run = await start();
    child = run.proc;
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

    const stopped = new Promise<number | null>((r) => run.proc.once('exit', (code) => r(code)));
    run.proc.kill('SIGTERM');
    expect(await stopped).toBe(0);
  });
});
