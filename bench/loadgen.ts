/**
 * The load generator, run as its own process by the benchmarks so it never shares a thread with
 * the broker under test. Connects `--publishers` devices and one wildcard subscriber (`--client`:
 * mqtt.js, or bare MQTT over sockets, bench/mqtt-wire.ts; devices' credentials from `--credentials`,
 * or anonymous), offers
 * `--rate` msg/s in total for `--seconds`, and prints one JSON line: offered, sent, acknowledged,
 * delivered, latency p50/p99 (publish → deliver, same clock) and its own CPU.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { percentile } from '../core/reservoir.ts';
import { publishPacket, wireConnect, wireSubscriber } from './mqtt-wire.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    publishers: { type: 'string', default: '50' },
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    qos: { type: 'string', default: '0' },
    credentials: { type: 'string' },
    subscriber: { type: 'string', description: 'username:password of the wildcard subscriber, or "none"' },
    filter: { type: 'string', default: 'v1/+/+/telemetry' },
    client: { type: 'string', default: 'mqttjs', description: 'publishers and subscriber: mqttjs (one mqtt.js client each) or wire (bare MQTT, bench/mqtt-wire.ts)' },
    role: { type: 'string', default: 'all', description: 'all, or subscriber: only the subscriber, counting between "start" and "stop" lines on stdin' },
  },
});
const N = Number(values.publishers);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const QOS = Number(values.qos) as 0 | 1;
type Cred = { id: string; type: string; secret: string };
const creds: Cred[] = values.credentials
  ? (JSON.parse(readFileSync(values.credentials, 'utf8')).devices as Cred[]).filter((c) => c.type === 'smoke-detector').slice(0, N)
  : Array.from({ length: N }, (_, i) => ({ id: `pub-${i}`, type: 'smoke-detector', secret: '' }));
if (creds.length < N) throw new Error(`only ${creds.length} smoke detectors in the credentials, ${N} asked for`);

const connect = (clientId: string, username?: string, password?: string) =>
  new Promise<MqttClient>((resolve, reject) => {
    const c = mqtt.connect(values.url!, { clientId, username, password, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 60 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });

/** QoS 1 publishes the broker acknowledged (PUBACK): the ones it may not lose. */
let acked = 0;
const [su, sp] = (values.subscriber ?? '').split(':');
const latencies: number[] = [];
let delivered = 0;
let measuring = false;
const onDelivery = (payload: Buffer) => {
  if (!measuring) return;
  delivered++;
  // Every tenth: {"ts":…} is the time the generator sent it, on this process's clock.
  if (delivered % 10 !== 0) return;
  const i = payload.indexOf('"ts":');
  if (i >= 0) latencies.push(performance.timeOrigin + performance.now() - Number(payload.subarray(i + 5, payload.indexOf(',', i)).toString()));
};
const target = new URL(values.url!);
let sub: { end(): void } | undefined;
if (su !== 'none') {
  const account = { clientId: su || 'bench-sub', username: su || undefined, password: sp || undefined };
  if (values.client === 'wire') {
    const sock = await wireSubscriber({ port: Number(target.port), host: target.hostname, ...account, filter: values.filter!, qos: QOS }, onDelivery);
    sub = { end: () => sock.destroy() };
  } else {
    const client = await connect(account.clientId, account.username, account.password);
    client.on('message', (_t, payload) => onDelivery(payload));
    await client.subscribeAsync(values.filter!, { qos: QOS });
    sub = { end: () => client.end(true) };
  }
}

if (values.role === 'subscriber') {
  // The subscriber in a process of its own, so the publishers' work does not slow its reading.
  console.log(JSON.stringify({ phase: 'subscribed' }));
  const lines = (await import('node:readline')).createInterface({ input: process.stdin });
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  for await (const line of lines) {
    if (line === 'start') {
      measuring = true;
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    } else if (line === 'stop') break;
  }
  const secs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000)); // deliveries in flight
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ delivered: delivered / secs, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), cpuPct: ((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100 }));
  sub?.end();
  process.exit(0);
}

/** One simulated device: whether its socket is backed up, and how it sends a reading. */
interface Publisher {
  busy(): boolean;
  send(payload: string): void;
  /** Hands what `send` queued this tick to the socket (one write, as a device with several readings would). */
  flush(): void;
  close(): void;
}

const onAck = (err?: Error) => {
  if (!err) acked++;
};
async function publisher(c: Cred): Promise<Publisher> {
  const topic = `v1/smoke-detector/${c.id}/telemetry`;
  const [username, password] = values.credentials ? [c.id, c.secret] : [undefined, undefined];
  if (values.client === 'wire') {
    const sock = await wireConnect({ port: Number(target.port), host: target.hostname, clientId: c.id, username, password }, { onPuback: () => acked++ });
    let nextId = 1;
    let out: Buffer[] = [];
    return {
      busy: () => sock.writableNeedDrain,
      send: (payload) => {
        out.push(publishPacket(topic, payload, QOS, QOS ? nextId : 0));
        if (QOS) nextId = (nextId % 65535) + 1;
      },
      flush: () => {
        if (out.length) sock.write(out.length === 1 ? out[0]! : Buffer.concat(out));
        out = [];
      },
      close: () => sock.destroy(),
    };
  }
  const client = await connect(c.id, username, password);
  return {
    busy: () => client.stream.writableNeedDrain,
    send: (payload) => client.publish(topic, payload, { qos: QOS }, QOS === 1 ? onAck : undefined),
    flush: () => undefined,
    close: () => client.end(true),
  };
}
const pubs: Publisher[] = [];
for (let i = 0; i < creds.length; i += 100) pubs.push(...(await Promise.all(creds.slice(i, i + 100).map(publisher))));
const ready = new Set<Publisher>();

// ~141-byte telemetry, a valid smoke-detector reading.
const body = (ts: number, seq: number) => `{"ts":${ts},"seq":${seq},"props":{"smokeDbPerM":0.012,"temperatureC":21.5,"batteryPct":88.5,"alarm":false,"tamper":false}}`;
let offered = 0;
let seq = 0;
/** Offered messages not sent because the publisher's socket was backed up: the broker slowing it. */
let skipped = 0;

const cpu0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
// Tells the benchmark the measured window starts now (connections are up), for the server's CPU.
console.log(JSON.stringify({ phase: 'measuring' }));
const tickMs = 10;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - t0;
    if (elapsed >= SECONDS * 1000) {
      clearInterval(timer);
      resolve();
      return;
    }
    const due = Math.floor((elapsed / 1000) * RATE) - offered;
    const now = Math.round(performance.timeOrigin + performance.now());
    for (let k = 0; k < due; k++) {
      const p = pubs[(offered + k) % pubs.length]!;
      // Skip a publisher whose socket is backed up: offered load the broker cannot take is not queued here.
      if (p.busy()) {
        skipped++;
        continue;
      }
      p.send(body(now, seq++));
      ready.add(p);
    }
    for (const p of ready) p.flush();
    ready.clear();
    offered += due;
  }, tickMs);
});
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ phase: 'sent' }));
// In-flight deliveries and acknowledgements (longer with no subscriber: acks are what is counted).
await new Promise((r) => setTimeout(r, sub ? 1000 : 5000));
measuring = false;
if (!sub) delivered = acked;
const cpu = process.cpuUsage(cpu0);
const pct = (p: number) => percentile(latencies, p);
console.log(JSON.stringify({ publishers: N, qos: QOS, seconds: secs, offered: offered / secs, sent: seq / secs, sentTotal: seq, ackedTotal: acked, skipped, delivered: delivered / secs, p50Ms: pct(50), p99Ms: pct(99), generatorCpuPct: ((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100 }));
for (const p of pubs) p.close();
sub?.end();
process.exit(0);
