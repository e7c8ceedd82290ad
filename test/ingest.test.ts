import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { listDeadLetters } from '../core/store/dead-letters.ts';
import { listReadings } from '../core/store/readings.ts';
import { connect, connectDevice, eventually, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(() => p?.dispose());

const valid: Record<string, { props: Record<string, unknown>; event?: { event: string; data: Record<string, unknown> } }> = {
  'smoke-detector': { props: { smokeDbPerM: 0.02, temperatureC: 23.5, batteryPct: 91, alarm: false, tamper: false }, event: { event: 'test_button', data: {} } },
  'throw-camera': { props: { lensBlocked: false, online: true }, event: { event: 'throw_detected', data: { floor: 17, confidence: 0.93, snapshotUrl: 'https://snap.example.invalid/1.jpg' } } },
  'manhole-cover': { props: { tiltDeg: 1.2, open: false, waterLevelCm: 120, gasPpm: 12, batteryPct: 77 } },
  'overflow-bin': { props: { fillPct: 42, temperatureC: 19, tiltDeg: 0.5, batteryPct: 66 } },
  'ebike-elevator': { props: { doorHeld: false, online: true }, event: { event: 'ebike_detected', data: { confidence: 0.97, snapshotUrl: 'https://snap.example.invalid/2.jpg' } } },
};

describe('ingest', () => {
  it('stores valid telemetry and events of every type and shows them on the device', async () => {
    const ts = Date.now() - 60_000;
    for (const [type, msg] of Object.entries(valid)) {
      const c = p.cred(type);
      const client = await connectDevice(p, c);
      await client.publishAsync(`v1/${type}/${c.id}/telemetry`, JSON.stringify({ ts, seq: 1, props: msg.props }), { qos: 1 });
      if (msg.event) await client.publishAsync(`v1/${type}/${c.id}/event`, JSON.stringify({ ts, seq: 2, ...msg.event }), { qos: 1 });
      await client.endAsync();
    }
    // QoS 1 was acknowledged only after ingest took the reading: a flush makes it durable now.
    await p.ingest.flush();
    for (const [type, msg] of Object.entries(valid)) {
      const c = p.cred(type);
      const { status, body } = await p.api('GET', `/api/v1/devices/${c.id}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ id: c.id, type, latest: msg.props });
      expect(new Date(body.lastSeen).getTime()).toBeGreaterThanOrEqual(ts);
      const readings = await listReadings(p.db, { deviceId: c.id });
      expect(readings.find((r) => r.kind === 'telemetry')).toMatchObject({ data: msg.props, seq: 1, serverTs: false });
      expect(readings.find((r) => r.kind === 'telemetry')!.ts.getTime()).toBe(ts);
      if (msg.event) expect(readings.find((r) => r.kind === 'event')).toMatchObject({ event: msg.event.event, data: msg.event.data });
    }
  });

  it('dead-letters each kind of invalid payload with its own reason, and stores the very next valid message', async () => {
    const c = p.cred('throw-camera', 2);
    const topic = `v1/throw-camera/${c.id}`;
    const cases: [string, string, string | Buffer][] = [
      ['invalid_json', 'telemetry', 'not json at all'],
      ['wrong_type', 'telemetry', JSON.stringify({ props: { lensBlocked: 'no' } })],
      ['unknown_property', 'telemetry', JSON.stringify({ props: { online: true, zoom: 3 } })],
      ['empty_props', 'telemetry', JSON.stringify({ props: {} })],
      ['missing_field', 'event', JSON.stringify({ event: 'throw_detected', data: { floor: 3, confidence: 0.9 } })],
      ['out_of_range', 'event', JSON.stringify({ event: 'throw_detected', data: { floor: 3, confidence: 1.7, snapshotUrl: 'https://x.invalid/a.jpg' } })],
      ['payload_too_large', 'telemetry', JSON.stringify({ props: { online: true }, pad: 'x'.repeat(17_000) })],
    ];
    const client: MqttClient = await connectDevice(p, c);
    let seq = 100;
    for (const [reason, kind, payload] of cases) {
      await client.publishAsync(`${topic}/${kind}`, payload, { qos: 1 });
      // The connection survives and the next good message is stored.
      await client.publishAsync(`${topic}/telemetry`, JSON.stringify({ seq: ++seq, props: { online: true } }), { qos: 1 });
      await p.ingest.flush();
      const letters = await listDeadLetters(p.db, { deviceId: c.id, reason });
      expect(letters, reason).toHaveLength(1);
      expect(letters[0]).toMatchObject({ topic: `${topic}/${kind}`, reason });
      expect(letters[0]!.detail).toBeTruthy();
      expect(letters[0]!.payloadBytes).toBe(Buffer.byteLength(payload));
      expect(letters[0]!.payload!.length).toBeLessThanOrEqual(1024);
      const newest = (await listReadings(p.db, { deviceId: c.id, kind: 'telemetry', limit: 1 }))[0];
      expect(newest?.seq, `valid message after ${reason}`).toBe(seq);
    }
    expect(client.connected).toBe(true);
    await client.endAsync();
    const stats = (await p.api('GET', '/api/v1/health', undefined, null)).body.ingest;
    for (const [reason] of cases) expect(stats.rejectedByReason[reason]).toBeGreaterThanOrEqual(1);
    const dl = await p.api('GET', `/api/v1/dead-letters?deviceId=${c.id}&reason=missing_field`);
    expect(dl.body.items[0]).toMatchObject({ reason: 'missing_field', deviceId: c.id });
  });

  it('does not forward a dead-lettered message to subscribers', async () => {
    const { body } = await p.api('POST', '/api/v1/service-accounts', { name: 'tap', subscribe: ['v1/+/+/telemetry'] });
    const tap = await connect(p.mqttUrl, body.username, body.secret, { clientId: `${body.username}-tap` });
    const seen: string[] = [];
    tap.on('message', (_t, m) => seen.push(m.toString()));
    await tap.subscribeAsync('v1/+/+/telemetry', { qos: 1 });
    const c = p.cred('manhole-cover', 2);
    const dev = await connectDevice(p, c);
    await dev.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, JSON.stringify({ props: { tiltDeg: 999 } }), { qos: 1 });
    await dev.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, JSON.stringify({ props: { tiltDeg: 9 } }), { qos: 1 });
    await eventually(() => seen.length >= 1, 3000, 'valid message forwarded');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([JSON.stringify({ props: { tiltDeg: 9 } })]);
    await dev.endAsync();
    await tap.endAsync();
  });

  it('stores an implausible device timestamp at server time with a flag', async () => {
    const c = p.cred('overflow-bin', 2);
    const client = await connectDevice(p, c);
    const before = Date.now();
    await client.publishAsync(`v1/overflow-bin/${c.id}/telemetry`, JSON.stringify({ ts: Date.now() + 3_600_000, seq: 7, props: { fillPct: 12 } }), { qos: 1 });
    await client.endAsync();
    await p.ingest.flush();
    const r = (await listReadings(p.db, { deviceId: c.id, limit: 1 }))[0]!;
    expect(r).toMatchObject({ seq: 7, serverTs: true });
    expect(r.ts.getTime()).toBeGreaterThanOrEqual(before);
    expect(r.ts.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
