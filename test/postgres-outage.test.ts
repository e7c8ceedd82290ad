import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, connectDevice, sleep, startTestPlatform } from './helpers/platform.ts';
import { haveBinary, POSTGRES_BIN, startPostgres } from './helpers/services.ts';

/**
 * Issue 18: PostgreSQL stopped for 20 s under a platform that keeps taking readings. The API says
 * 503 with Retry-After; QoS 1 readings are acknowledged from the node's journal (on its disk, as
 * always) and wait; a breach during the outage waits too; once the server is back everything
 * acknowledged is stored once, and the breach makes one alarm and one work order.
 */
describe.runIf(haveBinary(path.join(POSTGRES_BIN, 'postgres')))('PostgreSQL stopped for 20 s', () => {
  it('503 with Retry-After meanwhile; afterwards every acknowledged reading is stored once and the breach makes one item', async () => {
    const server = await startPostgres();
    const p = await startTestPlatform({ DATABASE_URL: await server.database() });
    try {
      const steady = p.cred('smoke-detector', 1);
      const hot = p.cred('smoke-detector', 2);
      const dev = await connectDevice(p, steady);
      const acked = new Set<number>();
      let seq = 0;
      let sending = true;
      const loop = (async () => {
        while (sending) {
          const s = ++seq;
          await dev.publishAsync(`v1/smoke-detector/${steady.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: s, props: { smokeDbPerM: 0.01 } }), { qos: 1 });
          acked.add(s);
          await sleep(50);
        }
      })();
      await sleep(1000);
      await server.stop();
      const stoppedAt = Date.now();
      // A new connection needs the store to check its secret: refused (CONNACK 3, server unavailable) until it is back.
      expect(await connectDevice(p, hot).then(() => 'connected', () => 'refused')).toBe('refused');
      const down = await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/work-orders`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect((await down.json()).error).toBe('store_unavailable');
      // A breach from the steady device while the store is away.
      await dev.publishAsync(`v1/smoke-detector/${steady.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: ++seq, props: { temperatureC: 85 } }), { qos: 1 });
      const health = await p.api('GET', '/api/v1/health', undefined, null);
      expect(health.body.status).toBe('degraded');
      const ackedDuring = acked.size;
      await sleep(Math.max(0, stoppedAt + 20_000 - Date.now()));
      expect(acked.size, 'readings went on being acknowledged from the journal').toBeGreaterThan(ackedDuring + 100);
      await server.start();
      sending = false;
      await loop;
      await dev.endAsync();
      await expect.poll(async () => (await p.api('GET', '/api/v1/work-orders?deviceId=' + steady.id)).status, { timeout: 20_000 }).toBe(200);
      const stored = async () => (await p.db.query<{ seq: number; n: number }>(`SELECT seq::float8 AS seq, count(*)::int AS n FROM readings WHERE device_id = $1 AND seq IS NOT NULL GROUP BY seq`, [steady.id])).rows;
      const missing = (rows: { seq: number }[]) => {
        const have = new Set(rows.map((r) => r.seq));
        return [...acked].filter((s) => !have.has(s));
      };
      await expect.poll(async () => missing(await stored()).length, { timeout: 20_000 }).toBe(0);
      const rows = await stored();
      expect(rows.filter((r) => r.n > 1)).toEqual([]);
      expect(missing(rows)).toEqual([]);
      await expect.poll(async () => (await p.db.query(`SELECT id FROM work_items WHERE device_id = $1`, [steady.id])).rows.length, { timeout: 20_000 }).toBe(1);
      expect((await p.db.query(`SELECT id FROM alarms WHERE device_id = $1`, [steady.id])).rows).toHaveLength(1);
      await expect.poll(async () => (await p.api('GET', '/api/v1/health', undefined, null)).body.status, { timeout: 30_000 }).toBe('ok');
    } finally {
      await p.dispose();
      await server.dispose();
    }
  }, 120_000);
});
