import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, SMALL_SITE, sleep } from './helpers/platform.ts';
import { startPlatformProcess, type PlatformProcess } from './helpers/process.ts';
import { freePort, haveBinary, POSTGRES_BIN, REDIS_SERVER, servicesRequired, startPostgres, startRedis, type Service } from './helpers/services.ts';

/**
 * Issue 18: two platform nodes, each `npm start`'s process, on one PostgreSQL and one Redis, both
 * started here on loopback. Devices and subscribers connect to either; a node is killed with -9.
 */
const missing = [path.join(POSTGRES_BIN, 'postgres'), REDIS_SERVER].filter((b) => !haveBinary(b));
if (missing.length && !servicesRequired) console.warn(`\n!!! ${missing.join(', ')} not installed: the cluster tests are SKIPPED (apt-get install postgresql redis-server; CI fails instead)\n`);

const TOKEN = 'cluster-test-token-0123456789';
let postgres: (Service & { database(): Promise<string> }) | undefined;
let redis: Service | undefined;
let sql: pg.Client;
const dirs: string[] = [];

interface Node {
  name: string;
  run: PlatformProcess;
  env: Record<string, string>;
  mqtt: string;
  api: string;
}
const nodes: Node[] = [];

async function startNode(name: string, base: Record<string, string>, reuse?: Node): Promise<Node> {
  const dir = reuse?.env.DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), `sps-cluster-${name}-`));
  if (!reuse) dirs.push(dir);
  const env = reuse?.env ?? { ...base, DATA_DIR: dir, NODE_ID: name, MQTT_PORT: String(await freePort()), HTTP_PORT: String(await freePort()) };
  const run = await startPlatformProcess(env);
  if (process.env.TEST_NODE_LOG) run.proc.stdout!.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (/"level":(40|50|60)/.test(l)) console.log(name, l.slice(0, 600)); });
  const node = { name, run, env, mqtt: `mqtt://127.0.0.1:${run.ports.mqtt}`, api: `http://127.0.0.1:${run.ports.http}/api/v1` };
  const i = nodes.findIndex((n) => n.name === name);
  if (i >= 0) nodes[i] = node;
  else nodes.push(node);
  return node;
}

async function call(node: Node, method: string, url: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(node.api + url, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

function client(urls: string[], username: string, password: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const servers = urls.map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) }));
  const c = mqtt.connect({ servers, clientId: username, username, password, reconnectPeriod: 200, connectTimeout: 5000, ...opts });
  c.on('error', () => undefined);
  return new Promise((resolve) => c.once('connect', () => resolve(c)));
}

async function device(node: Node, id: string, buildingId = 'b2', type = 'smoke-detector'): Promise<{ id: string; secret: string }> {
  const r = await call(node, 'POST', '/devices', { type, buildingId, id });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

async function subscriber(node: Node, name: string, filters: string[]): Promise<{ username: string; secret: string }> {
  const r = await call(node, 'POST', '/service-accounts', { name, subscribe: filters });
  expect(r.status).toBe(201);
  return r.body;
}

const enabled = missing.length === 0 || servicesRequired;

describe.runIf(enabled)('two nodes on one PostgreSQL and one Redis', () => {
  let A: Node;
  let B: Node;

  beforeAll(async () => {
    postgres = await startPostgres();
    redis = await startRedis();
    const database = await postgres.database();
    sql = new pg.Client({ connectionString: database });
    await sql.connect();
    const base = {
      DATABASE_URL: database,
      REDIS_URL: redis.url,
      SITE_FILE: SMALL_SITE,
      PLATFORM_ADMIN_TOKEN: TOKEN,
      NOTIFY_FLOWS: 'false',
      // Reminder (督办) after half the accept window: 3 s; the accept deadline at 6 s.
      WORK_ITEM_SLA: JSON.stringify({ critical: { acceptS: 6, resolveS: 3600 } }),
    };
    // The first node seeds the empty database; the second finds it seeded.
    A = await startNode('node-a', base);
    B = await startNode('node-b', base);
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) await n.run.stop('SIGKILL');
    await sql?.end().catch(() => undefined);
    await redis?.dispose();
    await postgres?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a message published on one node reaches a subscriber on the other, at QoS 0 and 1', async () => {
    for (const node of [A, B]) {
      const ready = await (await fetch(`${node.api}/health/ready`)).json();
      expect(ready.checks, node.name).toMatchObject({ store: { ok: true }, redis: { ok: true, required: true }, 'broker.mqtt': { ok: true } });
    }
    const d = await device(A, 'cl-deliver-1');
    const svc = await subscriber(A, 'cross-node watcher', ['v1/+/+/telemetry']);
    const sub = await client([B.mqtt], svc.username, svc.secret, { clientId: `${svc.username}-1` });
    const got: { seq: number; qos: number }[] = [];
    sub.on('message', (_t, m, pkt) => got.push({ seq: JSON.parse(m.toString()).seq, qos: pkt.qos }));
    await sub.subscribeAsync('v1/smoke-detector/cl-deliver-1/telemetry', { qos: 1 });
    const dev = await client([A.mqtt], d.id, d.secret);
    await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ seq: 1, props: { batteryPct: 90 } }), { qos: 0 });
    await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ seq: 2, props: { batteryPct: 89 } }), { qos: 1 });
    await eventually(() => got.length >= 2, 5000, 'both messages on the other node');
    expect(got.sort((a, b) => a.seq - b.seq)).toEqual([{ seq: 1, qos: 0 }, { seq: 2, qos: 1 }]);
    // A reading ingest refuses reaches nobody, on either node.
    await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ seq: 3, props: { batteryPct: 'lots' } }), { qos: 1 });
    await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ seq: 4, props: { batteryPct: 88 } }), { qos: 1 });
    await eventually(() => got.length >= 3, 5000, 'the next good one');
    expect(got.map((g) => g.seq)).toEqual([1, 2, 4]);
    await dev.endAsync();
    await sub.endAsync();
  });

  it('a persistent session made on one node gets the QoS 1 messages queued for it when it comes back on the other', async () => {
    const d = await device(A, 'cl-session-1');
    const svc = await subscriber(A, 'session watcher', ['v1/+/+/telemetry']);
    const opts = { clientId: `${svc.username}-persistent`, clean: false };
    const first = await client([A.mqtt], svc.username, svc.secret, opts);
    await first.subscribeAsync(`v1/smoke-detector/${d.id}/telemetry`, { qos: 1 });
    await first.endAsync();
    // A live watcher on node B: once it has the last message, B's bus has handed every message on
    // (its copy from Redis included), and what the session gets is the queue alone. A session
    // resumed while a message is still on its way back from Redis can get that one live as well,
    // ahead of the queue: a known race (issue 20's note), not what this test is about.
    const watcher = await client([B.mqtt], svc.username, svc.secret);
    const watched: number[] = [];
    watcher.on('message', (_t, m) => watched.push(JSON.parse(m.toString()).seq));
    await watcher.subscribeAsync(`v1/smoke-detector/${d.id}/telemetry`, { qos: 1 });
    const dev = await client([B.mqtt], d.id, d.secret);
    for (let seq = 1; seq <= 5; seq++) await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ seq, props: { batteryPct: 80 + seq } }), { qos: 1 });
    await eventually(() => watched.includes(5), 5000, 'the last message through node B');
    await watcher.endAsync();
    const seqs: number[] = [];
    const back = mqtt.connect(B.mqtt, { ...opts, username: svc.username, password: svc.secret, reconnectPeriod: 0 });
    back.on('message', (_t, m) => seqs.push(JSON.parse(m.toString()).seq));
    await eventually(() => seqs.length >= 5, 5000, 'the queued messages');
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    await back.endAsync();
    await dev.endAsync();
  });

  it('one device moving between the nodes with the same breach makes one alarm and one work order', async () => {
    const d = await device(A, 'cl-move-1');
    const topic = `v1/smoke-detector/${d.id}/telemetry`;
    const hot = (seq: number) => JSON.stringify({ seq, props: { temperatureC: 80 } });
    let seq = 0;
    for (const node of [A, B, A, B]) {
      const dev = await client([node.mqtt], d.id, d.secret);
      for (let i = 0; i < 3; i++) await dev.publishAsync(topic, hot(++seq), { qos: 1 });
      await sleep(300);
      await dev.endAsync();
      await sleep(300);
    }
    const alarms = await eventually(async () => {
      const { rows } = await sql.query<{ id: string; state: string; count: number }>(`SELECT id, state, count FROM alarms WHERE device_id = $1 AND rule_id = 'smoke-heat'`, [d.id]);
      return rows.length > 0 && rows[0]!.count >= 12 && rows;
    }, 10_000, 'the alarm counting all twelve readings');
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ state: 'active', count: 12 });
    const items = await eventually(async () => (await sql.query(`SELECT id, alarm_id FROM work_items WHERE device_id = $1`, [d.id])).rows.length > 0 && (await sql.query(`SELECT id, alarm_id FROM work_items WHERE device_id = $1`, [d.id])).rows, 10_000, 'the work order');
    expect(items).toEqual([{ id: expect.any(String), alarm_id: alarms[0]!.id }]);
    // The node it is on now carries the alarm on: a cool reading there starts its clearing.
    const dev = await client([B.mqtt], d.id, d.secret);
    await dev.publishAsync(topic, JSON.stringify({ seq: ++seq, props: { temperatureC: 20 } }), { qos: 1 });
    await eventually(async () => (await sql.query(`SELECT state FROM alarms WHERE id = $1`, [alarms[0]!.id])).rows[0]?.state === 'clearing', 5000, 'clearing on node B');
    await dev.endAsync();
  }, 30_000);

  it('the live event stream on one node carries what happened on the other', async () => {
    // A manhole cover: no fire alarm of another test joins its storm.
    const d = await device(A, 'cl-stream-1', 'b1', 'manhole-cover');
    const ctrl = new AbortController();
    const res = await fetch(`${B.api}/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrl.signal });
    expect(res.status).toBe(200);
    let text = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of res.body!) {
        text += decoder.decode(chunk as Uint8Array);
        if (/event: alarm\n.*cl-stream-1/.test(text) && /event: created\n.*cl-stream-1/.test(text)) return;
      }
    })().catch(() => undefined);
    const dev = await client([A.mqtt], d.id, d.secret);
    await dev.publishAsync(`v1/manhole-cover/${d.id}/telemetry`, JSON.stringify({ seq: 1, props: { open: true } }), { qos: 1 });
    await dev.endAsync();
    await Promise.race([reading, sleep(10_000)]);
    ctrl.abort();
    expect(text).toMatch(/event: alarm\ndata: .*"deviceId":"cl-stream-1"/);
    expect(text).toMatch(/event: created\ndata: .*"deviceId":"cl-stream-1"/);
  });

  it('an SLA reminder goes out once for the cluster, from the lease holder, for an item opened on the other node', async () => {
    const { rows: lease } = await sql.query<{ holder: string }>(`SELECT holder FROM leases WHERE name = 'work-item-timers' AND expires_at > now()`);
    expect(lease).toHaveLength(1);
    const other = nodes.find((n) => n.name !== lease[0]!.holder)!;
    // In the other building: a fire alarm in b2 within the storm window would join that incident.
    const d = await device(other, 'cl-sla-1', 'b1');
    const dev = await client([other.mqtt], d.id, d.secret);
    await dev.publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ seq: 1, props: { temperatureC: 90 } }), { qos: 1 });
    await dev.endAsync();
    const item = await eventually(async () => (await sql.query<{ id: string; created_at: Date }>(`SELECT id, created_at FROM work_items WHERE device_id = $1`, [d.id])).rows[0], 10_000, 'the work order');
    // Between the reminder (3 s) and the accept deadline (6 s): one reminder, whichever nodes had the item.
    await sleep(Math.max(0, item.created_at.getTime() + 4800 - Date.now()));
    const { rows } = await sql.query<{ reminders: number; escalation_level: string }>(`SELECT reminders, escalation_level FROM work_items WHERE id = $1`, [item.id]);
    expect(rows[0]).toEqual({ reminders: 1, escalation_level: 'grid' });
    // The deadline climbs one level, once.
    await eventually(async () => (await sql.query(`SELECT escalation_level FROM work_items WHERE id = $1`, [item.id])).rows[0]?.escalation_level === 'community', 8000, 'escalated');
    await sleep(1500);
    const { rows: escalations } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM work_item_events WHERE item_id = $1 AND action = 'escalate'`, [item.id]);
    expect(escalations[0]!.n).toBe(1);
  }, 40_000);

  it.each([
    ['kill -9', 'SIGKILL', 'kill'],
    ['a rolling restart (SIGTERM)', 'SIGTERM', 'roll'],
  ] as const)('%s of one node while its devices publish at QoS 1: they go on at the other, and every acknowledged reading is stored once', async (_what, signal, tag) => {
    const devices = await Promise.all(Array.from({ length: 10 }, (_, i) => device(A, `cl-${tag}-${i}`)));
    const acked = new Map<string, Set<number>>(devices.map((d) => [d.id, new Set()]));
    let sending = true;
    const clients: MqttClient[] = [];
    const loops = devices.map(async (d) => {
      const c = await client([A.mqtt, B.mqtt], d.id, d.secret);
      clients.push(c);
      const inFlight = new Set<Promise<void>>();
      for (let seq = 0; sending; seq++) {
        const p: Promise<void> = c
          .publishAsync(`v1/smoke-detector/${d.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq, props: { smokeDbPerM: 0.01 } }), { qos: 1 })
          .then(() => void acked.get(d.id)!.add(seq), () => undefined)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= 10) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    });
    await sleep(2000);
    const beforeKill = [...acked.values()].reduce((n, s) => n + s.size, 0);
    expect(beforeKill).toBeGreaterThan(200);
    A.run.proc.kill(signal);
    await A.run.exited;
    await sleep(2500);
    sending = false;
    await Promise.race([Promise.all(loops), sleep(15_000)]);
    const afterKill = [...acked.values()].reduce((n, s) => n + s.size, 0);
    expect(afterKill, 'the devices went on at node B').toBeGreaterThan(beforeKill + 100);
    for (const c of clients) c.end(true);
    // Node A comes back on its volume: what its journal acknowledged and had not yet written goes in
    // (after a SIGTERM it wrote everything out before it exited).
    A = await startNode('node-a', {}, A);
    const stored = async () => (await sql.query<{ device_id: string; seq: string; n: number }>(`SELECT device_id, seq, count(*)::int AS n FROM readings WHERE device_id LIKE $1 GROUP BY device_id, seq`, [`cl-${tag}-%`])).rows;
    const lostOf = (rows: { device_id: string; seq: string }[]) => {
      const have = new Set(rows.map((r) => `${r.device_id}:${r.seq}`));
      return [...acked].flatMap(([id, seqs]) => [...seqs].filter((s) => !have.has(`${id}:${s}`)).map((s) => `${id}:${s}`));
    };
    const end = Date.now() + 15_000;
    let rows = await stored();
    while (lostOf(rows).length && Date.now() < end) {
      await sleep(250);
      rows = await stored();
    }
    const twice = rows.filter((r) => r.n > 1);
    expect(twice, `stored more than once: ${JSON.stringify(twice.slice(0, 5))}`).toEqual([]);
    const lost = lostOf(rows);
    expect(lost, `${lost.length} of ${afterKill} acknowledged readings missing`).toEqual([]);
  }, 90_000);
});
