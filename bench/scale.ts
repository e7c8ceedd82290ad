/**
 * `npm run bench:scale`: connects 50,000 simulated devices (bench/scale-gen.ts, its own process,
 * sockets spread over 127.0.0.2–4) to the platform as `npm start` runs it, with heartbeats; reports
 * the connect rate, the platform's RSS per connection and in total, and the heartbeat round trip.
 * File-descriptor limits are raised for both processes inside the benchmark, as far as the hard
 * limit allows (raising that needs CAP_SYS_RESOURCE; where it cannot be, fewer devices connect and
 * the report says so and extrapolates the RSS). Target (issue 6): 50,000 connected devices under
 * 2 GiB RSS.
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
import { rssMb } from './threads.ts';
import { benchSite, BENCH_ADMIN_TOKEN } from './site.ts';
import { health } from './platform-api.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '50000' }, hold: { type: 'string', default: '30' } } });
/** Open files this process may have at most: a raised soft limit cannot pass it, and raising it needs CAP_SYS_RESOURCE. */
const hardNofile = (): number => {
  const m = /Max open files\s+\S+\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m?.[1] === 'unlimited' || !m ? Infinity : Number(m[1]);
};
const ASKED = Number(values.devices);
// One socket per device in the platform (plus the store's files and listeners) and in the generator.
const limit = hardNofile();
const N = Math.min(ASKED, limit - 1500);
if (N < ASKED) console.error(`\n!!! This machine's hard limit on open files is ${limit} and cannot be raised here (no CAP_SYS_RESOURCE): ${N.toLocaleString()} devices instead of ${ASKED.toLocaleString()}; the report gives the measured figures and the RSS extrapolated to ${ASKED.toLocaleString()} from the measured RSS per connection.\n`);
const NOFILE = Math.min(limit, N + 10_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-scale-'));
const p = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: benchSite(dir, ASKED), PLATFORM_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, MQTT_MAX_CONNECTIONS_PER_ADDRESS: String(ASKED) }, [], 'main.ts', NOFILE);
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
  let onlineAtConnect: Promise<number> | undefined;
  gen.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (!connectedMb && out.includes('"connected"')) {
      connectedMb = rssMb(p.proc.pid!);
      onlineAtConnect = health(p).then((h) => h.broker.devicesOnline);
    }
  });
  const code = await new Promise((r) => gen.once('exit', r));
  if (code !== 0) throw new Error(`scale generator exited ${code}`);
  afterMb = rssMb(p.proc.pid!);
  result = JSON.parse(out.trim().split('\n').pop()!);
  online = (await onlineAtConnect) ?? 0;
} finally {
  await p.stop();
  rmSync(dir, { recursive: true, force: true });
}

const perConnKb = ((Math.max(connectedMb, afterMb) - idleMb) * 1024) / Math.max(1, result.connected!);
const peakMb = Math.max(connectedMb, afterMb);
/** The RSS with every asked-for device connected: measured, or extrapolated when the fd limit kept some out. */
const atAskedMb = result.connected! >= ASKED ? peakMb : idleMb + (perConnKb * ASKED) / 1024;
const extrapolated = result.connected! < ASKED;
const f = (v: number | undefined, d = 1) => (v === undefined ? '–' : v.toFixed(d));
printTable(`scale: ${N.toLocaleString()} devices, heartbeat every 30 s for ${values.hold} s`, [
  ['connected', `${result.connected!.toLocaleString()} of ${N.toLocaleString()} (${result.failed} failed${result.failed ? ': ' + JSON.stringify(result.failures) : ''}), ${online.toLocaleString()} online per the platform`],
  ...(N < ASKED ? [['fd limit', `hard limit ${limit.toLocaleString()} open files per process, not raisable here: ${ASKED.toLocaleString()} asked, ${N.toLocaleString()} run`] as [string, string]] : []),
  ['connect rate', `${Math.round(result.connectPerS!).toLocaleString()} connections/s (${f(result.connectS)} s)`],
  ['platform RSS idle → connected → after heartbeats', `${Math.round(idleMb)} → ${Math.round(connectedMb)} → ${Math.round(afterMb)} MB`],
  ['RSS per connection', `${f(perConnKb)} KB`],
  ['heartbeat round trip p50 / p99', `${f(result.heartbeatP50Ms, 2)} / ${f(result.heartbeatP99Ms, 2)} ms (${result.heartbeats!.toLocaleString()} heartbeats)`],
  ['target', `under 2 GiB with ${ASKED.toLocaleString()} connected: ${Math.round(atAskedMb)} MB${extrapolated ? ' (extrapolated)' : ''} = ${(atAskedMb / 2048).toFixed(2)}× of 2 GiB`],
]);
writeReport('scale', `Scale: devices connected to the platform, heartbeats every 30 s`, { asked: ASKED, devices: N, fdLimit: limit, idleMb, connectedMb, afterMb, perConnKb, atAskedMb, extrapolated, online, ...result },
  [...(N < ASKED ? [`This machine's hard limit of ${limit.toLocaleString()} open files per process cannot be raised here (no CAP_SYS_RESOURCE), so ${N.toLocaleString()} devices were connected, not ${ASKED.toLocaleString()}; the RSS for ${ASKED.toLocaleString()} is extrapolated from the measured RSS per connection.`, ''] : []),
    '| devices connected | connect rate /s | RSS idle → connected MB | RSS per connection KB | RSS with ' + ASKED.toLocaleString() + ' / 2 GiB | heartbeat p50 / p99 ms | generator RSS MB |', '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.connected} of ${N} | ${Math.round(result.connectPerS!)} | ${Math.round(idleMb)} → ${Math.round(peakMb)} | ${f(perConnKb)} | ${Math.round(atAskedMb)} MB${extrapolated ? ' (extrapolated)' : ''}: ${(atAskedMb / 2048).toFixed(2)}× | ${f(result.heartbeatP50Ms, 2)} / ${f(result.heartbeatP99Ms, 2)} | ${Math.round(result.generatorRssMb!)} |`].join('\n'));
process.exit(0);
