import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../core/store/pglite.ts';
import { SMALL_SITE, sleep } from './helpers/platform.ts';
import { startPlatformProcess, type PlatformProcess } from './helpers/process.ts';
import { freePort } from './helpers/services.ts';

/**
 * Acknowledged means on disk (issue 12): `kill -9` of `npm start` while 20 devices publish at QoS 1;
 * after a restart every (device, seq) that got its PUBACK is stored, and stored once, also those
 * the devices resend because the crash took their PUBACK with it.
 */
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sps-crash-'));
let run: PlatformProcess | undefined;
afterAll(async () => {
  await run?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const TOKEN = 'crash-test-token-0123456789';
const DEVICES = 20;

describe('kill -9 mid-stream', () => {
  it('every acknowledged reading of 20 QoS 1 devices is stored exactly once after a restart', async () => {
    const ports = { MQTT_PORT: String(await freePort()), HTTP_PORT: String(await freePort()) };
    const env = { DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: TOKEN, ...ports };
    run = await startPlatformProcess(env);
    const api = `http://127.0.0.1:${ports.HTTP_PORT}/api/v1`;
    const devices: { id: string; secret: string }[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const res = await fetch(`${api}/devices`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'smoke-detector', buildingId: 'b2', id: `crash-${i}` }) });
      expect(res.status).toBe(201);
      devices.push((await res.json()) as { id: string; secret: string });
    }

    // Each device keeps up to 20 readings in flight and reconnects on its own, resending what was not acknowledged.
    const acked = new Map<string, Set<number>>(devices.map((d) => [d.id, new Set()]));
    let sending = true;
    const clients: MqttClient[] = [];
    const loops = devices.map(async (d) => {
      const client = mqtt.connect(`mqtt://127.0.0.1:${ports.MQTT_PORT}`, { clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 200, connectTimeout: 5000 });
      client.on('error', () => undefined);
      clients.push(client);
      await new Promise((r) => client.once('connect', r));
      const inFlight = new Set<Promise<void>>();
      for (let seq = 0; sending; seq++) {
        const ts = Date.now();
        const p: Promise<void> = client.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ ts, seq, props: { smokeDbPerM: 0.01 } }), { qos: 1 }).then(
          () => void acked.get(d.id)!.add(seq),
          () => undefined,
        ).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= 20) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    });

    await sleep(2500);
    const ackedBeforeKill = [...acked.values()].reduce((n, s) => n + s.size, 0);
    expect(ackedBeforeKill).toBeGreaterThan(1000);
    run.proc.kill('SIGKILL');
    await run.exited;
    // Back on the same ports: the devices reconnect and resend what the crash left unacknowledged.
    run = await startPlatformProcess(env);
    await sleep(1500);
    sending = false;
    await Promise.race([Promise.all(loops), sleep(20_000)]);
    for (const c of clients) c.end(true);
    expect(await run.stop('SIGTERM')).toBe(0);
    run = undefined;

    const db = await openPglite(path.join(dataDir, 'store'));
    const { rows } = await db.query<{ device_id: string; seq: number; n: number }>(
      `SELECT device_id, seq::float8 AS seq, count(*)::int AS n FROM readings WHERE device_id LIKE 'crash-%' GROUP BY device_id, seq`,
    );
    await db.close();
    const stored = new Map<string, Set<number>>(devices.map((d) => [d.id, new Set()]));
    for (const r of rows) stored.get(r.device_id)!.add(r.seq);
    const twice = rows.filter((r) => r.n > 1);
    expect(twice, `stored more than once: ${JSON.stringify(twice.slice(0, 5))}`).toEqual([]);
    let missing = 0;
    let total = 0;
    for (const [id, seqs] of acked) for (const seq of seqs) {
      total++;
      if (!stored.get(id)!.has(seq)) missing++;
    }
    expect(total).toBeGreaterThan(ackedBeforeKill);
    expect(missing, `${missing} of ${total} acknowledged readings missing`).toBe(0);
  }, 90_000);
});
