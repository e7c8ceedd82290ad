import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { MqttClient } from 'mqtt';
import { connectPacket, publishPacket } from '../bench/mqtt-wire.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../core/store/pglite.ts';
import { connect, eventually, SMALL_SITE, sleep } from './helpers/platform.ts';
import { startPlatformProcess, type PlatformProcess } from './helpers/process.ts';

/**
 * Issue 12: one device sending 5,000 invalid messages is timed out; 50 well-behaved devices, beside
 * it, lose nothing, and their PUBACK p99 stays within 2× of the same run without the flood. The
 * platform runs as `npm start` does, in its own process; the devices are here.
 */
const TOKEN = 'flood-test-token-0123456789';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-flood-'));
let run: PlatformProcess;
let api: (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any }>;
const devices: { id: string; secret: string }[] = [];

beforeAll(async () => {
  run = await startPlatformProcess({ DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: TOKEN, MQTT_MAX_INVALID_PER_MIN: '100' });
  api = async (method, url, body) => {
    const res = await fetch(`http://127.0.0.1:${run.ports.http}${url}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  };
  for (let i = 0; i < 51; i++) {
    const r = await api('POST', '/api/v1/devices', { type: 'overflow-bin', buildingId: 'b2', id: `flood-${i}` });
    expect(r.status).toBe(201);
    devices.push(r.body);
  }
}, 60_000);
afterAll(async () => {
  await run?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const url = () => `mqtt://127.0.0.1:${run.ports.mqtt}`;

/** 50 devices, each sending `n` QoS 1 readings 20 ms apart; the PUBACK latencies, ms. */
async function wellBehaved(clients: MqttClient[], from: number, n: number): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    clients.map(async (c, i) => {
      await sleep(i * 0.4); // spread over the interval, as real devices are
      for (let k = 0; k < n; k++) {
        const started = performance.now();
        await c.publishAsync(`v1/overflow-bin/${devices[i]!.id}/telemetry`, JSON.stringify({ seq: from + k, props: { fillPct: 40 } }), { qos: 1 });
        latencies.push(performance.now() - started);
        await sleep(20);
      }
    }),
  );
  return latencies;
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;

describe('a flooding device', () => {
  it('is timed out after its limit; 50 others lose nothing and keep their PUBACK p99 within 2× of a quiet run', async () => {
    const clients = await Promise.all(devices.slice(0, 50).map((d) => connect(url(), d.id, d.secret)));
    await wellBehaved(clients, 0, 10); // warm up
    const quietBefore = await wellBehaved(clients, 1000, 60);

    // The flooder speaks bare MQTT, its 5,000 messages prepared beforehand, so the flood costs this
    // process (where the 50 devices' latencies are measured) next to nothing.
    const flooder = devices[50]!;
    const bad = net.connect(run.ports.mqtt, '127.0.0.1');
    bad.on('error', () => undefined);
    const closed = new Promise<void>((r) => bad.once('close', () => r()));
    bad.write(connectPacket(flooder.id, flooder.id, flooder.secret));
    await new Promise((r) => bad.once('data', r)); // CONNACK
    const flood = Array.from({ length: 5000 }, (_, i) => publishPacket(`v1/overflow-bin/${flooder.id}/telemetry`, `{"props": not json ${i}`, i % 2 ? 1 : 0, (i % 60_000) + 1));
    const sending = (async () => {
      for (let i = 0; i < flood.length && !bad.destroyed; i += 100) {
        bad.write(Buffer.concat(flood.slice(i, i + 100)));
        await sleep(2);
      }
    })();
    const during = await wellBehaved(clients, 2000, 60);
    await sending;
    await closed;
    // A quiet run's p99 moves with the disk's fsync stalls (50–150 ms now and then on this virtual
    // disk, more often under the whole suite's parallel writes): three quiet runs, one before and
    // two after the flood, give its range.
    const quietAfter = await wellBehaved(clients, 3000, 60);
    const quietLater = await wellBehaved(clients, 4000, 60);

    // Timed out: disconnected, and refused while the time-out lasts (CONNACK 3).
    const health = (await api('GET', '/api/v1/health')).body;
    expect(health.broker.timeOuts).toBe(1);
    expect(health.broker.devicesTimedOut).toBe(1);
    expect(health.ingest.rejectedByReason.device_flooding).toBe(1);
    await expect(connect(url(), flooder.id, flooder.secret)).rejects.toMatchObject({ code: 3 });
    // Its dead letters stop at about the limit: it could not fill the store.
    expect(health.ingest.rejectedByReason.invalid_json).toBeLessThanOrEqual(100 + 64);

    // Nobody else lost anything, and their acknowledgements stayed quick.
    for (const c of clients) await c.endAsync();
    await eventually(async () => (await api('GET', '/api/v1/health')).body.ingest.pending.embedded === 0, 5000, 'ingest drained');
    await run.stop();
    const db = await openPglite(path.join(dataDir, 'store'));
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM readings WHERE device_id LIKE 'flood-%' AND device_id <> $1 AND seq >= 1000`, [flooder.id]);
    await db.close();
    expect(rows[0]!.n).toBe(50 * 240);
    const quiet = Math.max(p99(quietBefore), p99(quietAfter), p99(quietLater));
    console.info(`PUBACK p99: quiet ${[quietBefore, quietAfter, quietLater].map((q) => p99(q).toFixed(1)).join(', ')} ms, during the flood ${p99(during).toFixed(1)} ms`);
    expect(p99(during)).toBeLessThanOrEqual(2 * quiet);
    run = await startPlatformProcess({ DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: TOKEN });
  }, 90_000);
});
