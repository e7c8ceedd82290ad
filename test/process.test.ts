import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../core/store/pglite.ts';
import { listReadings } from '../core/store/readings.ts';
import { readCredentials } from '../simulators/credentials.ts';
import { connect, SMALL_SITE } from './helpers/platform.ts';
import { startPlatformProcess } from './helpers/process.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-proc-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm start as a process', () => {
  it('logs the ports it chose and, on SIGTERM, writes out every acknowledged message before exiting 0', async () => {
    const run = await startPlatformProcess({ DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: 'proc-test-token-0123456789' });
    const ports = run.ports;
    expect(ports.mqtt).toBeGreaterThan(0);
    expect(ports.http).toBeGreaterThan(0);

    const c = readCredentials(path.join(dataDir, 'device-credentials.json')).find((x) => x.type === 'overflow-bin')!;
    const client = await connect(`mqtt://127.0.0.1:${ports.mqtt}`, c.id, c.secret);
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.publishAsync(`v1/overflow-bin/${c.id}/telemetry`, JSON.stringify({ seq: i, props: { fillPct: i % 100 } }), { qos: 1 })));
    expect(await run.stop('SIGTERM')).toBe(0);
    client.end(true);

    const db = await openPglite(path.join(dataDir, 'store'));
    const stored = await listReadings(db, { deviceId: c.id, limit: 1000 });
    await db.close();
    expect(new Set(stored.map((r) => r.seq)).size).toBe(300);
  });
});
