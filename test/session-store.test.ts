import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionStore } from '../broker/session-store.ts';
import { readCredentials } from '../simulators/credentials.ts';
import { eventually, SMALL_SITE, sleep, tempDir } from './helpers/platform.ts';
import { ROOT, startPlatformProcess, type PlatformProcess } from './helpers/process.ts';
import { freePort } from './helpers/services.ts';

const log = pino({ level: 'silent' });

describe('the durable session store', () => {
  it('passes aedes-persistence\'s own conformance suite', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', 'test/fixtures/session-store-abstract.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const fail = /^# fail (\d+)/m.exec(r.stdout)?.[1];
    expect(fail, r.stdout.slice(-3000) + r.stderr).toBe('0');
    expect(Number(/^# pass (\d+)/m.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(50);
    expect(r.status).toBe(0);
  });

  it('gives back subscriptions, queued messages, retained messages and wills from disk, also from a compacted snapshot', async () => {
    const dir = tempDir('sps-sessions-');
    const broker = { id: 'b-1', counter: 0 };
    const packet = (topic: string, payload: string, qos = 1) => ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, brokerId: 'b-1', brokerCounter: ++broker.counter });
    // Tiny compaction threshold: the second half of the changes goes through a snapshot.
    const a = new SessionStore({ dir, log, maxQueued: 3, compactBytes: 2000 });
    await a.setup(broker);
    const client = { id: 'nodered', clean: false };
    await a.addSubscriptions(client, [{ topic: 'platform/#', qos: 1 }]);
    await a.storeRetained({ ...packet('bridge/config', '{"v":1}', 0), retain: true });
    for (let i = 0; i < 5; i++) await a.outgoingEnqueueCombi([{ clientId: 'nodered' }], packet(`platform/workitems/created/${i}`, `m${i}`));
    for (let i = 0; i < 40; i++) await a.storeRetained({ ...packet(`v1/x/d${i}/status`, 'online', 0), retain: true });
    await a.putWill(client, { ...packet('bridge/will', 'gone'), retain: false });
    expect(a.status()).toMatchObject({ queued: 3, dropped: 2 }); // at most maxQueued per client
    await eventually(() => existsSync(path.join(dir, 'snapshot.json')), 3000, 'a snapshot');
    await a.storeRetained({ ...packet('bridge/after-snapshot', 'yes', 0), retain: true });
    // No close: a crash.

    const b = new SessionStore({ dir, log, maxQueued: 3 });
    await b.setup({ id: 'b-2', counter: 0 });
    expect(await b.subscriptionsByClient(client)).toEqual([{ topic: 'platform/#', qos: 1, rh: undefined, rap: undefined, nl: undefined }]);
    const queued: { topic: string; payload: Buffer }[] = [];
    for await (const p of b.outgoingStream(client)) queued.push(p);
    expect(queued.map((p) => p.payload.toString())).toEqual(['m0', 'm1', 'm2']);
    expect(b.retainedMatching((t) => t === 'bridge/config')[0]!.payload.toString()).toBe('{"v":1}');
    expect(b.retainedMatching((t) => t.endsWith('/status'))).toHaveLength(40);
    expect(b.retainedMatching((t) => t === 'bridge/after-snapshot')).toHaveLength(1);
    // The will keeps the broker it was left with, so aedes publishes it: that broker is gone.
    expect(await b.getWill(client)).toMatchObject({ topic: 'bridge/will', brokerId: 'b-1' });
    expect(b.status().log!.segments).toBeGreaterThan(0);
    await b.destroy();
  });
});

/**
 * Issue 12: a clean=false QoS 1 subscriber (a service account: Node-RED, a bridge) that is away
 * while 5 messages are queued for it gets 5 of 5 after `kill -9` of the platform and a restart, and
 * its subscription is still there. Devices keep clean sessions whatever they ask for.
 */
describe('sessions survive kill -9 of npm start', () => {
  let run: PlatformProcess | undefined;
  afterAll(() => run?.stop('SIGKILL'));

  it('delivers 5 of 5 queued messages and keeps the subscription and a retained message', async () => {
    const dataDir = tempDir('sps-sessions-crash-');
    const TOKEN = 'sessions-test-token-0123456789';
    const env = { DATA_DIR: dataDir, SITE_FILE: SMALL_SITE, PLATFORM_ADMIN_TOKEN: TOKEN, MQTT_PORT: String(await freePort()), HTTP_PORT: String(await freePort()) };
    run = await startPlatformProcess(env);
    const url = `mqtt://127.0.0.1:${env.MQTT_PORT}`;
    const res = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/api/v1/service-accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'node-red', subscribe: ['v1/+/+/telemetry', 'bridge/#'], publish: ['bridge/#'] }),
    });
    expect(res.status).toBe(201);
    const account = (await res.json()) as { username: string; secret: string };
    const open = (opts: IClientOptions) =>
      new Promise<{ client: MqttClient; sessionPresent: boolean }>((resolve, reject) => {
        const client = mqtt.connect(url, { username: account.username, password: account.secret, clientId: account.username, reconnectPeriod: 0, ...opts });
        client.once('connect', (ack) => resolve({ client, sessionPresent: ack.sessionPresent }));
        client.once('error', reject);
      });

    // Subscribe with a persistent session, leave a retained message, go away.
    const first = await open({ clean: false });
    await first.client.subscribeAsync('v1/+/+/telemetry', { qos: 1 });
    await first.client.publishAsync('bridge/config', '{"sync":"on"}', { qos: 1, retain: true });
    await first.client.endAsync();

    const device = readCredentials(path.join(dataDir, 'device-credentials.json')).find((c) => c.type === 'overflow-bin')!;
    const dev = await new Promise<MqttClient>((resolve) => {
      const c = mqtt.connect(url, { clientId: device.id, username: device.id, password: device.secret, reconnectPeriod: 0 });
      c.once('connect', () => resolve(c));
    });
    for (let seq = 1; seq <= 5; seq++) await dev.publishAsync(`v1/overflow-bin/${device.id}/telemetry`, JSON.stringify({ seq, props: { fillPct: 10 * seq } }), { qos: 1 });
    dev.end(true);

    run.proc.kill('SIGKILL');
    await run.exited;
    run = await startPlatformProcess(env);

    const received: number[] = [];
    const again = await new Promise<{ client: MqttClient; sessionPresent: boolean }>((resolve, reject) => {
      const client = mqtt.connect(url, { username: account.username, password: account.secret, clientId: account.username, clean: false, reconnectPeriod: 0 });
      // Listen before CONNACK: the queue is delivered right behind it.
      client.on('message', (topic, payload) => {
        if (topic.endsWith('/telemetry')) received.push(JSON.parse(payload.toString()).seq);
      });
      client.once('connect', (ack) => resolve({ client, sessionPresent: ack.sessionPresent }));
      client.once('error', reject);
    });
    expect(again.sessionPresent).toBe(true);
    await eventually(() => received.length >= 5, 10_000, '5 queued messages');
    expect(received).toEqual([1, 2, 3, 4, 5]);

    // Still subscribed, without subscribing again: the next reading reaches it too.
    const dev2 = await new Promise<MqttClient>((resolve) => {
      const c = mqtt.connect(url, { clientId: device.id, username: device.id, password: device.secret, reconnectPeriod: 0, clean: false });
      c.once('connect', (ack) => {
        // A device asking for a persistent session gets a clean one (README: devices keep clean sessions).
        expect(ack.sessionPresent).toBe(false);
        resolve(c);
      });
    });
    await dev2.publishAsync(`v1/overflow-bin/${device.id}/telemetry`, JSON.stringify({ seq: 6, props: { fillPct: 70 } }), { qos: 1 });
    await eventually(() => received.includes(6), 5000, 'the next reading');
    dev2.end(true);
    await again.client.endAsync();

    // The retained message outlived the crash too.
    const reader = await open({ clean: true, clientId: `${account.username}-reader` });
    const retained = new Promise<string>((resolve) => reader.client.on('message', (topic, payload) => topic === 'bridge/config' && resolve(payload.toString())));
    await reader.client.subscribeAsync('bridge/#', { qos: 1 });
    expect(await Promise.race([retained, sleep(3000).then(() => 'nothing')])).toBe('{"sync":"on"}');
    await reader.client.endAsync();
    expect(await run.stop()).toBe(0);
    run = undefined;
  }, 60_000);
});
