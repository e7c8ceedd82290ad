/**
 * `npm run bench:scale`: connects 50,000 simulated devices (bench/scale-gen.ts, its own process,
 * sockets spread over 127.0.0.2–4) to the platform as `npm start` runs it, with heartbeats; reports
 * the connect rate, the platform's RSS per connection and in total, and the heartbeat round trip.
 * File-descriptor limits are raised for both processes inside the benchmark. Target (issue 6):
 * 50,000 connected devices under 2 GiB RSS.
 *
 * Options: --devices N (50000), --hold S (heartbeat window, 30).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startPlatformProcess, withNofile } from '../test/helpers/process.ts';
import { printTable, writeReport } from './report.ts';
import { benchSite } from './site.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '50000' }, hold: { type: 'string', default: '30' } } });
const N = Number(values.devices);
const NOFILE = N + 10_000;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-scale-'));
const p = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: benchSite(dir, N), PLATFORM_ADMIN_TOKEN: 'bench' }, [], 'main.ts', NOFILE);
const health = async () => (await (await fetch(`http://127.0.0.1:${p.ports.http}/api/v1/health`)).json()) as { broker: { clients: number; devicesOnline: number } };
let result: Record<string, number> & { failures?: Record<string, number> };
let idleMb = 0;
let connectedMb = 0;
let afterMb = 0;
let online = 0;
try {
  await new Promise((r) => setTimeout(r, 3000)); // settle after seeding
  idleMb = rssMb(p.proc.pid!);
  const [cmd, argv] = withNofile(NOFILE, process.execPath, ['--import', 'tsx', 'bench/scale-gen.ts', '--port', String(p.ports.mqtt), '--credentials', path.join(dir, 'device-credentials.json'), '--devices', String(N), '--hold', values.hold!]);
  const gen = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  gen.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (!connectedMb && out.includes('"connected"')) connectedMb = rssMb(p.proc.pid!);
  });
  const code = await new Promise((r) => gen.once('exit', r));
  if (code !== 0) throw new Error(`scale generator exited ${code}`);
  afterMb = rssMb(p.proc.pid!);
  result = JSON.parse(out.trim().split('\n').pop()!);
  online = (await health()).broker.devicesOnline;
} finally {
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}

const perConnKb = ((Math.max(connectedMb, afterMb) - idleMb) * 1024) / Math.max(1, result.connected!);
const peakMb = Math.max(connectedMb, afterMb);
const f = (v: number | undefined, d = 1) => (v === undefined ? '–' : v.toFixed(d));
printTable(`scale: ${N.toLocaleString()} devices, heartbeat every 30 s for ${values.hold} s`, [
  ['connected', `${result.connected!.toLocaleString()} of ${N.toLocaleString()} (${result.failed} failed${result.failed ? ': ' + JSON.stringify(result.failures) : ''}), ${online.toLocaleString()} online at the end`],
  ['connect rate', `${Math.round(result.connectPerS!).toLocaleString()} connections/s (${f(result.connectS)} s)`],
  ['platform RSS idle → connected → after heartbeats', `${Math.round(idleMb)} → ${Math.round(connectedMb)} → ${Math.round(afterMb)} MB`],
  ['RSS per connection', `${f(perConnKb)} KB`],
  ['heartbeat round trip p50 / p99', `${f(result.heartbeatP50Ms, 2)} / ${f(result.heartbeatP99Ms, 2)} ms (${result.heartbeats!.toLocaleString()} heartbeats)`],
  ['target', `under 2 GiB with 50,000 connected: ${(peakMb / 2048).toFixed(2)}× of 2 GiB`],
]);
writeReport('scale', `Scale: ${N.toLocaleString()} devices connected to the platform, heartbeats`, { devices: N, idleMb, connectedMb, afterMb, perConnKb, online, ...result },
  ['| devices connected | connect rate /s | RSS idle → connected MB | RSS per connection KB | peak RSS / 2 GiB | heartbeat p50 / p99 ms | generator RSS MB |', '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.connected} of ${N} | ${Math.round(result.connectPerS!)} | ${Math.round(idleMb)} → ${Math.round(peakMb)} | ${f(perConnKb)} | ${(peakMb / 2048).toFixed(2)}× | ${f(result.heartbeatP50Ms, 2)} / ${f(result.heartbeatP99Ms, 2)} | ${Math.round(result.generatorRssMb!)} |`].join('\n'));
process.exit(0);
