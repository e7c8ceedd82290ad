import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectDevice, deadLettersFor, eventually, grantedQos, latestOf, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform;
let tlsDir: string | undefined;

/** A self-signed certificate for the TLS listener, from Debian's openssl. */
function makeCert(): { cert: string; key: string } | undefined {
  try {
    tlsDir = mkdtempSync(path.join(os.tmpdir(), 'sps-tls-'));
    const cert = path.join(tlsDir, 'cert.pem');
    const key = path.join(tlsDir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    return { cert, key };
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  const tls = makeCert();
  p = await startTestPlatform({ MQTT_MAX_KEEPALIVE_S: 1, MQTT_TLS_CERT: tls?.cert, MQTT_TLS_KEY: tls?.key });
});
afterAll(async () => {
  await p?.dispose();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

/** Opens a raw TCP socket to the broker and resolves with everything it received when it closes (or after `ms`). */
function raw(bytes: Buffer[], ms = 3000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(p.ports.mqtt, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    sock.on('data', (d) => chunks.push(d));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', () => {
      for (const b of bytes) sock.write(b);
    });
    setTimeout(() => finish(false), ms);
  });
}

/** A CONNECT packet (MQTT 3.1.1) with the given client id, flags and credentials. */
function connectPacket(clientId: string, opts: { clean: boolean; username?: string; password?: string; keepalive?: number }): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  let flags = opts.clean ? 0x02 : 0;
  if (opts.username !== undefined) flags |= 0x80;
  if (opts.password !== undefined) flags |= 0x40;
  const ka = opts.keepalive ?? 60;
  const body = Buffer.concat([
    str('MQTT'), Buffer.from([4, flags, ka >> 8, ka & 0xff]), str(clientId),
    opts.username !== undefined ? str(opts.username) : Buffer.alloc(0),
    opts.password !== undefined ? str(opts.password) : Buffer.alloc(0),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

describe('device authentication', () => {
  it('refuses an unknown device and a wrong secret at CONNECT, with code 4', async () => {
    await expect(connect(p.mqttUrl, 'no-such-device', 'whatever')).rejects.toMatchObject({ code: 4 });
    const c = p.cred('smoke-detector');
    await expect(connect(p.mqttUrl, c.id, c.secret + 'x')).rejects.toMatchObject({ code: 4 });
    await expect(connect(p.mqttUrl, c.id, '')).rejects.toMatchObject({ code: 4 });
  });

  it('refuses a device whose client id is not its device id (code 2)', async () => {
    const c = p.cred('smoke-detector');
    await expect(connect(p.mqttUrl, c.id, c.secret, { clientId: 'someone-else' })).rejects.toMatchObject({ code: 2 });
  });

  it('accepts the right secret, also on reconnect (cached check)', async () => {
    const c = p.cred('overflow-bin');
    for (let i = 0; i < 2; i++) {
      const client = await connectDevice(p, c);
      expect(client.connected).toBe(true);
      await client.endAsync();
    }
  });
});

describe('topic ACLs', () => {
  it('closes a device that publishes under another device, leaves a well-behaved one alone, dead-letters the message', async () => {
    const bad = await connectDevice(p, p.cred('smoke-detector', 1));
    const good = await connectDevice(p, p.cred('smoke-detector', 2));
    const other = p.cred('smoke-detector', 2);
    const closed = new Promise<void>((r) => bad.once('close', () => r()));
    bad.publish(`v1/smoke-detector/${other.id}/telemetry`, JSON.stringify({ props: { alarm: true } }), { qos: 1 });
    await closed;
    await good.publishAsync(`v1/smoke-detector/${other.id}/telemetry`, JSON.stringify({ props: { smokeDbPerM: 0.011 } }), { qos: 1 });
    expect(good.connected).toBe(true);
    await eventually(async () => (await latestOf(p, other.id)).smokeDbPerM === 0.011, 5000, 'good reading stored');
    // The spoofed reading was never stored.
    expect((await latestOf(p, other.id)).alarm).toBeUndefined();
    const letters = await deadLettersFor(p, p.cred('smoke-detector', 1).id, 'topic_not_allowed');
    expect(letters[0]).toMatchObject({ topic: `v1/smoke-detector/${other.id}/telemetry`, reason: 'topic_not_allowed' });
    await good.endAsync();
    bad.end(true);
  });

  it('refuses a device publishing its own status (the broker owns it)', async () => {
    const c = p.cred('manhole-cover');
    const client = await connectDevice(p, c);
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish(`v1/manhole-cover/${c.id}/status`, 'offline', { qos: 1, retain: true });
    await closed;
    client.end(true);
  });

  it('refuses # and $SYS/# subscriptions with 0x80 and keeps the connection; grants the own cmd topic', async () => {
    const c = p.cred('ebike-elevator');
    const client = await connectDevice(p, c);
    const granted = await grantedQos(client, { '#': { qos: 0 }, '$SYS/#': { qos: 0 }, [`v1/ebike-elevator/${c.id}/cmd`]: { qos: 1 }, [`v1/ebike-elevator/${p.cred('ebike-elevator', 2).id}/cmd`]: { qos: 1 } });
    expect(granted).toEqual([128, 128, 1, 128]);
    expect(client.connected).toBe(true);
    // The granted cmd topic works end to end.
    const got = new Promise<string>((r) => client.once('message', (_t, m) => r(m.toString())));
    await p.broker.publish(`v1/ebike-elevator/${c.id}/cmd`, JSON.stringify({ id: 1, name: 'hold_door' }), { qos: 1 });
    expect(JSON.parse(await got)).toMatchObject({ name: 'hold_door' });
    await client.endAsync();
  });
});

describe('status', () => {
  it('is online after connect and offline after an abrupt socket close, both retained', async () => {
    const c = p.cred('throw-camera');
    const topic = `v1/throw-camera/${c.id}/status`;
    const dev = await connectDevice(p, c);
    const { body } = await p.api('POST', '/api/v1/service-accounts', { name: 'status watcher', subscribe: ['v1/+/+/status'] });
    const readRetained = async () => {
      const watcher = await connect(p.mqttUrl, body.username, body.secret, { clientId: `${body.username}-w${Math.random()}` });
      const msg = new Promise<{ payload: string; retain: boolean }>((r) => watcher.on('message', (t, m, pkt) => t === topic && r({ payload: m.toString(), retain: pkt.retain })));
      await watcher.subscribeAsync(topic, { qos: 1 });
      const got = await msg;
      await watcher.endAsync();
      return got;
    };
    expect(await readRetained()).toEqual({ payload: 'online', retain: true });
    expect((await p.api('GET', `/api/v1/devices/${c.id}`)).body.online).toBe(true);
    dev.stream.destroy(); // no DISCONNECT: the socket just dies
    await eventually(async () => !(await p.api('GET', `/api/v1/devices/${c.id}`)).body.online, 5000, 'offline');
    expect(await eventually(async () => { const r = await readRetained(); return r.payload === 'offline' && r; })).toEqual({ payload: 'offline', retain: true });
    dev.end(true);
  });
});

describe('service accounts', () => {
  it('get MQTT credentials limited to their filters', async () => {
    const { status, body } = await p.api('POST', '/api/v1/service-accounts', { name: 'node-red', subscribe: ['v1/+/+/telemetry'], publish: ['bridge/test/#'] });
    expect(status).toBe(201);
    expect(body.username).toMatch(/^svc-/);
    const svc = await connect(p.mqttUrl, body.username, body.secret, { clientId: `${body.username}-node-red-1` });
    expect(await grantedQos(svc, { 'v1/smoke-detector/+/telemetry': { qos: 0 }, 'v1/#': { qos: 0 } })).toEqual([0, 128]);
    // Sees device telemetry as it flows.
    const c = p.cred('smoke-detector', 2);
    const seen = new Promise<string>((r) => svc.once('message', (t) => r(t)));
    const dev = await connectDevice(p, c);
    await dev.publishAsync(`v1/smoke-detector/${c.id}/telemetry`, JSON.stringify({ props: { batteryPct: 88 } }), { qos: 1 });
    expect(await seen).toBe(`v1/smoke-detector/${c.id}/telemetry`);
    await svc.publishAsync('bridge/test/x', 'ok', { qos: 1 });
    const closed = new Promise<void>((r) => svc.once('close', () => r()));
    svc.publish('v1/smoke-detector/fake/telemetry', '{}', { qos: 1 });
    await closed;
    svc.end(true);
    await dev.endAsync();
  });

  it('deliver every message to a subscriber, also one that waited for the disk while later ones went ahead', async () => {
    // A retained message and one queued for an away persistent session are on disk before they are
    // delivered; a QoS 0 message right behind goes first. Aedes numbers messages as they arrive and a
    // client drops one numbered below the last it got (its dedupe of overlapping subscriptions): the
    // one that waited was lost (moscajs/aedes#955, #994), as a device's retained `online` was.
    const { body: acct } = await p.api('POST', '/api/v1/service-accounts', { name: 'order bridge', subscribe: ['bridge/order/#'], publish: ['bridge/order/#'] });
    const away = await connect(p.mqttUrl, acct.username, acct.secret, { keepalive: 1, clientId: `${acct.username}-away`, clean: false });
    await away.subscribeAsync('bridge/order/queued/#', { qos: 1 });
    await away.endAsync();
    // A clean subscriber and a persistent one that stays (aedes queues for it too, and finds the copy
    // when it delivers live); two overlapping subscriptions each: every message still comes once.
    const subs = await Promise.all([true, false].map((clean) => connect(p.mqttUrl, acct.username, acct.secret, { keepalive: 1, clientId: `${acct.username}-sub-${clean}`, clean })));
    const got: string[][] = [[], []];
    const closed: boolean[] = [false, false];
    for (const [i, s] of subs.entries()) {
      await s.subscribeAsync({ 'bridge/order/#': { qos: 1 }, 'bridge/order/+/+': { qos: 1 } });
      s.on('message', (t) => got[i]!.push(t));
      s.on('close', () => (closed[i] = true));
    }
    const pub = await connect(p.mqttUrl, acct.username, acct.secret, { keepalive: 1, clientId: `${acct.username}-pub` });
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      for (const [kind, opts] of [['retained', { qos: 1, retain: true }], ['fast', { qos: 0 }], ['queued', { qos: 1 }], ['fast2', { qos: 0 }]] as const) {
        const topic = `bridge/order/${kind}/${i}`;
        sent.push(topic);
        pub.publish(topic, String(i), opts);
      }
    }
    await eventually(() => got.every((g) => g.length >= sent.length), 10_000, `all ${sent.length} messages`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would come now
    for (const g of got) expect({ missing: sent.filter((t) => !g.includes(t)), duplicated: g.length - new Set(g).size }).toEqual({ missing: [], duplicated: 0 });
    expect(closed).toEqual([false, false]);
    // The away session gets what was queued for it, once each.
    const back: string[] = [];
    const again = await connect(p.mqttUrl, acct.username, acct.secret, { keepalive: 1, clientId: `${acct.username}-away`, clean: false });
    again.on('message', (t) => back.push(t));
    await eventually(() => back.length >= 20, 10_000, 'the queued messages');
    await new Promise((r) => setTimeout(r, 300));
    expect(back.sort()).toEqual(sent.filter((t) => t.includes('/queued/')).sort());
    for (const c of [...subs, pub, again]) c.end(true);
  });

  it('keep no queued copy of what a persistent subscriber was not sent (a dead-lettered payload)', async () => {
    const { body: acct } = await p.api('POST', '/api/v1/service-accounts', { name: 'keeper', subscribe: ['v1/#'] });
    const keeper = await connect(p.mqttUrl, acct.username, acct.secret, { keepalive: 1, clientId: `${acct.username}-keeper`, clean: false });
    let closed = false;
    keeper.on('close', () => (closed = true));
    const c = p.cred('overflow-bin', 2);
    await keeper.subscribeAsync({ [`v1/overflow-bin/${c.id}/#`]: { qos: 1 }, [`v1/+/${c.id}/telemetry`]: { qos: 1 } });
    const got: string[] = [];
    keeper.on('message', (t, m) => t.endsWith('/telemetry') && got.push(m.toString()));
    const dev = await connectDevice(p, c, { keepalive: 1 });
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const good = JSON.stringify({ seq: 1000 + i, props: { fillPct: 10 + i } });
      await dev.publishAsync(`v1/overflow-bin/${c.id}/telemetry`, '{"props": {"fillPct": "full"}}', { qos: 1 });
      await dev.publishAsync(`v1/overflow-bin/${c.id}/telemetry`, good, { qos: 1 });
      sent.push(good);
    }
    await eventually(() => got.length >= sent.length, 5000, 'the good readings');
    expect(got).toEqual(sent);
    expect(closed).toBe(false);
    // Every copy queued for it is gone: the good ones acknowledged, the refused ones cleared.
    await eventually(async () => (await p.api('GET', '/api/v1/health')).body.broker?.sessions?.queued === 0, 5000, 'an empty queue');
    for (const x of [keeper, dev]) x.end(true);
  });

  it('refuses invalid filters with 400 naming the field', async () => {
    const r = await p.api('POST', '/api/v1/service-accounts', { name: 'x', subscribe: ['a/#/b'] });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'bad_request', field: 'subscribe.0' });
  });
});

describe('strictness where stock Aedes is lax', () => {
  it('closes a connection announcing a 10 MB CONNECT before buffering it', async () => {
    const rssBefore = process.memoryUsage().rss;
    const header = Buffer.from([0x10, 0x80, 0x80, 0x80, 0x05]); // remaining length 10 MiB
    const r = await raw([header, Buffer.alloc(64 * 1024, 0x41)], 3000);
    expect(r.closed).toBe(true);
    expect(r.data.length).toBe(0); // no CONNACK: nothing was accepted
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(8 * 1024 * 1024);
    expect(p.ingest.counters.rejectedByReason.packet_too_large).toBeGreaterThanOrEqual(1);
  });

  it('closes a connected device that sends a PUBLISH over the packet limit', async () => {
    const c = p.cred('overflow-bin', 2);
    const client = await connectDevice(p, c);
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish(`v1/overflow-bin/${c.id}/telemetry`, Buffer.alloc(300 * 1024, 0x20), { qos: 0 });
    await closed;
    client.end(true);
    const letters = await deadLettersFor(p, c.id, 'packet_too_large');
    expect(letters[0]!.detail).toContain('limit 262144');
  });

  it('answers an empty client id with clean session off with CONNACK 0x02 and closes', async () => {
    const r = await raw([connectPacket('', { clean: false })]);
    expect([...r.data]).toEqual([0x20, 0x02, 0x00, 0x02]);
    expect(r.closed).toBe(true);
  });

  it('closes on a PUBLISH topic with invalid UTF-8 or U+0000', async () => {
    const c = p.cred('smoke-detector', 2);
    for (const topicBytes of [Buffer.from([0x76, 0x31, 0x2f, 0xc3, 0x28]), Buffer.from('v1/smoke-detector/\u0000/telemetry')]) {
      const body = Buffer.concat([Buffer.from([0, topicBytes.length]), topicBytes, Buffer.from('{}')]);
      const publish = Buffer.concat([Buffer.from([0x30, body.length]), body]);
      const r = await raw([connectPacket(c.id, { clean: true, username: c.id, password: c.secret }), publish]);
      expect(r.data.subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00])); // connected first
      expect(r.closed).toBe(true);
    }
    expect(p.ingest.counters.rejectedByReason.invalid_topic_encoding).toBeGreaterThanOrEqual(2);
  });

  it('does not let a client sit forever with keepalive 0 (closed after the broker maximum)', async () => {
    const c = p.cred('throw-camera', 2);
    const r = await raw([connectPacket(c.id, { clean: true, username: c.id, password: c.secret, keepalive: 0 })], 6000);
    expect(r.data.subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    expect(r.closed).toBe(true); // MQTT_MAX_KEEPALIVE_S=1 here: closed after 1.5 s of silence
  });

  it('survives garbage and keeps serving', async () => {
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x30, 0x05, 0x00])]) await raw([junk], 500);
    const c = p.cred('smoke-detector', 2);
    const client = await connectDevice(p, c);
    await client.publishAsync(`v1/smoke-detector/${c.id}/telemetry`, JSON.stringify({ props: { temperatureC: 21.5 } }), { qos: 1 });
    await client.endAsync();
  });
});

describe('transports', () => {
  it('serves MQTT over WebSocket', async () => {
    const c = p.cred('manhole-cover', 2);
    const client = await connect(`ws://127.0.0.1:${p.ports.ws}/mqtt`, c.id, c.secret);
    await client.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, JSON.stringify({ props: { tiltDeg: 2.5 } }), { qos: 1 });
    await eventually(async () => (await latestOf(p, c.id)).tiltDeg === 2.5, 5000, 'ws reading');
    await client.endAsync();
  });

  it('serves MQTT over TLS when given a certificate', async (ctx) => {
    if (!p.ports.tls) {
      console.warn('SKIPPED: openssl not found, TLS listener not tested');
      if (process.env.CI === 'true' || process.env.REQUIRE_SERVICES === '1') throw new Error('openssl is required in CI');
      return ctx.skip();
    }
    const c = p.cred('manhole-cover', 2);
    const client = await connect(`mqtts://127.0.0.1:${p.ports.tls}`, c.id, c.secret, { rejectUnauthorized: false });
    await client.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, JSON.stringify({ props: { tiltDeg: 3.5 } }), { qos: 1 });
    await eventually(async () => (await latestOf(p, c.id)).tiltDeg === 3.5, 5000, 'tls reading');
    await client.endAsync();
  });
});

