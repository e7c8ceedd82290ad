/**
 * The scale benchmark's device fleet, run as its own process: `--devices` MQTT connections, each a
 * few hundred bytes here (hand-written MQTT 3.1.1 CONNECT and PINGREQ over a bare socket; a full
 * client library per device would measure the generator, not the broker), spread over several
 * loopback source addresses because one runs out of ephemeral ports near 28,000. Once all are up,
 * every device sends a heartbeat (PINGREQ) every `--heartbeat` seconds, spread evenly, for `--hold`
 * seconds; the PINGRESP round trip is the heartbeat latency. Prints JSON lines: phases, then results.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { percentile } from '../core/reservoir.ts';

const { values } = parseArgs({ options: { port: { type: 'string' }, credentials: { type: 'string' }, devices: { type: 'string', default: '50000' }, sources: { type: 'string', default: '127.0.0.2,127.0.0.3,127.0.0.4' }, concurrency: { type: 'string', default: '400' }, heartbeat: { type: 'string', default: '30' }, hold: { type: 'string', default: '30' } } });
const PORT = Number(values.port);
const N = Number(values.devices);
const SOURCES = values.sources!.split(',');
const creds = (JSON.parse(readFileSync(values.credentials!, 'utf8')).devices as { id: string; secret: string }[]).slice(0, N);
if (creds.length < N) throw new Error(`only ${creds.length} devices in the credentials, ${N} asked for`);

const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
const varint = (n: number) => {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
};
/** CONNECT, MQTT 3.1.1, clean session, username and password, keepalive 120 s. */
function connectPacket(id: string, secret: string): Buffer {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 120]), str(id), str(id), str(secret)]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}
const PINGREQ = Buffer.from([0xc0, 0]);

interface Device { sock: net.Socket; pingAt: number }
const devices: Device[] = [];
const pings: number[] = [];
let failed = 0;
const failures = new Map<string, number>();

function connectOne(i: number): Promise<void> {
  const c = creds[i]!;
  return new Promise((resolve) => {
    const sock = net.connect({ port: PORT, host: '127.0.0.1', localAddress: SOURCES[i % SOURCES.length] });
    sock.setNoDelay(true);
    const d: Device = { sock, pingAt: 0 };
    let connected = false;
    const fail = (why: string) => {
      if (connected) return;
      connected = true;
      failed++;
      failures.set(why, (failures.get(why) ?? 0) + 1);
      sock.destroy();
      resolve();
    };
    sock.once('connect', () => sock.write(connectPacket(c.id, c.secret)));
    sock.on('data', (buf: Buffer) => {
      // The broker sends these devices only CONNACK (4 bytes) and PINGRESP (2 bytes).
      for (let o = 0; o < buf.length; ) {
        if (buf[o] === 0x20) {
          if (buf[o + 3] !== 0) return fail(`CONNACK ${buf[o + 3]}`);
          connected = true;
          devices.push(d);
          resolve();
          o += 4;
        } else if (buf[o] === 0xd0) {
          if (d.pingAt) pings.push(performance.now() - d.pingAt);
          d.pingAt = 0;
          o += 2;
        } else o = buf.length;
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    sock.on('close', () => fail('closed'));
    sock.setTimeout(60_000, () => fail('timeout'));
  });
}

const t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: Number(values.concurrency) }, async () => {
  while (next < N) await connectOne(next++);
}));
const connectS = (performance.now() - t0) / 1000;
for (const d of devices) d.sock.setTimeout(0);
console.log(JSON.stringify({ phase: 'connected', connected: devices.length }));

// Heartbeats: every device once per interval, spread evenly over it, for the hold time.
const interval = Number(values.heartbeat) * 1000;
const hold = Number(values.hold) * 1000;
const h0 = performance.now();
let k = 0;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - h0;
    if (elapsed >= hold) {
      clearInterval(timer);
      resolve();
      return;
    }
    const due = Math.floor((elapsed / interval) * devices.length);
    for (; k < due; k++) {
      const d = devices[k % devices.length]!;
      if (d.sock.destroyed) continue;
      d.pingAt = performance.now();
      d.sock.write(PINGREQ);
    }
  }, 10);
});
await new Promise((r) => setTimeout(r, 1000));
const alive = devices.filter((d) => !d.sock.destroyed).length;
console.log(JSON.stringify({
  devices: N, connected: devices.length, failed, failures: Object.fromEntries(failures), stillConnected: alive, connectS, connectPerS: devices.length / connectS,
  heartbeats: pings.length, heartbeatP50Ms: percentile(pings, 50), heartbeatP99Ms: percentile(pings, 99), generatorRssMb: process.memoryUsage().rss / 2 ** 20,
}));
for (const d of devices) d.sock.destroy();
process.exit(0);
