/**
 * `npm run bench:broker`: our platform (broker with authentication and ACLs, plus ingest, storage and
 * rules behind it) side by side with stock Mosquitto (Debian package, own config, free loopback
 * port), driven by the same load-generator process (bench/loadgen.ts) with the same ~141-byte
 * payloads: delivered msg/s to one wildcard subscriber, publish → deliver p50/p99, and the server's
 * CPU µs per delivered message, at QoS 0 and 1 with 50 and 1,000 publishers. Each figure also as the
 * ratio ours/Mosquitto. Writes bench/results/broker.{json,md}.
 *
 * Options: --seconds S (default 10), --publishers 50,1000, --rate0 R, --rate1 R (offered msg/s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startPlatformProcess } from '../test/helpers/process.ts';
import { freePort } from '../test/helpers/services.ts';
import { printTable } from './report.ts';
import { benchSite } from './site.ts';
import { cpuSeconds } from './threads.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, publishers: { type: 'string', default: '50,1000' }, rate0: { type: 'string', default: '120000' }, rate1: { type: 'string', default: '60000' } } });
const SECONDS = Number(values.seconds);
const PUBLISHERS = values.publishers!.split(',').map(Number);
const MAX_PUB = Math.max(...PUBLISHERS);

interface Run { collapsed?: string; seconds: number; publishers: number; qos: number; offered: number; delivered: number; p50Ms: number; p99Ms: number; generatorCpuPct: number; serverCpuUsPerMsg: number }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the load generator; `onPhase` hears when its measured window opens and closes, so the
 * server's CPU is taken over the same window (not over the connection storm before it).
 */
async function loadgen(args: string[], onPhase: (phase: string) => void): Promise<Omit<Run, 'serverCpuUsPerMsg'>> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/loadgen.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let last = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const line of lines) {
      const msg = JSON.parse(line) as { phase?: string };
      if (msg.phase) onPhase(msg.phase);
      else last = line;
    }
  });
  const code = await new Promise((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`load generator exited ${code}`);
  return JSON.parse(last || out);
}

async function measure(pid: number, url: string, extra: string[]): Promise<Run[]> {
  const runs: Run[] = [];
  for (const qos of [0, 1]) {
    for (const publishers of PUBLISHERS) {
      if (!alive(pid)) {
        runs.push({ collapsed: 'server gone after an earlier run', seconds: 0, publishers, qos, offered: 0, delivered: 0, p50Ms: NaN, p99Ms: NaN, generatorCpuPct: NaN, serverCpuUsPerMsg: NaN });
        continue;
      }
      let c0 = NaN;
      let c1 = NaN;
      let r: Omit<Run, 'serverCpuUsPerMsg'>;
      try {
        r = await loadgen(['--url', url, '--publishers', String(publishers), '--qos', String(qos), '--rate', qos === 0 ? values.rate0! : values.rate1!, '--seconds', String(SECONDS), ...extra], (phase) => {
          if (!alive(pid)) return;
          if (phase === 'measuring') c0 = cpuSeconds(pid);
          else if (phase === 'sent') c1 = cpuSeconds(pid);
        });
      } catch (err) {
        // A server that falls over under the offered load is a result, not a benchmark error.
        runs.push({ collapsed: (err as Error).message, seconds: 0, publishers, qos, offered: 0, delivered: 0, p50Ms: NaN, p99Ms: NaN, generatorCpuPct: NaN, serverCpuUsPerMsg: NaN });
        continue;
      }
      if (!alive(pid)) r = { ...r, collapsed: 'server exited during the run' } as typeof r;
      const cpu = c1 - c0;
      runs.push({ ...r, serverCpuUsPerMsg: (cpu * 1e6) / Math.max(1, r.delivered * r.seconds) } as Run);
      console.error(`  ${url} QoS ${qos}, ${publishers} publishers: ${Math.round(r.delivered)} msg/s delivered`);
    }
  }
  return runs;
}

async function mosquitto(): Promise<{ proc: ChildProcess; url: string; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-mosq-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\nset_tcp_nodelay true\n`);
  const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode})`);
    const up = await new Promise<boolean>((r) => {
      const sock = net.connect(port, '127.0.0.1', () => (sock.end(), r(true)));
      sock.once('error', () => r(false));
    });
    if (up) break;
    if (i > 100) throw new Error('mosquitto did not listen');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url: `mqtt://127.0.0.1:${port}`, dir };
}

const results: { mosquitto: Run[]; ours: Run[] } = { mosquitto: [], ours: [] };
const m = await mosquitto();
try {
  results.mosquitto = await measure(m.proc.pid!, m.url, []);
} finally {
  m.proc.kill('SIGTERM');
  rmSync(m.dir, { recursive: true, force: true });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-bench-broker-'));
const platform = await startPlatformProcess({ DATA_DIR: dir, SITE_FILE: benchSite(dir, MAX_PUB), PLATFORM_ADMIN_TOKEN: 'bench' });
try {
  const res = await fetch(`http://127.0.0.1:${platform.ports.http}/api/v1/service-accounts`, { method: 'POST', headers: { authorization: 'Bearer bench', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench subscriber', subscribe: ['v1/#'] }) });
  const sub = (await res.json()) as { username: string; secret: string };
  results.ours = await measure(platform.proc.pid!, `mqtt://127.0.0.1:${platform.ports.mqtt}`, ['--credentials', path.join(dir, 'device-credentials.json'), '--subscriber', `${sub.username}:${sub.secret}`]);
} finally {
  if (alive(platform.proc.pid!)) await platform.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** A figure, or a dash where a run had none (nothing delivered, so no latency). */
const f1 = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '–');
const rows: [string, string][] = [];
const md = ['| QoS | publishers | Mosquitto msg/s | ours msg/s | ratio | p50 / p99 ms (M · ours) | CPU µs/msg (M · ours) | generator CPU % (M · ours) |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
for (const o of results.ours) {
  const mq = results.mosquitto.find((x) => x.qos === o.qos && x.publishers === o.publishers)!;
  const ratio = o.delivered / mq.delivered;
  if (o.collapsed) {
    rows.push([`QoS ${o.qos}, ${o.publishers} publishers`, `Mosquitto ${Math.round(mq.delivered).toLocaleString()} msg/s · ours COLLAPSED (${o.collapsed})`]);
    md.push(`| ${o.qos} | ${o.publishers} | ${Math.round(mq.delivered)} | collapsed: ${o.collapsed} | – | – | – | – |`);
    continue;
  }
  rows.push([`QoS ${o.qos}, ${o.publishers} publishers`, `Mosquitto ${Math.round(mq.delivered).toLocaleString()} · ours ${Math.round(o.delivered).toLocaleString()} msg/s → ${ratio.toFixed(2)}×; p99 ${f1(mq.p99Ms)} · ${f1(o.p99Ms)} ms; CPU ${f1(mq.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} µs/msg`]);
  md.push(`| ${o.qos} | ${o.publishers} | ${Math.round(mq.delivered)} | ${Math.round(o.delivered)} | ${ratio.toFixed(2)}× | ${f1(mq.p50Ms)}/${f1(mq.p99Ms)} · ${f1(o.p50Ms)}/${f1(o.p99Ms)} | ${f1(mq.serverCpuUsPerMsg)} · ${f1(o.serverCpuUsPerMsg)} | ${f1(mq.generatorCpuPct)} · ${f1(o.generatorCpuPct)} |`);
}
printTable(`broker: ours (auth, ACLs, ingest, storage, rules) vs Mosquitto ${SECONDS} s per run, same load generator`, rows);
const outDir = path.join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
writeFileSync(path.join(outDir, 'broker.json'), JSON.stringify({ at: new Date().toISOString(), machine, seconds: SECONDS, ...results }, null, 2) + '\n');
writeFileSync(path.join(outDir, 'broker.md'), `Broker benchmark, ${new Date().toISOString().slice(0, 10)}, ${machine}. Reproduce: \`npm run bench:broker\`.\n\n${md.join('\n')}\n`);
process.exit(0);
