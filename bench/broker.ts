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
 * Closed loop by default (bench/loadgen.ts `--window`): at most 1,000 messages in flight, ~83-byte
 * telemetry, as an independent generator measured the brokers. The generator's and the subscriber's
 * CPU stand beside every figure, and a run where either used more than 90 % of a core is not
 * reported: it measures the generator. That is what the earlier figures missed. On 2026-11-21 this
 * benchmark (open loop, offering 60,000 msg/s, ~141-byte payloads) reported Mosquitto at 24,438
 * msg/s at QoS 1 with 1,000 publishers while its generator used 101 % of a core (publishers and
 * subscriber together, not reported apart); on this machine on 2026-12-03 the same open-loop run
 * gave Mosquitto 52,690–58,981 msg/s with the publishers at 62–65 % and the subscriber at 25 %.
 * Mosquitto's `max_inflight_messages` (20 by default, QoS 1 messages to the subscriber before it
 * waits for PUBACKs) made no difference beyond the noise: 45,100–51,013 msg/s at 20, 44,397–52,444
 * at 1,000, closed loop.
 *
 * Options: --seconds S (default 10), --publishers 50,1000,10000, --window N (1000; 0: open loop at
 * --rate0 / --rate1 offered msg/s, the former way), --client wire|mqttjs, --body short|long.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startPlatformProcess } from '../test/helpers/process.ts';
import { alive, brokerRun, startMosquitto, type BrokerRun } from './broker-runs.ts';
import { printTable, writeReport } from './report.ts';
import { benchSite } from './site.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, publishers: { type: 'string', default: '50,1000,10000' }, window: { type: 'string', default: '1000' }, rate0: { type: 'string', default: '120000' }, rate1: { type: 'string', default: '60000' }, client: { type: 'string', default: 'wire' }, body: { type: 'string', default: 'short' } } });
const WINDOW = Number(values.window);
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
      const common = { seconds: SECONDS, publishers, qos, rate: Number(qos === 0 ? values.rate0 : values.rate1), nofile: NOFILE, window: WINDOW || undefined };
      const m = await startMosquitto(NOFILE);
      try {
        results.mosquitto.push(await brokerRun(m.proc.pid!, m.url, common, ['--client', values.client!, '--body', values.body!]));
      } finally {
        await m.stop();
      }
      const ours = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: site, BENCH_SUBSCRIBER: SUBSCRIBER }, [], 'bench/broker-server.ts', NOFILE);
      try {
        results.ours.push(await brokerRun(ours.proc.pid!, `mqtt://127.0.0.1:${ours.ports.mqtt}`, common, ['--client', values.client!, '--body', values.body!, '--credentials', path.join(dir, 'device-credentials.json'), '--subscriber', SUBSCRIBER]));
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
const md = ['| QoS | publishers | Mosquitto msg/s | ours msg/s | ratio | p50 / p99 ms (M · ours) | CPU µs/msg (M · ours) | generator · subscriber CPU % (M · ours) |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
for (const o of results.ours) {
  const mq = results.mosquitto.find((x) => x.qos === o.qos && x.publishers === o.publishers)!;
  const ratio = o.delivered / mq.delivered;
  const gen = `${f1(mq.generatorCpuPct)} · ${f1(mq.subscriberCpuPct)} — ${f1(o.generatorCpuPct)} · ${f1(o.subscriberCpuPct)}`;
  const why = [mq, o].map((r, i) => (r.collapsed ? `${i ? 'ours' : 'Mosquitto'}: ${r.collapsed}` : r.saturated ? `${i ? 'ours' : 'Mosquitto'} not reported: ${r.saturated}` : undefined)).filter(Boolean);
  if (why.length) {
    rows.push([`QoS ${o.qos}, ${o.publishers} publishers`, why.join('; ')]);
    md.push(`| ${o.qos} | ${o.publishers} | ${Math.round(mq.delivered)} | ${Math.round(o.delivered)} | ${why.join('; ')} | – | – | ${gen} |`);
    continue;
  }
  rows.push([`QoS ${o.qos}, ${o.publishers} publishers`, `Mosquitto ${Math.round(mq.delivered).toLocaleString()} · ours ${Math.round(o.delivered).toLocaleString()} msg/s → ${ratio.toFixed(2)}×; p99 ${f1(mq.p99Ms)} · ${f1(o.p99Ms)} ms; CPU ${f1(mq.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} µs/msg; generator · subscriber ${gen} %`]);
  md.push(`| ${o.qos} | ${o.publishers} | ${Math.round(mq.delivered)} | ${Math.round(o.delivered)} | ${ratio.toFixed(2)}× | ${f1(mq.p50Ms)}/${f1(mq.p99Ms)} · ${f1(o.p50Ms)}/${f1(o.p99Ms)} | ${f1(mq.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} | ${gen} |`);
}
const loop = WINDOW ? `closed loop (≤ ${WINDOW} in flight)` : `open loop (${values.rate0} / ${values.rate1} msg/s offered at QoS 0 / 1)`;
printTable(`broker: ours (auth, ACLs) vs Mosquitto, ${SECONDS} s per run, ${loop}, fresh server per run, same load generator`, rows);
writeReport('broker', `Broker alone: ours (authentication, ACLs; nothing behind it) vs Mosquitto, one wildcard subscriber, ${loop}, ${SECONDS} s per run`, { seconds: SECONDS, window: WINDOW, ...results }, `The whole platform's figures are in the section above (\`npm run bench:platform\`); this is the broker alone, beside them. A run where the generator or the subscriber used more than 90 % of a core is not reported.\n\n${md.join('\n')}`);
process.exit(0);
