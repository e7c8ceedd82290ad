import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../core/store/dead-letters.ts';
import { listReadings } from '../core/store/readings.ts';
import { connectDevice, deadLettersFor, eventually, sleep, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

/**
 * Issue 12: no device can stop ingest. Every hostile payload from one device is followed by a normal
 * QoS 1 reading from another, which must be acknowledged and stored within 2 s; the hostile one is
 * dead-lettered with its reason, or stored as the valid reading it is.
 */
let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform({ MQTT_MAX_INVALID_PER_MIN: 10_000 });
});
afterAll(() => p?.dispose());

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const keys = (n: number) => `{"props":{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}}}`;

type Case = { name: string; topic: 'telemetry' | 'event'; payload: string | Buffer; expect: { reason: string } | { seq?: number; serverTs?: boolean } };
const cases: Case[] = [
  { name: 'seq 2^31', topic: 'telemetry', payload: JSON.stringify({ ts: Date.now(), seq: 2 ** 31, props: { smokeDbPerM: 0.01 } }), expect: { seq: 2 ** 31 } },
  { name: 'seq as a ms clock', topic: 'telemetry', payload: JSON.stringify({ ts: Date.now(), seq: 10000000057613, props: { smokeDbPerM: 0.01 } }), expect: { seq: 10000000057613 } },
  { name: 'seq 2^53+2', topic: 'telemetry', payload: `{"seq":${2 ** 53 + 2},"props":{"smokeDbPerM":0.01}}`, expect: { reason: 'out_of_range' } },
  { name: 'seq -1', topic: 'telemetry', payload: JSON.stringify({ seq: -1, props: { smokeDbPerM: 0.01 } }), expect: { reason: 'out_of_range' } },
  { name: 'seq 1.5', topic: 'telemetry', payload: JSON.stringify({ seq: 1.5, props: { smokeDbPerM: 0.01 } }), expect: { reason: 'wrong_type' } },
  { name: 'ts in seconds', topic: 'telemetry', payload: JSON.stringify({ ts: Math.floor(Date.now() / 1000), seq: 7, props: { smokeDbPerM: 0.01 } }), expect: { seq: 7, serverTs: true } },
  { name: 'ts 0', topic: 'telemetry', payload: JSON.stringify({ ts: 0, seq: 8, props: { smokeDbPerM: 0.01 } }), expect: { seq: 8, serverTs: true } },
  { name: 'temperature 1e308', topic: 'telemetry', payload: JSON.stringify({ props: { temperatureC: 1e308 } }), expect: { reason: 'out_of_range' } },
  { name: 'U+0000 in a key', topic: 'telemetry', payload: JSON.stringify({ props: { '\u0000': 1, smokeDbPerM: 0.01 } }), expect: { reason: 'unknown_property' } },
  { name: 'U+0000 in an event name', topic: 'event', payload: JSON.stringify({ event: 'test\u0000button', data: {} }), expect: { reason: 'unknown_event' } },
  { name: 'raw 0x00 in invalid JSON', topic: 'telemetry', payload: Buffer.from([0x7b, 0x22, 0x00, 0x22, 0x3a]), expect: { reason: 'invalid_json' } },
  { name: '5,000-deep nesting', topic: 'telemetry', payload: `{"props":{"smokeDbPerM":${nested(5000)}}}`, expect: { reason: 'wrong_type' } },
  { name: '100,000 keys', topic: 'telemetry', payload: keys(100_000), expect: { reason: 'packet_too_large' } },
];

describe('one hostile device cannot stop ingest', () => {
  let other: MqttClient;
  let otherSeq = 0;
  const good = () => p.cred('smoke-detector', 2);
  beforeAll(async () => {
    other = await connectDevice(p, good());
  });
  afterAll(() => other?.end(true));

  /** The other device's next reading: acknowledged, then stored, each within 2 s. */
  async function otherStoredWithin2s(): Promise<void> {
    const seq = ++otherSeq;
    const started = performance.now();
    await other.publishAsync(`v1/smoke-detector/${good().id}/telemetry`, JSON.stringify({ seq, props: { smokeDbPerM: 0.02 } }), { qos: 1 });
    await eventually(async () => (await listReadings(p.db, { deviceId: good().id, limit: 100 })).some((r) => r.seq === seq), 2000 - (performance.now() - started), `the other device's reading ${seq}`);
  }

  for (const c of cases) {
    it(`${c.name}: ${'reason' in c.expect ? `dead-lettered as ${c.expect.reason}` : 'stored as sent'}; the next device's reading is stored within 2 s`, async () => {
      const hostile = p.cred('smoke-detector', 1);
      const client = await connectDevice(p, hostile, { reconnectPeriod: 0 });
      client.on('error', () => undefined);
      const started = Date.now();
      client.publish(`v1/smoke-detector/${hostile.id}/${c.topic}`, c.payload, { qos: 1 });
      await otherStoredWithin2s();
      if ('reason' in c.expect) {
        const reason = c.expect.reason;
        const size = Buffer.byteLength(c.payload);
        // This message's letter: its reason, its size, written after it was sent.
        await eventually(async () => (await listDeadLetters(p.db, { deviceId: hostile.id, reason, limit: 1000 })).some((l) => l.at.getTime() >= started && (reason === 'packet_too_large' || l.payloadBytes === size)), 2000, `${reason} dead letter`);
      } else {
        const want = c.expect;
        const stored = await eventually(async () => (await listReadings(p.db, { deviceId: hostile.id, limit: 1000 })).find((r) => r.seq === want.seq), 2000, `reading seq ${want.seq}`);
        expect(stored.serverTs).toBe(want.serverTs ?? false);
      }
      client.end(true);
    });
  }

  it('text the store cannot hold in an event field, and U+0000 in a topic, are dead-lettered too', async () => {
    const cam = p.cred('throw-camera', 1);
    const client = await connectDevice(p, cam, { reconnectPeriod: 0 });
    client.on('error', () => undefined);
    const event = (snapshotUrl: string) => JSON.stringify({ event: 'throw_detected', data: { floor: 9, confidence: 0.9, snapshotUrl } });
    await client.publishAsync(`v1/throw-camera/${cam.id}/event`, event('https://snap.example.invalid/a\u0000.jpg'), { qos: 1 });
    await client.publishAsync(`v1/throw-camera/${cam.id}/event`, event('javascript:alert(1)'), { qos: 1 });
    await otherStoredWithin2s();
    expect(await deadLettersFor(p, cam.id, 'invalid_text')).toHaveLength(1);
    expect((await deadLettersFor(p, cam.id, 'invalid_value'))[0]!.detail).toContain('snapshotUrl');
    // A topic with U+0000 closes the connection (MQTT 3.1.1 has no refusal of one PUBLISH) and is dead-lettered.
    client.publish(`v1/throw-camera/${cam.id}\u0000/telemetry`, JSON.stringify({ props: { online: true } }), { qos: 0 });
    await otherStoredWithin2s();
    const letters = await deadLettersFor(p, cam.id, 'invalid_topic_encoding');
    expect(letters[0]!.topic).toContain('\uFFFD');
    client.end(true);
  });

  it('health stays ok: nothing waits and no sink refused anything', async () => {
    await sleep(300);
    const { body } = await p.api('GET', '/api/v1/health');
    expect(body.problems).toEqual([]);
    expect(body.status).toBe('ok');
    expect(body.ingest.rejectedByReason.sink_rejected).toBeUndefined();
  });
});
