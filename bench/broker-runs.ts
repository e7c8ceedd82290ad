import { spawn, type ChildProcess } from 'node:child_process';
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
  generatorCpuPct: number;
  serverCpuUsPerMsg: number;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the load generator against a server; the server's CPU is taken over the generator's
 * measured window only (not the connection storm before it). A server that falls over is a result.
 */
export async function brokerRun(pid: number, url: string, o: { seconds: number; publishers: number; qos: 0 | 1; rate: number; nofile: number }, extra: string[], onPhase?: (phase: string) => void): Promise<BrokerRun> {
  let c0 = NaN;
  let c1 = NaN;
  const args = ['--import', 'tsx', 'bench/loadgen.ts', '--url', url, '--publishers', String(o.publishers), '--qos', String(o.qos), '--rate', String(o.rate), '--seconds', String(o.seconds), ...extra];
  const [cmd, argv] = withNofile(o.nofile, process.execPath, args);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let last = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const line of lines) {
      const msg = JSON.parse(line) as { phase?: string };
      if (msg.phase) onPhase?.(msg.phase);
      if (msg.phase === 'measuring' && alive(pid)) c0 = cpuSeconds(pid);
      else if (msg.phase === 'sent' && alive(pid)) c1 = cpuSeconds(pid);
      else if (!msg.phase) last = line;
    }
  });
  const code = await new Promise((r) => child.once('exit', r));
  const failed = (why: string): BrokerRun => ({ collapsed: why, seconds: 0, publishers: o.publishers, qos: o.qos, offered: 0, sent: 0, delivered: 0, sentTotal: 0, ackedTotal: 0, skipped: 0, p50Ms: NaN, p99Ms: NaN, generatorCpuPct: NaN, serverCpuUsPerMsg: NaN });
  if (code !== 0) return failed(`load generator exited ${code}`);
  if (!alive(pid)) return failed('server exited during the run');
  const r = JSON.parse(last) as Omit<BrokerRun, 'serverCpuUsPerMsg'>;
  console.error(`  ${url} QoS ${o.qos}, ${o.publishers} publishers: ${Math.round(r.delivered)} msg/s delivered`);
  return { ...r, serverCpuUsPerMsg: ((c1 - c0) * 1e6) / Math.max(1, r.delivered * r.seconds) };
}

/** Stock Mosquitto from the Debian package, own config, free loopback port. */
export async function startMosquitto(nofile: number): Promise<{ proc: ChildProcess; url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sps-mosq-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 100000\nset_tcp_nodelay true\n`);
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
