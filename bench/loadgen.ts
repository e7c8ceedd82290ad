/**
 * The load generator, run as its own process by the benchmarks so it never shares a thread with
 * the broker under test. Connects `--publishers` devices and one wildcard subscriber (`--client`:
 * mqtt.js, or bare MQTT over sockets, bench/mqtt-wire.ts; devices' credentials from `--credentials`,
 * or anonymous), offers
 * `--rate` msg/s in total for `--seconds`, and prints one JSON line: offered, sent, acknowledged,
 * delivered, latency p50/p99 (publish → deliver, same clock) and its own CPU.
 *
 * `--window N` makes it closed-loop instead: at most N messages in flight (sent, not yet delivered
 * to the subscriber), topped up as deliveries come in, `--rate` unused. The subscriber runs in its
 * own process (`--role subscriber`) and reports its running count through the FIFO `--feedback`,
 * once per read: the broker's pace sets the rate, and nothing piles up in socket buffers, which is
 * how a peer is measured at its own ceiling rather than at the generator's.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
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
    window: { type: 'string', default: '0', description: 'closed loop: at most this many messages in flight (needs --feedback and --client wire)' },
    feedback: { type: 'string', description: 'FIFO through which the subscriber process tells the publishers how many it has received' },
    body: { type: 'string', default: 'long', description: 'long: ~141-byte telemetry with five properties; short: ~83 bytes, two' },
  },
});
const N = Number(values.publishers);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const QOS = Number(values.qos) as 0 | 1;
const WINDOW = Number(values.window);
if (WINDOW > 0 && (!values.feedback || values.client !== 'wire')) throw new Error('--window needs --feedback and --client wire');
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
/** Everything received since subscribing, measured or not: what the closed loop counts. */
let received = 0;
let measuring = false;
const onDelivery = (payload: Buffer) => {
  received++;
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
    let onChunk: (() => void) | undefined;
    if (values.feedback && values.role === 'subscriber') {
      const fifo = createWriteStream(values.feedback).on('error', () => undefined);
      let told = 0;
      onChunk = () => {
        if (received === told) return;
        told = received;
        const b = Buffer.allocUnsafe(4);
        b.writeUInt32LE(received >>> 0);
        fifo.write(b);
      };
    }
    const sock = await wireSubscriber({ port: Number(target.port), host: target.hostname, ...account, filter: values.filter!, qos: QOS }, onDelivery, onChunk);
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

// A valid smoke-detector reading: ~141 bytes with five properties, or ~83 with two.
const body =
  values.body === 'short'
    ? (ts: number, seq: number) => `{"ts":${ts},"seq":${seq},"props":{"smokeDbPerM":0.012,"temperatureC":21.5}}`
    : (ts: number, seq: number) => `{"ts":${ts},"seq":${seq},"props":{"smokeDbPerM":0.012,"temperatureC":21.5,"batteryPct":88.5,"alarm":false,"tamper":false}}`;
let offered = 0;
let seq = 0;
/** Offered messages not sent because the publisher's socket was backed up: the broker slowing it. */
let skipped = 0;

const cpu0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
// Tells the benchmark the measured window starts now (connections are up), for the server's CPU.
console.log(JSON.stringify({ phase: 'measuring' }));
/** Closed loop: messages written off as lost (no delivery for a second while the window was full). */
let lost = 0;
if (WINDOW > 0) await closedLoop();
else await openLoop();

/** Offers `--rate` msg/s whatever the broker does, skipping publishers whose sockets are backed up. */
function openLoop(): Promise<void> {
  const tickMs = 10;
  return new Promise<void>((resolve) => {
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
}

/**
 * Keeps WINDOW messages in flight, one publisher after the other, topping up whenever the
 * subscriber reports deliveries. Deliveries that never come (a broker dropping QoS 0) would shrink
 * the window for good, so after a second without progress with the window full they are written
 * off as lost and reported.
 */
function closedLoop(): Promise<void> {
  // What the subscriber has received: only these publishes (nothing is sent before the window opens).
  let told = 0;
  let progressAt = performance.now();
  let cursor = 0;
  let rest: Buffer | undefined;
  const feedback = createReadStream(values.feedback!);
  return new Promise<void>((resolve) => {
    const topUp = () => {
      let room = WINDOW - (seq - told - lost);
      if (room <= 0) return;
      const now = Math.round(performance.timeOrigin + performance.now());
      for (let busy = 0; room > 0 && busy < pubs.length; ) {
        const p = pubs[cursor]!;
        cursor = (cursor + 1) % pubs.length;
        if (p.busy()) {
          busy++;
          skipped++;
          continue;
        }
        busy = 0;
        p.send(body(now, seq++));
        ready.add(p);
        room--;
      }
      for (const p of ready) p.flush();
      ready.clear();
    };
    feedback.on('data', (data: string | Buffer) => {
      const chunk = data as Buffer;
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      const whole = buf.length - (buf.length % 4);
      rest = whole < buf.length ? buf.subarray(whole) : undefined;
      if (whole === 0) return;
      const n = buf.readUInt32LE(whole - 4);
      if (n !== told) progressAt = performance.now();
      told = n;
      if (performance.now() - t0 < SECONDS * 1000) topUp();
    });
    const timer = setInterval(() => {
      const t = performance.now();
      if (t - t0 >= SECONDS * 1000) {
        clearInterval(timer);
        feedback.destroy();
        resolve();
        return;
      }
      const inFlight = seq - told - lost;
      if (inFlight >= WINDOW && t - progressAt > 1000) {
        lost += inFlight;
        progressAt = t;
      }
      topUp();
    }, 5);
  }).then(() => void (offered = seq));
}
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ phase: 'sent' }));
// In-flight deliveries and acknowledgements (longer with no subscriber: acks are what is counted).
await new Promise((r) => setTimeout(r, sub ? 1000 : 5000));
measuring = false;
if (!sub) delivered = acked;
const cpu = process.cpuUsage(cpu0);
const pct = (p: number) => percentile(latencies, p);
console.log(JSON.stringify({ publishers: N, qos: QOS, seconds: secs, offered: offered / secs, sent: seq / secs, sentTotal: seq, ackedTotal: acked, skipped, window: WINDOW || undefined, lost, delivered: delivered / secs, p50Ms: pct(50), p99Ms: pct(99), generatorCpuPct: ((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100 }));
for (const p of pubs) p.close();
sub?.end();
process.exit(0);
