import { createHmac } from 'node:crypto';
import iot from 'alibabacloud-iot-device-sdk';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALINK_CODES } from '../broker/alink.ts';
import { connect, connectDevice, deadLettersFor, eventually, latestOf, sleep, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

/**
 * Devices built for Alibaba Cloud IoT (Alink), unmodified: Alibaba's own Node SDK pointed at our
 * broker, and hand-made Alink messages for what the SDK does not do (bad signatures, replays).
 */
let p: TestPlatform;
type Device = ReturnType<typeof iot.device>;
const sdks: Device[] = [];
const clients: MqttClient[] = [];

interface Triple { productKey: string; deviceName: string; deviceSecret: string }

async function provision(type: string, id: string): Promise<Triple> {
  const r = await p.api('POST', '/api/v1/devices', { type, buildingId: 'b1', id, protocol: 'alink' });
  expect(r.status).toBe(201);
  expect(r.body.alink).toEqual({ productKey: type, deviceName: id, deviceSecret: r.body.secret });
  return r.body.alink;
}

function sdkDevice(t: Triple): Promise<Device> {
  const d = iot.device({ ...t, brokerUrl: p.mqttUrl, keepalive: 30 });
  sdks.push(d);
  return new Promise((resolve, reject) => {
    d.once('connect', () => resolve(d));
    d.once('error', (e: unknown) => reject(new Error(`SDK device ${t.deviceName}: ${String(e)}`)));
  });
}

/** A device's CONNECT as Alibaba documents it, made by hand. */
function alinkConnect(t: Triple, o: { clientId?: string; signmethod?: 'hmacsha1' | 'hmacsha256' | 'hmacmd5'; secret?: string; productKey?: string } = {}): Promise<MqttClient> {
  const clientId = o.clientId ?? `sn-${t.deviceName}`;
  const signmethod = o.signmethod ?? 'hmacsha256';
  const productKey = o.productKey ?? t.productKey;
  const timestamp = String(Date.now());
  const algorithm = { hmacsha1: 'sha1', hmacsha256: 'sha256', hmacmd5: 'md5' }[signmethod];
  const password = createHmac(algorithm, o.secret ?? t.deviceSecret).update(`clientId${clientId}deviceName${t.deviceName}productKey${productKey}timestamp${timestamp}`).digest('hex');
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(p.mqttUrl, { clientId: `${clientId}|securemode=3,signmethod=${signmethod},timestamp=${timestamp}|`, username: `${t.deviceName}&${productKey}`, password, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', (err) => {
      c.end(true);
      reject(err);
    });
  });
}

/** Publishes an Alink request and waits for its `_reply` (delivered though the client never subscribed). */
function request(c: MqttClient, topic: string, body: unknown, qos: 0 | 1 = 1): Promise<{ id: unknown; code: number; message: string; method?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply on ${topic}_reply`)), 5000);
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== `${topic}_reply`) return;
      clearTimeout(timer);
      c.off('message', onMessage);
      resolve(JSON.parse(payload.toString()));
    };
    c.on('message', onMessage);
    c.publish(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos });
  });
}

const alarmsOf = async (deviceId: string) => (await p.api('GET', `/api/v1/alarms?deviceId=${deviceId}`)).body.items as { ruleId: string; state: string; severity: string; count: number; id: string }[];

beforeAll(async () => {
  p = await startTestPlatform({ RULES_COMMAND_TIMEOUT_S: 5, MQTT_MAX_INVALID_PER_MIN: 20, INGEST_MAX_PAYLOAD_BYTES: 4096 });
});
afterAll(async () => {
  for (const d of sdks) d.end(true);
  for (const c of clients) c.end(true);
  await p?.dispose();
});

describe('Alink devices, through Alibaba\'s own SDK', () => {
  it('connects with a provisioned triple, posts properties, gets the reply, and lands in the same readings, alarm and work order as a native device', async () => {
    const t = await provision('smoke-detector', 'alink-smoke-1');
    const watcher = await (async () => {
      const account = (await p.api('POST', '/api/v1/service-accounts', { name: 'alink watcher', subscribe: ['v1/#'] })).body;
      const w = await connect(p.mqttUrl, account.username, account.secret);
      clients.push(w);
      await w.subscribeAsync('v1/smoke-detector/alink-smoke-1/#', { qos: 1 });
      return w;
    })();
    const seen: { topic: string; body: string }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, body: payload.toString() }));

    const device = await sdkDevice(t);
    // Alibaba's standard identifiers (SmokeSensorState, CurrentTemperature, BatteryPercentage: the
    // catalog's mapping) and ours; a bool as Alink sends it, 0 or 1.
    const reply = await new Promise<{ id: string; code: number; method?: string }>((resolve) => device.postProps({ SmokeConcentration: 0.02, CurrentTemperature: 23.5, BatteryPercentage: 88, SmokeSensorState: 0 }, resolve));
    expect(reply.code).toBe(200);
    expect(reply.id).toMatch(/\|exp-topic\|\/sys\/smoke-detector\/alink-smoke-1\/thing\/event\/property\/post_reply$/);
    expect(reply.method).toBe('thing.event.property.post');
    expect(await eventually(async () => { const l = await latestOf(p, t.deviceName); return 'alarm' in l && l; }, 3000, 'latest')).toMatchObject({ smokeDbPerM: 0.02, temperatureC: 23.5, batteryPct: 88, alarm: false });
    // Subscribers of our protocol see it as a native device's telemetry.
    await eventually(() => seen.some((m) => m.topic === 'v1/smoke-detector/alink-smoke-1/telemetry' && JSON.parse(m.body).props.temperatureC === 23.5), 3000, 'telemetry on v1/');
    // The retained status and the first telemetry take separate paths (the status is stored as retained
    // first, on disk: an fsync that the whole suite's parallel files can hold up for seconds), so either
    // may reach a subscriber first.
    await eventually(() => seen.some((m) => m.topic === 'v1/smoke-detector/alink-smoke-1/status' && m.body === 'online'), 15_000, 'status online on v1/');
    const dev = (await p.api('GET', `/api/v1/devices/${t.deviceName}`)).body;
    expect(dev).toMatchObject({ online: true, protocol: 'alink' });

    // The same fire as a native detector of the same building reports: the same alarm and work order.
    const native = p.cred('smoke-detector', 1);
    const n = await connectDevice(p, native);
    clients.push(n);
    await n.publishAsync(`v1/smoke-detector/${native.id}/telemetry`, JSON.stringify({ props: { alarm: true } }), { qos: 1 });
    const fire = await new Promise<{ code: number }>((resolve) => device.postProps({ SmokeSensorState: { value: 1, time: Date.now() } }, resolve));
    expect(fire.code).toBe(200);
    const [a, b] = await eventually(async () => {
      const x = (await alarmsOf(t.deviceName)).find((al) => al.ruleId === 'smoke-device-alarm' && al.state === 'active');
      const y = (await alarmsOf(native.id)).find((al) => al.ruleId === 'smoke-device-alarm' && al.state === 'active');
      return x && y && [x, y];
    }, 5000, 'both alarms');
    expect({ ...a, id: undefined, deviceId: undefined }).toMatchObject({ ruleId: b.ruleId, severity: b.severity, state: b.state, count: b.count });
    const orders = await eventually(async () => {
      const mine = (await p.api('GET', `/api/v1/work-orders?deviceId=${t.deviceName}`)).body.items;
      return mine.length === 1 && mine;
    }, 5000, 'a work order');
    expect(orders[0]).toMatchObject({ ruleId: 'smoke-device-alarm', severity: 'critical', gridId: 'g-test' });
    expect(orders[0].title).toMatch(/1号楼/);
  });

  it('posts an event, gets its reply, and answers the hold_door service call the alarm sends', async () => {
    const t = await provision('ebike-elevator', 'alink-lift-1');
    const device = await sdkDevice(t);
    const calls: { id: string; params: Record<string, unknown>; method: string }[] = [];
    device.onService('hold_door', (req, reply) => {
      calls.push(req);
      reply({ id: req.id, code: 200, data: {} });
    });
    await sleep(200); // the SDK subscribes to the service topic
    const reply = await new Promise<{ code: number }>((resolve) => device.postEvent('ebike_detected', { confidence: 0.93, snapshotUrl: 'https://lift.example/1.jpg' }, resolve));
    expect(reply.code).toBe(200);
    await eventually(() => calls.length === 1, 3000, 'hold_door service call');
    expect(calls[0]).toMatchObject({ method: 'thing.service.hold_door', params: { voice: expect.stringContaining('电动车') } });
    expect(calls[0]!.id).toMatch(/^\d+$/);
    const alarm = await eventually(async () => (await alarmsOf(t.deviceName)).find((x) => x.ruleId === 'ebike-detected'), 3000, 'ebike alarm');
    const full = await eventually(async () => {
      const x = (await p.api('GET', `/api/v1/alarms/${alarm.id}`)).body;
      return x.commands?.[0]?.status === 'acked' && x;
    }, 5000, 'the answer recorded');
    expect(full.commands[0]).toMatchObject({ name: 'hold_door', answer: { ok: true, code: 200 } });
    expect(full.evidence.snapshots).toEqual(['https://lift.example/1.jpg']);
  });
});

describe('Alink devices: what is refused, with Alibaba\'s codes', () => {
  let t: Triple;
  beforeAll(async () => {
    t = await provision('smoke-detector', 'alink-smoke-2');
  });
  const post = (id: string, params: Record<string, unknown>) => ({ id, version: '1.0', params, method: 'thing.event.property.post' });
  const topic = () => `/sys/${t.productKey}/${t.deviceName}/thing/event/property/post`;

  it('refuses a wrong signature and a wrong product key at CONNECT, and takes each of hmacsha1, hmacsha256 and hmacmd5', async () => {
    await expect(alinkConnect(t, { secret: 'not-the-secret-0123456789abcdef' })).rejects.toMatchObject({ code: 4 });
    const other = await provision('manhole-cover', 'alink-cover-1');
    await expect(alinkConnect(t, { productKey: 'manhole-cover' })).rejects.toMatchObject({ code: 4 });
    // Not as a native device either: it has no secret of ours.
    await expect(connect(p.mqttUrl, t.deviceName, t.deviceSecret)).rejects.toMatchObject({ code: 4 });
    for (const signmethod of ['hmacsha1', 'hmacsha256', 'hmacmd5'] as const) {
      const c = await alinkConnect(other, { signmethod });
      const r = await request(c, `/sys/manhole-cover/alink-cover-1/thing/event/property/post`, post(`${signmethod}-1`, { TiltAngle: 1.5, CoverOpen: 0 }));
      expect(r).toMatchObject({ id: `${signmethod}-1`, code: 200 });
      await c.endAsync();
    }
    expect(await eventually(async () => { const l = await latestOf(p, 'alink-cover-1'); return 'open' in l && l; }, 3000, 'latest')).toMatchObject({ tiltDeg: 1.5, open: false });
  });

  it('refuses a replayed id, a time two days ahead, an unknown identifier and a value out of range, each with its code, and the device goes on', async () => {
    const c = await alinkConnect(t);
    expect(await request(c, topic(), post('100', { CurrentTemperature: 20 }))).toMatchObject({ id: '100', code: 200, message: 'success' });
    const replay = await request(c, topic(), post('100', { CurrentTemperature: 21 }));
    expect(replay).toMatchObject({ id: '100', code: ALINK_CODES.replayed.code });
    const ahead = await request(c, topic(), post('101', { CurrentTemperature: { value: 22, time: Date.now() + 2 * 86_400_000 } }));
    expect(ahead).toMatchObject({ id: '101', code: ALINK_CODES.timeAhead.code });
    expect(await request(c, topic(), post('102', { NoSuchThing: 1 }))).toMatchObject({ id: '102', code: ALINK_CODES.noProperty.code });
    const range = await request(c, topic(), post('103', { CurrentTemperature: 999 }));
    expect(range).toMatchObject({ id: '103', code: ALINK_CODES.badParams.code });
    expect(range.message).toMatch(/temperatureC/);
    expect(await request(c, topic(), '{not json')).toMatchObject({ id: null, code: ALINK_CODES.notJson.code });
    expect(await request(c, topic(), { id: '104', params: { CurrentTemperature: 1 }, method: 'thing.event.foo.post' })).toMatchObject({ code: ALINK_CODES.noMethod.code });
    expect(await request(c, topic(), post('106', { CurrentTemperature: 1, pad: 'x'.repeat(5000) }))).toMatchObject({ code: ALINK_CODES.badParams.code, message: expect.stringContaining('limit 4096') });
    // Still connected, and what it sends next is taken: nothing refused reached the store.
    expect(await request(c, topic(), post('105', { CurrentTemperature: 24.5 }))).toMatchObject({ id: '105', code: 200 });
    expect(c.connected).toBe(true);
    await eventually(async () => (await latestOf(p, t.deviceName)).temperatureC === 24.5, 3000, 'the last reading stored');
    // Each refusal is a dead letter with its reason, as for a native device.
    for (const reason of ['alink_replayed_id', 'alink_time_ahead', 'unknown_property', 'out_of_range', 'invalid_json', 'payload_too_large']) expect((await deadLettersFor(p, t.deviceName, reason)).length, reason).toBeGreaterThan(0);
    const health = (await p.api('GET', '/api/v1/health')).body;
    expect(health.ingest.rejectedByReason).toMatchObject({ alink_replayed_id: 1, alink_time_ahead: 1, out_of_range: 1 });
    await c.endAsync();
  });

  it('a time within 24 h is the reading\'s own; one message with several times is several readings', async () => {
    const c = await alinkConnect(t);
    const at = Date.now() - 60_000;
    expect(await request(c, topic(), post('200', { CurrentTemperature: { value: 30, time: at }, BatteryPercentage: { value: 70, time: at - 1000 } }))).toMatchObject({ code: 200 });
    const readings = await eventually(async () => {
      const r = (await p.api('GET', `/api/v1/devices/${t.deviceName}/readings?kind=telemetry&limit=10`)).body.items as { ts: string; data: Record<string, unknown> }[];
      return r.some((x) => x.data.batteryPct === 70) && r;
    }, 3000, 'both readings');
    expect(readings.find((x) => x.data.temperatureC === 30)!.ts).toBe(new Date(at).toISOString());
    expect(readings.find((x) => x.data.batteryPct === 70)!.ts).toBe(new Date(at - 1000).toISOString());
    await c.endAsync();
  });

  it('a device flooding invalid Alink messages is timed out, as a native one is', async () => {
    const t3 = await provision('smoke-detector', 'alink-smoke-3');
    const c = await alinkConnect(t3);
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    for (let i = 0; i < 25 && c.connected; i++) c.publish(`/sys/smoke-detector/alink-smoke-3/thing/event/property/post`, JSON.stringify(post(`f${i}`, { CurrentTemperature: 999 })), { qos: 0 });
    await closed;
    await expect(alinkConnect(t3)).rejects.toMatchObject({ code: 3 });
    expect((await p.api('GET', '/api/v1/health')).body.ingest.rejectedByReason.device_flooding).toBeGreaterThanOrEqual(1);
  });

  it('keeps to its own topics: another device\'s topic closes the connection, as for a native device', async () => {
    const c = await alinkConnect(t);
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('/sys/smoke-detector/alink-smoke-1/thing/event/property/post', JSON.stringify(post('1', { CurrentTemperature: 20 })), { qos: 1 });
    await closed;
    expect((await deadLettersFor(p, t.deviceName, 'topic_not_allowed')).length).toBeGreaterThan(0);
  });

  it('binds the session to the device: a second connection of the same device, with another client id, takes the first one\'s place', async () => {
    const first = await alinkConnect(t, { clientId: 'mac-aa' });
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const second = await alinkConnect(t, { clientId: 'mac-bb' });
    await closed;
    expect(second.connected).toBe(true);
    expect(await request(second, topic(), post('300', { CurrentTemperature: 25 }))).toMatchObject({ code: 200 });
    await second.endAsync();
  });

  it('a rotated secret ends the old one, and the rotation gives the new triple', async () => {
    const r = await p.api('POST', `/api/v1/devices/${t.deviceName}/secret`);
    expect(r.status).toBe(200);
    expect(r.body.alink).toMatchObject({ productKey: t.productKey, deviceName: t.deviceName });
    expect(r.body.alink.deviceSecret).not.toBe(t.deviceSecret);
    await expect(alinkConnect(t)).rejects.toMatchObject({ code: 4 });
    const c = await alinkConnect({ ...t, deviceSecret: r.body.alink.deviceSecret });
    expect(await request(c, topic(), post('400', { CurrentTemperature: 26 }))).toMatchObject({ code: 200 });
    await c.endAsync();
    t = r.body.alink;
  });
});
