import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../core/store/pglite.ts';
import { listReadings } from '../core/store/readings.ts';
import { readCredentials } from '../simulators/credentials.ts';
import { connect, SMALL_SITE } from './helpers/platform.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-proc-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm start as a process', () => {
  it('logs the ports it chose and, on SIGTERM, writes out every acknowledged message before exiting 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
      cwd: root,
      env: { ...process.env, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: 'proc-test-token', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split('\n')) {
          if (line.includes('"platform started"')) resolve(JSON.parse(line).ports);
        }
      });
      void exited.then((code) => reject(new Error(`platform exited early (${code}): ${stderr}`)));
    });
    expect(ports.mqtt).toBeGreaterThan(0);
    expect(ports.http).toBeGreaterThan(0);

    const c = readCredentials(path.join(dataDir, 'device-credentials.json')).find((x) => x.type === 'overflow-bin')!;
    const client = await connect(`mqtt://127.0.0.1:${ports.mqtt}`, c.id, c.secret);
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.publishAsync(`v1/overflow-bin/${c.id}/telemetry`, JSON.stringify({ seq: i, props: { fillPct: i % 100 } }), { qos: 1 })));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    client.end(true);

    const db = await openPglite(path.join(dataDir, 'store'));
    const stored = await listReadings(db, { deviceId: c.id, limit: 1000 });
    await db.close();
    expect(new Set(stored.map((r) => r.seq)).size).toBe(300);
  });
});
