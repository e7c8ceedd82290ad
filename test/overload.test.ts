import { afterAll, describe, expect, it } from 'vitest';
import { connect, connectDevice, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform | undefined;
afterAll(() => p?.dispose());

describe('overload with a slow subscriber', () => {
  it('sheds deliveries to a subscriber that stops reading, keeps the delivery queue short, and survives it leaving', async () => {
    p = await startTestPlatform();
    const account = (await p.api('POST', '/api/v1/service-accounts', { name: 'slow', subscribe: ['v1/#'] })).body;
    const slow = await connect(p.mqttUrl, account.username, account.secret);
    await slow.subscribeAsync('v1/+/+/telemetry', { qos: 0 });
    slow.stream.pause(); // reads nothing from now on: its socket on the broker's side fills up

    const devices = await Promise.all(p.credentials.filter((c) => c.type === 'smoke-detector' || c.type === 'overflow-bin').map((c) => connectDevice(p!, c)));
    const queue = () => (p!.broker.aedes as unknown as { mq: { length: number } }).mq.length;
    // Publish for 5 s, and on until the subscriber's socket (its 1 MiB, and the kernel's buffers
    // behind it, several MB on loopback) is full and deliveries are shed. Devices alone go at the
    // store's pace, which on a busy machine takes long to fill that; 64 KB platform messages on a
    // topic the subscriber takes fill it in seconds.
    const filler = Buffer.alloc(64 * 1024, 0x61);
    const start = Date.now();
    let sent = 0;
    let maxQueue = 0;
    while (Date.now() - start < 5000 || (p.broker.load.shed === 0 && Date.now() - start < 30_000)) {
      for (const d of devices) {
        if (d.stream.writableNeedDrain) continue;
        const type = d.options.clientId!.includes('smoke') ? 'smoke-detector' : 'overflow-bin';
        d.publish(`v1/${type}/${d.options.clientId}/telemetry`, JSON.stringify({ props: type === 'smoke-detector' ? { smokeDbPerM: 0.012 } : { fillPct: 12 } }), { qos: 0 });
        sent++;
      }
      if (p.broker.load.shed === 0) void p.broker.publish('v1/platform-test/filler/telemetry', filler);
      maxQueue = Math.max(maxQueue, queue());
      await new Promise((r) => setImmediate(r));
    }
    expect(p.broker.load.shed).toBeGreaterThan(0);
    expect(maxQueue).toBeLessThan(1000);
    // The slow subscriber leaves with deliveries pending: the broker must not fall over.
    slow.stream.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    const health = await p.api('GET', '/api/v1/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body.ingest.received).toBeGreaterThan(sent * 0.5);
    for (const d of devices) await d.endAsync();
  }, 60_000);
});

describe('backpressure from ingest to devices', () => {
  it('reads nothing more from a device while its messages wait for ingest, then takes the rest in order', async () => {
    const q = await startTestPlatform();
    try {
      let open = false;
      const waiting: (() => void)[] = [];
      const seen: number[] = [];
      q.broker.setHooks({
        onDeviceMessage: (msg) => {
          seen.push(JSON.parse(msg.payload.toString()).seq);
          if (open) return true;
          return new Promise<boolean>((resolve) => waiting.push(() => resolve(true)));
        },
      });
      const c = q.cred('smoke-detector');
      const device = await connectDevice(q, c);
      for (let seq = 0; seq < 2000; seq++) device.publish(`v1/smoke-detector/${c.id}/telemetry`, JSON.stringify({ seq, props: { smokeDbPerM: 0.01 } }), { qos: 0 });
      await new Promise((r) => setTimeout(r, 1000));
      // One read's worth reached ingest; while it waits, nothing more is read: the rest stays in the socket.
      const firstRead = seen.length;
      expect(firstRead).toBeGreaterThan(0);
      expect(firstRead).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 500));
      expect(seen.length).toBe(firstRead);
      open = true;
      for (const w of waiting.splice(0)) w();
      for (let i = 0; i < 100 && seen.length < 2000; i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i));
      await device.endAsync();
    } finally {
      await q.dispose();
    }
  }, 30_000);
});
