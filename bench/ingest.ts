/**
 * `npm run bench:ingest`: sustained messages/s from MQTT through validation into the
 * InfluxDB-compatible sink (v2 write API, VictoriaMetrics here), beside the raw write rate of the
 * same client with pre-built points: the limit of this path. Target (issue 5): at least 20,000
 * points/s end to end on this 2-core machine, and at least half the raw limit.
 *
 * Options: --seconds S (default 15), --rate R (simulator's offered load, default 30000).
 * Needs /usr/bin/victoria-metrics (apt-get install victoria-metrics). Loopback only; stops by itself.
 */
import { BENCH_ADMIN_TOKEN } from './site.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { V2Writer } from '../ingest/influx/writers.ts';
import { startPlatformProcess } from '../test/helpers/process.ts';
import { startVictoriaMetrics } from '../test/helpers/services.ts';
import { printTable, writeReport } from './report.ts';
import { startSimulatorLoad } from './simulator-process.ts';
import { health } from './platform-api.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, rate: { type: 'string', default: '30000' } } });
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);

const vm = await startVictoriaMetrics();
try {
  // 1. The raw limit: the same client, pre-built points, batches of 5,000 one after another.
  const writer = new V2Writer({ url: vm.url, token: 'bench', org: 'bench', bucket: 'raw' });
  const batch = (n: number, t0: number) =>
    Array.from({ length: 5000 }, (_, i) => `smoke_detector,deviceId=b${(i % 200).toString().padStart(3, '0')},building=b01,grid=g1,community=c1 smokeDbPerM=0.012,temperatureC=21.5,batteryPct=88.0,alarm=false,tamper=false ${t0 + n * 5000 + i}`);
  let raw = 0;
  const rawStart = performance.now();
  for (let n = 0; performance.now() - rawStart < 5000; n++) {
    await writer.write(batch(n, Date.now()));
    raw += 5000;
  }
  const rawRate = raw / ((performance.now() - rawStart) / 1000);
  await writer.close();

  // 2. End to end: devices → MQTT → validation → the Influx sink, the platform as `npm start`.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-ingest-'));
  const platform = await startPlatformProcess({ DATA_DIR: dir, PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, INFLUX_URL: vm.url, INFLUX_TOKEN: 'bench', INFLUX_ORG: 'bench', INFLUX_BUCKET: 'e2e', READINGS_EMBEDDED: 'false' });
  const sim = startSimulatorLoad({ url: `mqtt://127.0.0.1:${platform.ports.mqtt}`, credentials: path.join(dir, 'device-credentials.json'), rate: RATE, durationS: SECONDS + 5 });
  await new Promise((r) => setTimeout(r, 4000)); // connect and ramp up
  const h0 = await health(platform);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const h1 = await health(platform);
  const secs = (performance.now() - t0) / 1000;
  await sim.stop();
  await platform.stop();
  rmSync(dir, { recursive: true, force: true });
  const received = (h1.ingest.received - h0.ingest.received) / secs;
  const stored = (h1.ingest.stored - h0.ingest.stored) / secs;

  printTable(`ingest into the InfluxDB v2 write API (VictoriaMetrics), ${SECONDS} s, offered ${RATE.toLocaleString()} msg/s`, [
    ['raw writer, pre-built points', `${Math.round(rawRate).toLocaleString()} points/s`],
    ['end to end: received', `${Math.round(received).toLocaleString()} msg/s`],
    ['end to end: written to InfluxDB', `${Math.round(stored).toLocaleString()} points/s`],
    ['target', '20,000 points/s and ≥ 0.5 of raw'],
    ['ratio to 20,000', `${(stored / 20_000).toFixed(2)}×`],
    ['ratio to raw', `${(stored / rawRate).toFixed(2)}×`],
  ]);
  writeReport('ingest', `Ingest into the InfluxDB v2 write API (VictoriaMetrics), ${SECONDS} s, simulator offering ${RATE.toLocaleString()} msg/s`, { seconds: SECONDS, rate: RATE, rawRate, received, stored },
    ['| raw writer points/s | end to end received msg/s | written points/s | ratio to 20,000 | ratio to raw (target ≥ 0.5) |', '| --- | --- | --- | --- | --- |',
      `| ${Math.round(rawRate)} | ${Math.round(received)} | ${Math.round(stored)} | ${(stored / 20_000).toFixed(2)}× | ${(stored / rawRate).toFixed(2)}× |`].join('\n'));
} finally {
  await vm.dispose();
}
process.exit(0);
