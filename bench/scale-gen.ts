/**
 * The scale benchmark's device fleet, run as its own process: `--devices` MQTT connections, each a
 * few hundred bytes here (bare MQTT over a socket, bench/mqtt-wire.ts; a client library per device
 * would measure the generator, not the broker), spread over several
 * loopback source addresses because one runs out of ephemeral ports near 28,000. Once all are up,
 * every device sends a heartbeat (PINGREQ) every `--heartbeat` seconds, spread evenly, for `--hold`
 * seconds; the PINGRESP round trip is the heartbeat latency. Prints JSON lines: phases, then results.
 */
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { percentile } from '../core/reservoir.ts';
import { PINGREQ, wireConnect } from './mqtt-wire.ts';

const { values } = parseArgs({ options: { port: { type: 'string' }, credentials: { type: 'string' }, devices: { type: 'string', default: '50000' }, sources: { type: 'string', default: '127.0.0.2,127.0.0.3,127.0.0.4' }, concurrency: { type: 'string', default: '400' }, heartbeat: { type: 'string', default: '30' }, hold: { type: 'string', default: '30' } } });
const PORT = Number(values.port);
const N = Number(values.devices);
const SOURCES = values.sources!.split(',');
const creds = (JSON.parse(readFileSync(values.credentials!, 'utf8')).devices as { id: string; secret: string }[]).slice(0, N);
if (creds.length < N) throw new Error(`only ${creds.length} devices in the credentials, ${N} asked for`);

interface Device { sock: net.Socket; pingAt: number }
const devices: Device[] = [];
const pings: number[] = [];
let failed = 0;
const failures = new Map<string, number>();

async function connectOne(i: number): Promise<void> {
  const c = creds[i]!;
  const d: Device = { sock: undefined as unknown as net.Socket, pingAt: 0 };
  try {
    d.sock = await wireConnect({ port: PORT, host: '127.0.0.1', localAddress: SOURCES[i % SOURCES.length], clientId: c.id, username: c.id, password: c.secret }, {
      onPingresp: () => {
        if (d.pingAt) pings.push(performance.now() - d.pingAt);
        d.pingAt = 0;
      },
    });
    devices.push(d);
  } catch (err) {
    failed++;
    const why = (err as Error).message;
    failures.set(why, (failures.get(why) ?? 0) + 1);
  }
}

const t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: Number(values.concurrency) }, async () => {
  while (next < N) await connectOne(next++);
}));
const connectS = (performance.now() - t0) / 1000;
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
