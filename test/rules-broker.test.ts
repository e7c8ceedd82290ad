import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectDevice, deadLettersFor, eventually, startTestPlatform, type TestPlatform } from './helpers/platform.ts';

let p: TestPlatform;
let watcher: MqttClient;
const platformEvents: { topic: string; body: any }[] = [];

beforeAll(async () => {
  p = await startTestPlatform({ RULES_COMMAND_TIMEOUT_S: 1 });
  const account = (await p.api('POST', '/api/v1/service-accounts', { name: 'alarm watcher', subscribe: ['platform/#'] })).body;
  watcher = await connect(p.mqttUrl, account.username, account.secret);
  watcher.on('message', (topic, payload) => platformEvents.push({ topic, body: JSON.parse(payload.toString()) }));
  await watcher.subscribeAsync('platform/#', { qos: 1 });
});
afterAll(async () => {
  await watcher?.endAsync();
  await p?.dispose();
});

const alarmsOf = async (deviceId: string, ruleId?: string) => (await p.api('GET', `/api/v1/alarms?deviceId=${deviceId}${ruleId ? `&ruleId=${ruleId}` : ''}`)).body;

describe('rules through the real broker', () => {
  it('ebike-repeat: hold_door on every detection, acked and recorded; a count alarm on the third', async () => {
    const c = p.cred('ebike-elevator');
    const device = await connectDevice(p, c);
    const commands: { id: string; name: string; params: Record<string, unknown>; receivedAt: number }[] = [];
    device.on('message', (topic, payload) => {
      const cmd = JSON.parse(payload.toString());
      commands.push({ ...cmd, receivedAt: Date.now() });
      device.publish(`${topic}/ack`, JSON.stringify({ id: cmd.id, ok: true, message: 'door held' }), { qos: 1 });
    });
    await device.subscribeAsync(`v1/ebike-elevator/${c.id}/cmd`, { qos: 1 });
    for (let i = 1; i <= 3; i++) {
      await device.publishAsync(`v1/ebike-elevator/${c.id}/event`, JSON.stringify({ event: 'ebike_detected', data: { confidence: 0.9, snapshotUrl: `https://elevator.example/${i}.jpg` } }), { qos: 1 });
      await eventually(() => commands.length === i, 3000, `hold_door #${i}`);
    }
    // A detection below the minimum confidence holds nothing.
    await device.publishAsync(`v1/ebike-elevator/${c.id}/event`, JSON.stringify({ event: 'ebike_detected', data: { confidence: 0.5, snapshotUrl: 'https://elevator.example/x.jpg' } }), { qos: 1 });
    expect(commands.map((x) => x.name)).toEqual(['hold_door', 'hold_door', 'hold_door']);
    expect(commands[0]!.params).toMatchObject({ voice: expect.stringContaining('电动车') });

    const repeat = await eventually(async () => (await alarmsOf(c.id, 'ebike-repeat')).items[0], 3000, 'ebike-repeat alarm');
    expect(repeat).toMatchObject({ state: 'active', count: 3, item: 'ticket', severity: 'major' });
    expect(repeat.evidence.params.hitsInWindow).toHaveLength(3);
    const detected = (await alarmsOf(c.id, 'ebike-detected')).items[0];
    expect(detected).toMatchObject({ state: 'active', count: 3 });
    expect(detected.evidence.snapshots).toEqual(['https://elevator.example/1.jpg', 'https://elevator.example/2.jpg', 'https://elevator.example/3.jpg']);
    const full = await eventually(async () => {
      const a = (await p.api('GET', `/api/v1/alarms/${detected.id}`)).body;
      return a.commands.length === 3 && a.commands.every((x: { status: string }) => x.status === 'acked') && a;
    }, 3000, 'acks recorded');
    expect(full.commands.map((x: { id: string }) => x.id)).toEqual(commands.map((x) => x.id));
    expect(full.commands[0].answer).toMatchObject({ ok: true, message: 'door held' });

    // Published for services: raised once per alarm, on platform/alarms/raised/{grid}/{device}.
    await eventually(() => platformEvents.some((e) => e.topic === `platform/alarms/raised/g-test/${c.id}` && e.body.alarm.ruleId === 'ebike-repeat'), 3000, 'raised event on MQTT');
    const raisedTopics = platformEvents.filter((e) => e.body.event === 'raised' && e.body.alarm?.deviceId === c.id).map((e) => e.body.alarm.ruleId).sort();
    expect(raisedTopics).toEqual(['ebike-detected', 'ebike-repeat']);
    await device.endAsync();
  });

  it('a device that never answers gets its command recorded as timed out; a malformed ack is dead-lettered', async () => {
    const c = p.cred('ebike-elevator', 2);
    const device = await connectDevice(p, c);
    await device.publishAsync(`v1/ebike-elevator/${c.id}/event`, JSON.stringify({ event: 'ebike_detected', data: { confidence: 0.95, snapshotUrl: 'https://elevator.example/y.jpg' } }), { qos: 1 });
    const alarm = await eventually(async () => (await alarmsOf(c.id, 'ebike-detected')).items[0], 3000, 'alarm');
    const timedOut = await eventually(async () => {
      const a = (await p.api('GET', `/api/v1/alarms/${alarm.id}`)).body;
      return a.commands[0]?.status === 'timeout' && a.commands[0];
    }, 5000, 'timeout recorded');
    expect(timedOut).toMatchObject({ name: 'hold_door', answer: null });
    await device.publishAsync(`v1/ebike-elevator/${c.id}/cmd/ack`, JSON.stringify({ ok: 'yes' }), { qos: 1 });
    const [letter] = await deadLettersFor(p, c.id, 'invalid_ack');
    expect(letter!.detail).toContain('id');
    await device.endAsync();
  });

  it('1,000 breaches published as fast as possible over QoS 0 and 1 make one alarm with count 1,000', async () => {
    const c = p.cred('overflow-bin');
    const device = await connectDevice(p, c);
    const topic = `v1/overflow-bin/${c.id}/telemetry`;
    await Promise.all(Array.from({ length: 1000 }, (_, i) => device.publishAsync(topic, JSON.stringify({ seq: i, props: { temperatureC: 65 } }), { qos: i % 2 ? 1 : 0 })));
    const alarm = await eventually(async () => {
      const list = await alarmsOf(c.id, 'bin-fire');
      return list.items[0]?.count === 1000 && list;
    }, 10_000, 'count 1000');
    expect(alarm.total).toBe(1);
    await device.endAsync();
  });
});

describe('alarms and overrides API', () => {
  it('lists alarms with filters and pagination', async () => {
    const all = (await p.api('GET', '/api/v1/alarms?limit=2')).body;
    expect(all.total).toBeGreaterThanOrEqual(3);
    expect(all.items).toHaveLength(2);
    const active = (await p.api('GET', '/api/v1/alarms?state=active&ruleId=bin-fire')).body;
    expect(active.items.every((a: { state: string; ruleId: string }) => a.state === 'active' && a.ruleId === 'bin-fire')).toBe(true);
    const bad = await p.api('GET', '/api/v1/alarms?state=burning');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('state');
    expect((await p.api('GET', '/api/v1/alarms', undefined, null)).status).toBe(401);
    expect((await p.api('GET', '/api/v1/alarms/al-nope')).status).toBe(404);
  });

  it('sets an override through the API, in force at the next reading, and names the field of a bad one', async () => {
    const c = p.cred('manhole-cover', 2);
    const put = await p.api('PUT', '/api/v1/rule-overrides', { ruleId: 'manhole-gas', orgUnitId: 'b1', params: { trigger: 300, clear: 100 } });
    expect(put.status).toBe(200);
    const rules = (await p.api('GET', `/api/v1/devices/${c.id}/rules`)).body.items;
    expect(rules.find((r: { id: string }) => r.id === 'manhole-gas').params).toMatchObject({ trigger: 300, overriddenBy: { trigger: 'org:b1' } });
    const device = await connectDevice(p, c);
    await device.publishAsync(`v1/manhole-cover/${c.id}/telemetry`, JSON.stringify({ props: { gasPpm: 400 } }), { qos: 1 });
    const alarm = await eventually(async () => (await alarmsOf(c.id, 'manhole-gas')).items[0], 3000, 'alarm at the overridden trigger');
    expect(alarm.params.trigger).toBe(300);
    await device.endAsync();

    const cases: [unknown, string][] = [
      [{ ruleId: 'manhole-gas', orgUnitId: 'b1', params: { trigger: 300, clear: 400 } }, 'params.clear'],
      [{ ruleId: 'manhole-gas', orgUnitId: 'b1', params: { heartbeats: 3 } }, 'params.heartbeats'],
      [{ ruleId: 'manhole-gas', orgUnitId: 'b1', params: { holdS: -1 } }, 'params.holdS'],
      [{ ruleId: 'no-such-rule', orgUnitId: 'b1', params: {} }, 'ruleId'],
      [{ ruleId: 'manhole-gas', orgUnitId: 'nowhere', params: {} }, 'orgUnitId'],
      [{ ruleId: 'manhole-gas', deviceId: p.cred('smoke-detector').id, params: {} }, 'deviceId'],
      [{ ruleId: 'manhole-gas', params: {} }, 'orgUnitId'],
    ];
    for (const [body, field] of cases) {
      const r = await p.api('PUT', '/api/v1/rule-overrides', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message, JSON.stringify(body)).toContain(field);
    }
    expect((await p.api('GET', '/api/v1/rule-overrides?ruleId=manhole-gas')).body.items).toEqual([expect.objectContaining({ orgUnitId: 'b1', params: { trigger: 300, clear: 100 } })]);
    expect((await p.api('DELETE', '/api/v1/rule-overrides?ruleId=manhole-gas&orgUnitId=b1')).status).toBe(204);
    const after = (await p.api('GET', `/api/v1/devices/${c.id}/rules`)).body.items;
    expect(after.find((r: { id: string }) => r.id === 'manhole-gas').params.trigger).toBe(1000);
    expect((await p.api('GET', '/api/v1/rules')).body.items.find((r: { id: string }) => r.id === 'smoke-density')).toMatchObject({ type: 'smoke-detector', defaults: { trigger: 0.15, holdS: 10 } });
  });
});
