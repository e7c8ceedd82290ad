import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
          if (open) return 'forward';
          return { verdict: 'forward', room: new Promise<void>((resolve) => waiting.push(resolve)) };
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

  it('reads nothing more from any device while the message bus is backed up, then delivers everything in order', async () => {
    // Fifty detectors in one building: Aedes itself reads little more from one connection whose
    // messages are unfinished, so it takes many devices to back the bus up, as in the field.
    const siteDir = mkdtempSync(path.join(os.tmpdir(), 'sps-bus-site-'));
    const site = path.join(siteDir, 'site.json');
    const building = { id: 'b1', name: '1号楼', devices: [{ type: 'smoke-detector', count: 50 }] };
    writeFileSync(site, JSON.stringify({ street: { id: 'st', name: '街道', communities: [{ id: 'c', name: '社区', grids: [{ id: 'g', name: '网格', microGrids: [{ id: 'm', name: '微网格', buildings: [building] }] }] }] } }));
    const q = await startTestPlatform({ SITE_FILE: site }, { busHighWater: 50 });
    try {
      const bus = q.broker.aedes as unknown as { mq: { on(topic: string, l: (m: { topic: string; payload: Buffer }, done: () => void) => void): void; length: number } };
      // A listener that holds every delivery: the bus's 1,000 slots fill, then its queue.
      const held: (() => void)[] = [];
      let holding = true;
      const through = new Map<string, number[]>();
      let count = 0;
      bus.mq.on('v1/+/+/telemetry', (m, done) => {
        const id = m.topic.split('/')[2]!;
        if (!through.has(id)) through.set(id, []);
        through.get(id)!.push(JSON.parse(m.payload.toString()).seq);
        count++;
        if (holding) held.push(done);
        else done();
      });
      const creds = q.credentials;
      const devices = await Promise.all(creds.map((c) => connectDevice(q, c)));
      const each = Math.ceil(3000 / devices.length);
      const total = each * devices.length;
      devices.forEach((d, k) => {
        const c = creds[k]!;
        for (let seq = 0; seq < each; seq++) d.publish(`v1/${c.type}/${c.id}/telemetry`, JSON.stringify({ seq, props: { smokeDbPerM: 0.01 } }), { qos: 0 });
      });
      let maxWaiting = 0;
      const watch = async (ms: number) => {
        for (let t = 0; t < ms; t += 25) {
          maxWaiting = Math.max(maxWaiting, bus.mq.length);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await watch(1000);
      const taken = count;
      await watch(500);
      // Past the mark nothing more is read: the rest stays in the devices' sockets.
      expect(q.broker.load.readsPausedForBus).toBeGreaterThan(0);
      expect(count).toBe(taken);
      expect(count).toBeLessThan(total);
      expect(maxWaiting).toBeGreaterThanOrEqual(50);
      // What overshoots the mark is what reads already taken carried (cut to 32 packets once the bus is half full).
      expect(maxWaiting).toBeLessThan(50 + 32 * 10);
      holding = false;
      for (const done of held.splice(0)) done();
      for (let i = 0; i < 400 && count < total; i++) await new Promise((r) => setTimeout(r, 25));
      expect(count).toBe(total);
      for (const c of creds) expect(through.get(c.id)).toEqual(Array.from({ length: each }, (_, i) => i));
      const health = await q.api('GET', '/api/v1/health', undefined, null);
      expect(health.body.broker.readsPausedForBus).toBe(q.broker.load.readsPausedForBus);
      await Promise.all(devices.map((d) => d.endAsync()));
    } finally {
      await q.dispose();
      rmSync(siteDir, { recursive: true, force: true });
    }
  }, 60_000);
});
