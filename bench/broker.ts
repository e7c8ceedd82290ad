/**
 * `npm run bench:broker`: our broker (PlatformBroker with device authentication, topic ACLs and the
 * packet guard: bench/broker-server.ts) side by side with stock Mosquitto (Debian package, own
 * config, free loopback port), driven by the same load-generator process (bench/loadgen.ts) with
 * the same ~141-byte payloads: delivered msg/s to one wildcard subscriber, publish → deliver
 * p50/p99, and the server's CPU µs per delivered message, at QoS 0 and 1 with 50, 1,000 and 10,000
 * publishers. Every run gets a freshly started server, so no run inherits another's backlog. Each
 * figure also as the ratio ours/Mosquitto. Writes bench/results/broker.{json,md}.
 *
 * The generator's devices and subscriber speak bare MQTT (bench/mqtt-wire.ts) by default: with one
 * mqtt.js client per device the generator saturated first (Mosquitto reached 33k msg/s at QoS 0
 * with 1,000 publishers instead of 100–120k), which measured the generator, not the brokers. The
 * subscriber runs in a process of its own (see brokerRun).
 *
 * Options: --seconds S (default 10), --publishers 50,1000,10000, --rate0 R, --rate1 R (offered msg/s),
 * --client wire|mqttjs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPlatformProcess } from '../test/helpers/process.ts';
import { alive, brokerRun, startMosquitto, type BrokerRun } from './broker-runs.ts';
import { printTable, writeReport } from './report.ts';
import { benchSite } from './site.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, publishers: { type: 'string', default: '50,1000,10000' }, rate0: { type: 'string', default: '120000' }, rate1: { type: 'string', default: '60000' }, client: { type: 'string', default: 'wire' } } });
const SECONDS = Number(values.seconds);
const PUBLISHERS = values.publishers!.split(',').map(Number);
const NOFILE = Math.max(...PUBLISHERS) * 2 + 1000;
const SUBSCRIBER = 'svc-bench:bench-subscriber-secret';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-broker-'));
const site = benchSite(dir, Math.max(...PUBLISHERS));
const results: { mosquitto: BrokerRun[]; ours: BrokerRun[] } = { mosquitto: [], ours: [] };
try {
  for (const qos of [0, 1] as const) {
    for (const publishers of PUBLISHERS) {
      const common = { seconds: SECONDS, publishers, qos, rate: Number(qos === 0 ? values.rate0 : values.rate1), nofile: NOFILE };
      const m = await startMosquitto(NOFILE);
      try {
        results.mosquitto.push(await brokerRun(m.proc.pid!, m.url, common, ['--client', values.client!]));
      } finally {
        await m.stop();
      }
      const ours = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: site, BENCH_SUBSCRIBER: SUBSCRIBER }, [], 'bench/broker-server.ts', NOFILE);
      try {
        results.ours.push(await brokerRun(ours.proc.pid!, `mqtt://127.0.0.1:${ours.ports.mqtt}`, common, ['--client', values.client!, '--credentials', path.join(dir, 'device-credentials.json'), '--subscriber', SUBSCRIBER]));
      } finally {
        if (alive(ours.proc.pid!)) await ours.stop();
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** A figure, or a dash where a run had none (nothing delivered, so no latency). */
const f1 = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '–');
const rows: [string, string][] = [];
const md = ['| QoS | publishers | Mosquitto msg/s | ours msg/s | ratio | p50 / p99 ms (M · ours) | CPU µs/msg (M · ours) | generator CPU % (M · ours) |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
for (const o of results.ours) {
  const mq = results.mosquitto.find((x) => x.qos === o.qos && x.publishers === o.publishers)!;
  const ratio = o.delivered / mq.delivered;
  const target = o.publishers === 1000 ? (o.qos === 1 ? ' (target ≥ 0.7×)' : ' (target ≥ 0.5×)') : '';
  if (o.collapsed || mq.collapsed) {
    rows.push([`QoS ${o.qos}, ${o.publishers} publishers`, `Mosquitto ${mq.collapsed ?? Math.round(mq.delivered)} · ours ${o.collapsed ?? Math.round(o.delivered)}`]);
    md.push(`| ${o.qos} | ${o.publishers} | ${mq.collapsed ?? Math.round(mq.delivered)} | ${o.collapsed ?? Math.round(o.delivered)} | – | – | – | – |`);
    continue;
  }
  rows.push([`QoS ${o.qos}, ${o.publishers} publishers`, `Mosquitto ${Math.round(mq.delivered).toLocaleString()} · ours ${Math.round(o.delivered).toLocaleString()} msg/s → ${ratio.toFixed(2)}×${target}; p99 ${f1(mq.p99Ms)} · ${f1(o.p99Ms)} ms; CPU ${f1(mq.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} µs/msg`]);
  md.push(`| ${o.qos} | ${o.publishers} | ${Math.round(mq.delivered)} | ${Math.round(o.delivered)} | ${ratio.toFixed(2)}×${target} | ${f1(mq.p50Ms)}/${f1(mq.p99Ms)} · ${f1(o.p50Ms)}/${f1(o.p99Ms)} | ${f1(mq.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} | ${f1(mq.generatorCpuPct)} · ${f1(o.generatorCpuPct)} |`);
}
printTable(`broker: ours (auth, ACLs) vs Mosquitto, ${SECONDS} s per run, fresh server per run, same load generator`, rows);
writeReport('broker', `Broker: ours (authentication, ACLs) vs Mosquitto, one wildcard subscriber, ${SECONDS} s per run`, { seconds: SECONDS, ...results }, md.join('\n'));
process.exit(0);
