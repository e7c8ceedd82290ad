/**
 * `npm run bench:latency`: breach → work item created (announced on MQTT), p50/p99, while 1,000
 * other devices send 10,000 msg/s of background telemetry. The platform runs as `npm start`; the
 * background load (bench/loadgen.ts), the probe devices and the watching service account each in
 * their own process or connection. Target (issue 6): p99 under 100 ms.
 *
 * Options: --rate R (background msg/s, 10000), --samples N (200).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startPlatformProcess, withNofile } from '../test/helpers/process.ts';
import { workItemProbe } from './probe.ts';
import { percentile, printTable, writeReport } from './report.ts';
import { benchSite, BENCH_ADMIN_TOKEN } from './site.ts';
import { health } from './platform-api.ts';
import type { Health } from '../api/routes/health.ts';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '10000' }, samples: { type: 'string', default: '200' } } });
const RATE = Number(values.rate);
const SAMPLES = Number(values.samples);
const PUBLISHERS = 1000;

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-latency-'));
const p = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: benchSite(dir, PUBLISHERS + SAMPLES), PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, [], 'main.ts', 10_000);
const httpUrl = `http://127.0.0.1:${p.ports.http}`;
const url = `mqtt://127.0.0.1:${p.ports.mqtt}`;
const credentials = path.join(dir, 'device-credentials.json');
const creds = (JSON.parse(readFileSync(credentials, 'utf8')).devices as { id: string; secret: string }[]);
const [cmd, argv] = withNofile(10_000, process.execPath, ['--import', 'tsx', 'bench/loadgen.ts', '--url', url, '--publishers', String(PUBLISHERS), '--qos', '0', '--rate', String(RATE), '--seconds', '600', '--credentials', credentials, '--subscriber', 'none', '--client', 'wire']);
const gen = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
const lat: number[] = [];
let missed = 0;
let load = 0;
let loop: Health['eventLoop'] | undefined;
let announce: Health['rules'] | undefined;
try {
  // The generator takes the first 1,000 detectors of the sheet; the probes the rest.
  const probe = await workItemProbe({ url, httpUrl, adminToken: BENCH_ADMIN_TOKEN, devices: creds.slice(PUBLISHERS) });
  await new Promise<void>((resolve) => gen.stdout!.on('data', (d: Buffer) => d.toString().includes('"measuring"') && resolve()));
  await new Promise((r) => setTimeout(r, 3000)); // reach the rate
  const h0 = await health(p);
  const t0 = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const ms = await probe.sample();
    if (ms === null) missed++;
    else lat.push(ms);
    await new Promise((r) => setTimeout(r, 20));
  }
  const h1 = await health(p);
  load = (h1.ingest.received - h0.ingest.received) / ((performance.now() - t0) / 1000);
  loop = h1.eventLoop;
  announce = h1.rules;
  await probe.close();
} finally {
  gen.kill('SIGTERM');
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}
const p50 = percentile(lat, 50);
const p99 = percentile(lat, 99);
printTable(`latency: breach → work item created, ${SAMPLES} samples under ${RATE.toLocaleString()} msg/s background`, [
  ['background load measured', `${Math.round(load).toLocaleString()} msg/s`],
  ['breach → work item p50 / p99', `${p50.toFixed(1)} / ${p99.toFixed(1)} ms (${missed} missed)`],
  ['  of which alarm raised → written and announced p50 / p99', `${announce?.announceP50Ms} / ${announce?.announceP99Ms} ms`],
  ['platform event-loop delay p50 / p99 / max', `${loop?.delayP50Ms} / ${loop?.delayP99Ms} / ${loop?.delayMaxMs} ms`],
  ['target p99', '100 ms'],
  ['ratio p99 to target', `${(p99 / 100).toFixed(2)}× (below 1 meets it)`],
]);
writeReport('latency', `Alarm latency: breach → work item created, under ${RATE.toLocaleString()} msg/s background`, { rate: RATE, samples: SAMPLES, load, p50, p99, missed, eventLoop: loop },
  ['| background msg/s (measured) | samples | p50 ms | p99 ms | missed | p99 / 100 ms target | event-loop delay p99 ms |', '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${Math.round(load)} | ${lat.length} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${missed} | ${(p99 / 100).toFixed(2)}× | ${loop?.delayP99Ms} |`].join('\n'));
process.exit(0);
