import { afterAll, describe, expect, it } from 'vitest';
import { countDevices } from '../core/store/devices.ts';
import { listReadings } from '../core/store/readings.ts';
import { connect, connectDevice, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform | undefined;
afterAll(() => p?.dispose());

describe('restart', () => {
  it('keeps devices, the org tree, readings and acknowledged messages across a graceful stop', async () => {
    p = await startTestPlatform({ PLATFORM_ADMIN_TOKEN: undefined });
    const token = p.generatedAdminToken!;
    expect(token).toBeTruthy();
    const created = await p.api('POST', '/api/v1/devices', { type: 'manhole-cover', buildingId: 'b2', id: 'mh-restart' }, token);
    expect(created.status).toBe(201);
    const c = p.cred('smoke-detector');
    const client = await connectDevice(p, c);
    // 500 QoS 1 messages acknowledged, then an immediate stop: none may be lost.
    await Promise.all(Array.from({ length: 500 }, (_, i) => client.publishAsync(`v1/smoke-detector/${c.id}/telemetry`, JSON.stringify({ seq: i, props: { smokeDbPerM: 0.01 } }), { qos: 1 })));
    const orgBefore = (await p.api('GET', '/api/v1/org', undefined, token)).body;
    client.end(true);
    const dataDir = p.dataDir;
    await p.stop();

    p = await startTestPlatform({ PLATFORM_ADMIN_TOKEN: undefined }, { dataDir });
    expect(p.generatedAdminToken).toBeUndefined(); // shown once, at first start only
    expect((await p.api('GET', '/api/v1/org', undefined, token)).body).toEqual(orgBefore);
    expect((await countDevices(p.db))['manhole-cover']).toBe(3);
    const stored = await listReadings(p.db, { deviceId: c.id, limit: 1000 });
    expect(new Set(stored.map((r) => r.seq)).size).toBe(500);
    const device = (await p.api('GET', `/api/v1/devices/${c.id}`, undefined, token)).body;
    expect(device).toMatchObject({ online: false, latest: { smokeDbPerM: 0.01 } });
    // Credentials survive too.
    const again = await connect(p.mqttUrl, c.id, c.secret);
    await again.endAsync();
  });
});
