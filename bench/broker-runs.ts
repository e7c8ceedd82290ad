import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, withNofile } from '../test/helpers/process.ts';
import { freePort } from '../test/helpers/services.ts';
import { cpuSeconds } from './threads.ts';

/** One load-generator run against one server, as bench/loadgen.ts reports it, plus the server's CPU. */
export interface BrokerRun {
  collapsed?: string;
  seconds: number;
  publishers: number;
  qos: number;
  offered: number;
  sent: number;
  delivered: number;
  sentTotal: number;
  ackedTotal: number;
  skipped: number;
  p50Ms: number;
  p99Ms: number;
  /** The publishers' process, and the subscriber's (its own process), % of one core. */
  generatorCpuPct: number;
  subscriberCpuPct: number;
  serverCpuUsPerMsg: number;
  /** Closed loop: the most messages in flight, and those written off as lost. */
  window?: number;
  lost?: number;
  /** Why the figure measures the load generator rather than the server (a process above 90 % of a core). */
  saturated?: string;
}

/** Above this share of a core, a generator process is the bottleneck: its run is not reported. */
export const GENERATOR_CPU_LIMIT_PCT = 90;

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Calls `onLine` with each JSON line a child process prints. */
function jsonLines(child: ChildProcess, onLine: (msg: Record<string, unknown>, line: string) => void): void {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const line of lines) onLine(JSON.parse(line) as Record<string, unknown>, line);
  });
}

type SubscriberResult = { delivered: number; p50Ms: number; p99Ms: number; cpuPct: number };

/**
 * The wildcard subscriber in a load-generator process of its own (`--role subscriber`), counting
 * while the publishers' window is open: sharing a process with thousands of publishers, its reads
 * fell behind whatever the broker sent, and a fast broker's deliveries were shed on its account.
 */
async function startSubscriber(url: string, qos: 0 | 1, client: string, account: string | undefined, feedback: string | undefined) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/loadgen.ts', '--role', 'subscriber', '--url', url, '--qos', String(qos), '--client', client, ...(account ? ['--subscriber', account] : []), ...(feedback ? ['--feedback', feedback] : [])], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let subscribed!: () => void;
  let result!: (r: SubscriberResult | undefined) => void;
  const isSubscribed = new Promise<void>((r) => (subscribed = r));
  const done = new Promise<SubscriberResult | undefined>((r) => (result = r));
  jsonLines(proc, (msg) => (msg.phase === 'subscribed' ? subscribed() : result(msg as SubscriberResult)));
  proc.once('exit', () => (subscribed(), result(undefined)));
  await isSubscribed;
  return { start: () => proc.stdin!.write('start\n'), stop: () => proc.stdin!.write('stop\n'), done };
}

/**
 * Runs the load generator against a server; the server's CPU is taken over the generator's
 * measured window only (not the connection storm before it). A server that falls over is a result.
 * The subscriber (unless `--subscriber none`) runs in a process of its own; the generator CPU
 * and the subscriber's CPU are reported apart; a run where either is above GENERATOR_CPU_LIMIT_PCT
 * is marked `saturated`. With `window` the run is closed-loop (bench/loadgen.ts): the subscriber
 * tells the publishers through a FIFO how many it has received.
 */
export async function brokerRun(pid: number, url: string, o: { seconds: number; publishers: number; qos: 0 | 1; rate: number; nofile: number; window?: number }, extra: string[], onPhase?: (phase: string) => void): Promise<BrokerRun> {
  let c0 = NaN;
  let c1 = NaN;
  const option = (name: string) => (extra.includes(name) ? extra[extra.indexOf(name) + 1] : undefined);
  const account = option('--subscriber');
  const fifoDir = o.window ? mkdtempSync(path.join(os.tmpdir(), 'sps-loop-')) : undefined;
  const fifo = fifoDir ? path.join(fifoDir, 'delivered') : undefined;
  if (fifo) execFileSync('mkfifo', ['-m', '600', fifo]);
  if (fifo && account === 'none') throw new Error('a closed-loop run needs a subscriber');
  const sub = account === 'none' ? undefined : await startSubscriber(url, o.qos, option('--client') ?? 'mqttjs', account, fifo);
  const publisherArgs = extra.filter((_, i) => extra[i] !== '--subscriber' && extra[i - 1] !== '--subscriber');
  const args = ['--import', 'tsx', 'bench/loadgen.ts', '--url', url, '--publishers', String(o.publishers), '--qos', String(o.qos), '--rate', String(o.rate), '--seconds', String(o.seconds), ...publisherArgs, '--subscriber', 'none', ...(fifo ? ['--window', String(o.window), '--feedback', fifo] : [])];
  const [cmd, argv] = withNofile(o.nofile, process.execPath, args);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let last = '';
  jsonLines(child, (msg, line) => {
    const phase = msg.phase as string | undefined;
    if (phase) onPhase?.(phase);
    if (phase === 'measuring') {
      sub?.start();
      if (alive(pid)) c0 = cpuSeconds(pid);
    } else if (phase === 'sent') {
      sub?.stop();
      if (alive(pid)) c1 = cpuSeconds(pid);
    } else if (!phase) last = line;
  });
  const code = await new Promise((r) => child.once('exit', r));
  const subResult = await sub?.done;
  if (fifoDir) rmSync(fifoDir, { recursive: true, force: true });
  const failed = (why: string): BrokerRun => ({ collapsed: why, seconds: 0, publishers: o.publishers, qos: o.qos, offered: 0, sent: 0, delivered: 0, sentTotal: 0, ackedTotal: 0, skipped: 0, p50Ms: NaN, p99Ms: NaN, generatorCpuPct: NaN, subscriberCpuPct: NaN, serverCpuUsPerMsg: NaN });
  if (code !== 0) return failed(`load generator exited ${code}`);
  if (sub && !subResult) return failed('subscriber exited early');
  if (!alive(pid)) return failed('server exited during the run');
  const pub = JSON.parse(last) as Omit<BrokerRun, 'serverCpuUsPerMsg' | 'subscriberCpuPct'>;
  const r = subResult ? { ...pub, delivered: subResult.delivered, p50Ms: subResult.p50Ms, p99Ms: subResult.p99Ms, subscriberCpuPct: subResult.cpuPct } : { ...pub, subscriberCpuPct: 0 };
  const over = [['generator', r.generatorCpuPct], ['subscriber', r.subscriberCpuPct]].filter(([, pct]) => (pct as number) > GENERATOR_CPU_LIMIT_PCT);
  const saturated = over.length ? over.map(([who, pct]) => `${who} at ${Math.round(pct as number)} % of a core`).join(', ') : undefined;
  console.error(`  ${url} QoS ${o.qos}, ${o.publishers} publishers: ${Math.round(r.delivered)} msg/s delivered (generator ${Math.round(r.generatorCpuPct)} %, subscriber ${Math.round(r.subscriberCpuPct)} %)${saturated ? ` — not a measurement of the server: ${saturated}` : ''}`);
  return { ...r, saturated, serverCpuUsPerMsg: ((c1 - c0) * 1e6) / Math.max(1, r.delivered * r.seconds) };
}

/**
 * Stock Mosquitto from the Debian package, own config, free loopback port. `maxInflight` is its
 * `max_inflight_messages` (QoS 1 messages on their way to one client before it waits for PUBACKs;
 * Mosquitto's default 20, 0 for no limit).
 */
export async function startMosquitto(nofile: number, opts: { maxInflight?: number } = {}): Promise<{ proc: ChildProcess; url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-mosq-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\nset_tcp_nodelay true\n${opts.maxInflight !== undefined ? `max_inflight_messages ${opts.maxInflight}\n` : ''}`);
  const [cmd, argv] = withNofile(nofile, '/usr/sbin/mosquitto', ['-c', conf]);
  const proc = spawn(cmd, argv, { stdio: 'ignore' });
  const exited = new Promise((r) => proc.once('exit', r));
  const stop = async () => {
    proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode})`);
    const up = await new Promise<boolean>((r) => {
      const sock = net.connect(port, '127.0.0.1', () => (sock.end(), r(true)));
      sock.once('error', () => r(false));
    });
    if (up) break;
    if (i > 100) {
      await stop();
      throw new Error('mosquitto did not listen');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url: `mqtt://127.0.0.1:${port}`, stop };
}
